"""``/api/v1/keys``: list, create and revoke API keys (an admin key or the local control token,
see :mod:`api.auth`).

A created key is answered once, in ``key``; perfpulse keeps only its hash. A change is seen by this
process at once and by other API processes within :data:`api.auth.KEYS_REFRESH_S` seconds.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.auth import Auth
from api.context import ApiContext, api_context
from api.errors import ApiError, error_responses
from storage import StoreError
from storage.keys import MAX_NAME_CHARS, ApiKey, Scope, check_name, create_key, list_keys, revoke_key

__all__ = ["CreatedKey", "KeyInfo", "KeyList", "NewKeyBody", "router"]

router = APIRouter(prefix="/api/v1/keys", tags=["keys"])

Context = Annotated[ApiContext, Depends(api_context)]

# 401 (no key), 403 (a key other than admin) and 429 are declared on every operation by api.auth.
_UNAVAILABLE = {503: "storage unavailable"}


class KeyInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="the key's public identifier")
    name: str
    scope: Scope
    created: int = Field(description="epoch ms")
    revoked: int | None = Field(description="epoch ms; null while the key works")


class KeyList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keys: list[KeyInfo]


class CreatedKey(KeyInfo):
    key: str = Field(description="the key itself: shown this once, stored nowhere")


class NewKeyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: Scope = Field(description="ingest: send data; read: read everything; admin: everything")
    name: str = Field("", max_length=MAX_NAME_CHARS, description="what the key is for")

    @field_validator("name")
    @classmethod
    def _printable(cls, value: str) -> str:
        return check_name(value)


async def _changed(request: Request) -> None:
    """This process sees a change at the next request, not after the cache's age."""
    auth: Auth = request.app.state.auth
    if auth.keys is not None:
        await auth.keys.refresh()


def _unavailable(exc: StoreError) -> ApiError:
    return ApiError(503, "cannot reach the API keys", [{"loc": "storage", "msg": str(exc)}])


@router.get("", summary="Every API key, revoked ones included", response_model=KeyList,
            responses=error_responses(_UNAVAILABLE))  # fmt: skip
async def get_keys(context: Context) -> dict[str, Any]:
    try:
        keys: list[ApiKey] = await asyncio.to_thread(list_keys, context.store)
    except StoreError as exc:
        raise _unavailable(exc) from None
    return {"keys": [key.to_dict() for key in keys]}


@router.post("", status_code=201, summary="Create an API key (the answer is the only copy of the key)",
             response_model=CreatedKey, responses=error_responses({400: "invalid body", **_UNAVAILABLE}))  # fmt: skip
async def post_key(body: NewKeyBody, context: Context, request: Request) -> dict[str, Any]:
    try:
        created = await asyncio.to_thread(create_key, context.store, body.scope, body.name)
        await _changed(request)
    except StoreError as exc:
        raise _unavailable(exc) from None
    return {**created.record.to_dict(), "key": created.key}


@router.delete("/{key_id}", summary="Revoke an API key", response_model=KeyInfo,
               responses=error_responses({404: "no key has this id", **_UNAVAILABLE}))  # fmt: skip
async def delete_key(key_id: str, context: Context, request: Request) -> dict[str, Any]:
    try:
        revoked = await asyncio.to_thread(revoke_key, context.store, key_id)
        await _changed(request)
    except StoreError as exc:
        raise _unavailable(exc) from None
    if revoked is None:
        raise ApiError(404, f"no API key {key_id!r}", [{"loc": "path.key_id", "msg": "unknown id"}])
    return revoked.to_dict()
