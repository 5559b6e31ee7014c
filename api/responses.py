"""A JSON response serialized by orjson: large query answers (thousands of points) are encoded in
a few milliseconds instead of going through FastAPI's generic encoder. NaN becomes null. A
:class:`JSONResponse` to FastAPI, so a route's ``response_model`` documents its body (FastAPI does not
validate a response object a route returns: the model costs nothing per request).

:class:`RenderedResponse` sends a body rendered before (:func:`render_json`, kept by api/bodies.py)
with its ETag, so an unchanged answer is neither rendered nor hashed again."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse

from api.bodies import Rendered

__all__ = ["FastJSONResponse", "RenderedResponse", "render_json"]


def render_json(content: Any) -> bytes:
    """``content`` as JSON bytes, exactly as :class:`FastJSONResponse` sends it."""
    return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


class FastJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return render_json(content)


class RenderedResponse(JSONResponse):
    """A JSON answer already rendered, sent with its ``ETag`` (api/httpcache.py uses it instead of
    hashing the body again)."""

    def __init__(self, rendered: Rendered) -> None:
        super().__init__(rendered.body)
        self.headers["ETag"] = rendered.etag

    def render(self, content: Any) -> bytes:
        body: bytes = content
        return body
