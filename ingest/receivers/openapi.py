"""OpenAPI declarations of the receivers' requests and answers.

The receivers read their bodies themselves (size limit while reading, gzip, one JSON decode, then
one validation of the whole batch), so a body is declared through a route's ``openapi_extra``:
FastAPI documents it and never parses it. Schemas go in inline (``$defs`` resolved), because an
``openapi_extra`` schema cannot add components to the document.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RETRY_AFTER_HEADER", "Accepted", "inline_refs", "json_body", "request_body"]

# The header of a 503 answer: when to try again.
RETRY_AFTER_HEADER: dict[str, Any] = {
    "Retry-After": {"description": "seconds to wait before sending again", "schema": {"type": "integer"}}
}


class Accepted(BaseModel):
    """202: every record of the request was acknowledged by Kafka."""

    model_config = ConfigDict(extra="forbid")

    accepted: int = Field(description="points, spans or log records the request held")


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` (a pydantic model's JSON schema) with every ``#/$defs/`` reference replaced by its
    definition. For models without recursion, as the ingest envelopes are."""
    definitions = schema.get("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                siblings = {k: v for k, v in node.items() if k != "$ref"}
                return {**resolve(definitions[ref.removeprefix("#/$defs/")]), **resolve(siblings)}
            return {k: resolve(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


def request_body(description: str, content: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The ``openapi_extra`` of a route whose required body comes in ``content`` (media type ->
    ``{"schema": ...}``), gzip allowed."""
    return {
        "requestBody": {
            "required": True,
            "description": f"{description} Send it gzipped with Content-Encoding: gzip if you like.",
            "content": content,
        }
    }


def json_body(model: type[BaseModel], description: str) -> dict[str, Any]:
    """The ``openapi_extra`` of a route whose JSON body is validated as ``model``."""
    schema = inline_refs(model.model_json_schema(by_alias=True))
    return request_body(description, {"application/json": {"schema": schema}})
