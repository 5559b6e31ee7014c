"""A JSON response serialized by orjson: large query answers (thousands of points) are encoded in
a few milliseconds instead of going through FastAPI's generic encoder. NaN becomes null."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response

__all__ = ["FastJSONResponse"]


class FastJSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)
