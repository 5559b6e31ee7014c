"""The ASGI middleware on a real FastAPI app served by uvicorn, called through the traced httpx
transport: RED metrics by route template and server spans continuing the caller's trace, found
through a running perfpulse's API."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from ingest import Emitter
from ingest.sdk.asgi import PerfpulseMiddleware
from ingest.sdk.httpclient import TracedTransport
from tests.e2e.conftest import Deployment
from tests.ingest.helpers import serving
from tests.ingest.sdk.telemetry import counts_by, stored_trace

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def shop(cart: Emitter) -> FastAPI:
    """Routes under a router prefix, a mounted sub-app with a path parameter, one failing route."""
    app = FastAPI()
    router = APIRouter(prefix="/cart")

    @router.get("/{cart_id}")
    async def load(cart_id: int) -> dict[str, int]:
        with cart.span("load cart"):
            return {"cart_id": cart_id}

    @app.get("/fail")
    async def fail() -> None:
        raise RuntimeError("broken on purpose")

    async def item(request: object) -> PlainTextResponse:
        return PlainTextResponse("item")

    app.include_router(router)
    app.mount("/v2", Starlette(routes=[Route("/items/{item_id}", item)]))
    app.add_middleware(PerfpulseMiddleware, emitter=cart)
    return app


def test_red_metrics_by_route_template_and_server_spans_continue_the_callers_trace(deployment: Deployment) -> None:
    settings = deployment.settings
    front = Emitter("py-front", settings.kafka_bootstrap, topic_prefix=settings.topic_prefix)
    cart = Emitter("py-cart", settings.kafka_bootstrap, topic_prefix=settings.topic_prefix)
    try:
        with serving(shop(cart)) as base, httpx.Client(transport=TracedTransport(front), timeout=30) as client:
            with front.span("checkout") as root:
                response = client.get(f"{base}/cart/42")
            assert response.status_code == 200 and response.json() == {"cart_id": 42}
            traceresponse = response.headers["traceresponse"]
            for cart_id in (7, 8):
                assert client.get(f"{base}/cart/{cart_id}").status_code == 200
            assert client.get(f"{base}/v2/items/a1").status_code == 200
            assert client.get(f"{base}/v2/items/b2").status_code == 200
            assert client.get(f"{base}/nowhere/at/all").status_code == 404
            assert client.request("PROPFIND", f"{base}/cart/1").status_code == 405
            # Last: uvicorn closes the connection an exception left the app through.
            assert client.get(f"{base}/fail").status_code == 500
        assert front.flush(30) and cart.flush(30)
    finally:
        front.close()
        cart.close()

    served = counts_by(deployment, "http.server.duration", "py-cart", "method,route,status_code", expected=5)
    assert served == {
        "GET /cart/{cart_id} 200": 3,
        "GET /v2/items/{item_id} 200": 2,
        "GET /fail 500": 1,
        "GET unmatched 404": 1,
        "_OTHER /cart/{cart_id} 405": 1,  # a made-up method is one bucket, never a series of its own
    }

    spans = {s["operation"]: s for s in stored_trace(deployment, root.trace_id, spans=4)}
    assert set(spans) == {"checkout", f"GET 127.0.0.1:{base.rsplit(':', 1)[1]}", "GET /cart/{cart_id}", "load cart"}
    client_span = spans[f"GET 127.0.0.1:{base.rsplit(':', 1)[1]}"]
    server_span = spans["GET /cart/{cart_id}"]
    assert (client_span["kind"], client_span["service"]) == ("client", "py-front")
    assert client_span["parent_span_id"] == spans["checkout"]["span_id"]
    assert (server_span["kind"], server_span["service"]) == ("server", "py-cart")
    assert server_span["parent_span_id"] == client_span["span_id"], "the server continued the caller's traceparent"
    assert traceresponse == f"00-{root.trace_id}-{server_span['span_id']}-01", "traceresponse names the server span"
    assert server_span["tags"]["http.route"] == "/cart/{cart_id}" and server_span["tags"]["http.status_code"] == "200"
    assert spans["load cart"]["parent_span_id"] == server_span["span_id"], "the handler's span nests under it"
