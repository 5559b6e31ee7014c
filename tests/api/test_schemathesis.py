"""The API against its own OpenAPI document, with schemathesis (real app: chDB store, Kafka, Redis).

Every operation is fed generated requests (valid and invalid ones) with a key of the narrowest scope
that may call it (admin, read or ingest: see ``CALLS``); each answer must not be a 5xx, and must
have a status code, content type, headers and body the document declares for that operation. Calls
a scope may not make are checked in tests/api/test_auth.py (403 with a reason), so they are not
generated here.

Bounded for ``make test``: a few valid and a few invalid requests per operation (schemathesis'
strategies under Hypothesis, derandomized; no shrinking, no example database, no deadline since the
first chDB queries are slow). Schemathesis 4.32 draws a few choices from ``random`` itself (Hypothesis
warns about it; the warning is silenced here), so a run's cases may differ slightly from the last.
Schemathesis' coverage phase is not run: it alone sends hundreds of boundary requests per operation.

Side effects stay inside the module's own data dir and topics. Left out, because generated input
could break the test itself rather than find a fault: revoking a key (``DELETE /api/v1/keys/{id}``
would, if it ever guessed an id, revoke the key in use; key ids are random, but the route is not
worth a flaky run). Rate budgets are off, so 429 is not mistaken for a finding.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, reject, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err

from api.auth import Access, access_of
from perfpulse.settings import Settings
from tests.api.apps import app_settings, keys_by_scope, new_topics, running_app

SCOPES = ("admin", "read", "ingest")
# Each operation is called with the narrowest key that may call it (the admin key for writes and
# keys, the read key for reads and the open routes, the ingest key for ingest), so every operation is
# generated once. That admin may also read and ingest is tests/api/test_auth.py's business.
CALLS = {
    "admin": {Access.WRITE, Access.KEYS},
    "read": {Access.OPEN, Access.READ},
    "ingest": {Access.INGEST},
}
READINESS = {"GET /readyz"}  # its 503 is an answer, not a fault
LEFT_OUT = {("DELETE", "/api/v1/keys/{key_id}")}  # see the module docstring
# Per operation and mode (valid, invalid input): ~1 minute for the whole file on 2 cores, most of
# it generating the large OTLP bodies.
# PERFPULSE_SCHEMATHESIS_EXAMPLES raises it for a deeper local run.
MAX_EXAMPLES = int(os.environ.get("PERFPULSE_SCHEMATHESIS_EXAMPLES", "8"))

pytestmark = pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.response_schema_conformance,
]


@pytest.fixture(scope="module")
def client(kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The whole app with rate limits off (0: unlimited), so every answer is the handler's."""
    data_dir = tmp_path_factory.mktemp("schemathesis") / "data"
    limits = {f"rate_{kind}_per_s": 0.0 for kind in ("ingest", "query", "write")}
    module_settings: Settings = app_settings(
        kafka_bootstrap, redis_url, data_dir, new_topics(kafka_bootstrap), **limits
    )
    with running_app(module_settings) as running:
        yield running


@pytest.fixture(scope="module")
def keys(client: TestClient) -> dict[str, str]:
    return keys_by_scope(client, "schemathesis")


@pytest.fixture(scope="module", params=SCOPES)
def scope(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


def operations(client: TestClient, keys: dict[str, str], scope: str) -> list[Any]:
    """The app's own document (as a client reads it): the operations ``scope`` may call."""
    document = client.get("/openapi.json", headers={"Authorization": f"Bearer {keys['admin']}"})
    assert document.status_code == 200, document.text
    found = []
    for result in schemathesis.openapi.from_dict(document.json()).get_all_operations():
        # An operation the document describes so badly that no request can be built is a finding too
        assert not isinstance(result, Err), result.err()
        operation = result.ok()
        method, path = operation.method.upper(), operation.path
        if (method, path) not in LEFT_OUT and access_of(method, path) in CALLS[scope]:
            found.append(operation)
    return found


def send(client: TestClient, kwargs: dict[str, Any]) -> httpx.Response:
    """Send schemathesis' request (``requests`` keyword arguments) through the app's TestClient, whose
    portal runs the app's lifespan (its Kafka producer and store live on that event loop)."""
    body: dict[str, Any] = {}
    if "json" in kwargs:
        body["content"] = json.dumps(kwargs["json"]).encode()
    elif isinstance(kwargs.get("data"), (bytes, str)):
        body["content"] = kwargs["data"]
    elif kwargs.get("data") is not None:
        body["data"] = kwargs["data"]
    if kwargs.get("files"):
        body["files"] = kwargs["files"]
    headers = dict(kwargs.get("headers") or {})
    if "json" in kwargs:
        headers.setdefault("Content-Type", "application/json")
    response: httpx.Response = client.request(
        kwargs["method"],
        kwargs["url"],
        params=kwargs.get("params"),
        headers=headers,
        cookies=kwargs.get("cookies") or None,
        **body,
    )
    return response


def test_every_answer_keeps_to_the_openapi_document(client: TestClient, keys: dict[str, str], scope: str) -> None:
    headers = {"Authorization": f"Bearer {keys[scope]}"}
    failures: list[str] = []
    cases = 0
    statuses: dict[int, int] = {}

    for operation in operations(client, keys, scope):
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(mode))
            @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))  # fmt: skip
            def check(case: schemathesis.Case[Any]) -> None:
                nonlocal cases
                cases += 1
                kwargs = case.as_transport_kwargs(base_url="http://localhost", headers=headers)
                try:
                    response = send(client, kwargs)
                except httpx.InvalidURL:
                    # httpx refuses to send a query past 64 KiB (a real server answers 414 before the app)
                    reject()
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                # /readyz answers 503 by contract while a dependency does not answer (the shared Kafka did
                # not, once, mid-run): its status and body are still checked against the document.
                checks = CHECKS[1:] if case.operation.label in READINESS else CHECKS
                case.validate_response(response, checks=checks, headers=headers)

            try:
                check()
            except Unsatisfiable:
                continue  # nothing to negate: the operation takes no input (GET /healthz)
            except (Exception, FailureGroup) as exc:  # one finding per operation and mode; the others still run
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    print(f"{scope}: {cases} cases, statuses {sorted(statuses.items())}, {len(failures)} failing")
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, {"error": "boom", "details": []}), (200, {"keys": "not a list"}), (418, {"error": "tea", "details": []})],
)
def test_the_checks_are_not_blind(client: TestClient, keys: dict[str, str], status: int, body: Any) -> None:
    """The checks above refuse a 5xx, a body off its model and a status the document does not declare
    (so a clean run of them means something)."""
    (listing,) = [op for op in operations(client, keys, "admin") if op.label == "GET /api/v1/keys"]
    case = listing.Case()
    request = httpx.Request("GET", "http://localhost/api/v1/keys")
    response = httpx.Response(status, json=body, request=request)
    response.read()
    response.elapsed = timedelta(0)  # what a client sets on a response it received
    with pytest.raises(FailureGroup):
        case.validate_response(response, checks=CHECKS)
