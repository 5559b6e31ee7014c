"""API keys for the ``perfpulse keys`` commands, whether perfpulse runs or not.

When the store is free (nothing runs on this data dir, or the store is a ClickHouse server) the
command opens it and writes the keys table itself. When a running perfpulse owns the embedded store
(:class:`storage.StoreLocked`), the command asks that process's API, authorised by the control token
the API wrote into the data dir (:func:`api.auth.write_control_token`): reading that file proves the
caller is the data dir's owner, who may manage keys.

Both ways answer the API's shapes: a key as ``{"id", "name", "scope", "created", "revoked"}``.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import httpx

from api.auth import CONTROL_TOKEN_FILE
from perfpulse.settings import Settings
from storage import Store, StoreLocked, apply_migrations, open_store
from storage.keys import Scope, create_key, list_keys, revoke_key

__all__ = ["KeyAccess", "KeyAccessError", "key_access", "local_api_url", "local_verify"]

_TIMEOUT_S = 10.0


class KeyAccessError(RuntimeError):
    """The keys cannot be reached either way; the message says why."""


class KeyAccess(Protocol):
    def create(self, scope: Scope, name: str) -> tuple[dict[str, Any], str]:
        """The new key's record and the key itself."""
        ...

    def list(self) -> list[dict[str, Any]]: ...

    def revoke(self, key_id: str) -> dict[str, Any] | None:
        """The revoked key's record; None when no key has ``key_id``."""
        ...


class StoreKeys:
    """The keys table, straight."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, scope: Scope, name: str) -> tuple[dict[str, Any], str]:
        created = create_key(self.store, scope, name)
        return created.record.to_dict(), created.key

    def list(self) -> list[dict[str, Any]]:
        return [key.to_dict() for key in list_keys(self.store)]

    def revoke(self, key_id: str) -> dict[str, Any] | None:
        revoked = revoke_key(self.store, key_id)
        return None if revoked is None else revoked.to_dict()


def local_api_url(settings: Settings) -> str:
    """The URL this machine reaches its own API at: a wildcard listen address means loopback."""
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(settings.api_host, settings.api_host)
    if ":" in host:
        host = f"[{host}]"
    return f"{'https' if settings.tls_cert else 'http'}://{host}:{settings.api_port}"


def local_verify(settings: Settings) -> ssl.SSLContext | bool:
    """How a local client trusts the API's HTTPS: the configured certificate itself is the one trust
    anchor (pinned), so a self-signed one works and no name check is needed; True for plain HTTP."""
    if settings.tls_cert is None:
        return True
    context = ssl.create_default_context(cafile=str(settings.tls_cert))
    context.check_hostname = False  # the pin above already names the one certificate accepted
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN  # a leaf issued by a CA is its own anchor here
    return context


class ApiKeys:
    """The keys endpoints of the running API, with the control token."""

    def __init__(self, settings: Settings, token: str) -> None:
        self.url = f"{local_api_url(settings)}/api/v1/keys"
        self._client = httpx.Client(
            headers={"Authorization": f"Bearer {token}"}, verify=local_verify(settings), timeout=_TIMEOUT_S
        )

    def _call(self, method: str, url: str, **options: Any) -> httpx.Response:
        try:
            response = self._client.request(method, url, **options)
        except httpx.HTTPError as exc:
            raise KeyAccessError(
                f"cannot reach the running perfpulse at {self.url}: {exc} (it holds the store, so the keys are "
                "managed through its API)"
            ) from exc
        if response.status_code >= 400 and response.status_code != 404:
            raise KeyAccessError(f"cannot manage keys through {self.url}: {response.status_code} {_error(response)}")
        return response

    def create(self, scope: Scope, name: str) -> tuple[dict[str, Any], str]:
        body = self._call("POST", self.url, json={"scope": scope.value, "name": name}).json()
        key = body.pop("key")
        return body, str(key)

    def list(self) -> list[dict[str, Any]]:
        keys: list[dict[str, Any]] = self._call("GET", self.url).json()["keys"]
        return keys

    def revoke(self, key_id: str) -> dict[str, Any] | None:
        response = self._call("DELETE", f"{self.url}/{key_id}")
        return None if response.status_code == 404 else dict(response.json())

    def close(self) -> None:
        self._client.close()


def _error(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", response.text))
    except ValueError:
        return response.text[:200]


@contextmanager
def key_access(settings: Settings) -> Iterator[KeyAccess]:
    """The keys of ``settings``' store: the store itself when free, else the running API's endpoints.
    Raises :class:`KeyAccessError` or :class:`storage.StoreError`."""
    from perfpulse.stages import migration_params

    try:
        store = open_store(settings.store_url, pool_size=1)
    except StoreLocked:
        token_path = settings.data_dir.resolve() / CONTROL_TOKEN_FILE
        try:
            token = token_path.read_text().strip()
        except OSError as exc:
            raise KeyAccessError(
                f"cannot read the control token {token_path}: {exc.strerror}. A running perfpulse holds the "
                "store; run this command as the user that owns its data dir, once its API has started"
            ) from None
        api = ApiKeys(settings, token)
        try:
            yield api
        finally:
            api.close()
        return
    try:
        apply_migrations(store, migration_params(settings))  # a data dir perfpulse never ran on has no table yet
        yield StoreKeys(store)
    finally:
        store.close()
