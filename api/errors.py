"""API errors: raised at the boundary with the offending value, answered as ``{"error", "details"}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from schemas import error_body
from schemas.errors import ErrorBody
from storage.client import QueryLimitExceeded

__all__ = ["ApiError", "ErrorBody", "error_responses", "install_error_handlers"]


class ApiError(Exception):
    """An error answered with ``status``; ``details`` name fields (``loc``) and reasons (``msg``)."""

    def __init__(self, status: int, error: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.details = details or []

    @classmethod
    def bad_param(cls, name: str, msg: str) -> ApiError:
        return cls(400, f"invalid query parameter {name!r}", [{"loc": f"query.{name}", "msg": msg}])


def error_responses(descriptions: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` of a route: each status, with why it is answered, as :class:`ErrorBody`."""
    return {status: {"model": ErrorBody, "description": why} for status, why in descriptions.items()}


def install_error_handlers(app: FastAPI) -> None:
    """Every error, including FastAPI's own validation errors (400, not 422), in the one JSON shape;
    the OpenAPI document then lists no 422 answer, which the app never gives."""
    _document_without_422(app)

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.error, exc.details), status_code=exc.status)

    @app.exception_handler(QueryLimitExceeded)
    async def _too_large(_: Request, exc: QueryLimitExceeded) -> JSONResponse:
        # the request asked for more than one query may do (storage/client.py bounds API queries)
        return JSONResponse(error_body("query too large", [{"loc": f"query.{exc.bound}", "msg": str(exc)}]), 400)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"loc": ".".join(str(p) for p in e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return JSONResponse(error_body("invalid request", details), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(error_body(str(exc.detail)), status_code=exc.status_code, headers=exc.headers)


def _document_without_422(app: FastAPI) -> None:
    """FastAPI documents a 422 answer (its own validation error shape) on every route with
    parameters; the handler above answers those errors 400 :class:`ErrorBody`, declared per route.
    A 422 a route declares itself (the ingest endpoints' reused Idempotency-Key) stays."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        document = build()
        if fresh:  # built once and cached by FastAPI: strip it once
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    responses = operation.get("responses", {})
                    if "HTTPValidationError" in str(responses.get("422", "")):
                        del responses["422"]
            components = document.get("components", {}).get("schemas", {})
            for name in ("HTTPValidationError", "ValidationError"):
                components.pop(name, None)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
