"""API errors: raised at the boundary with the offending value, answered as ``{"error", "details"}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from schemas import error_body

__all__ = ["ApiError", "install_error_handlers"]


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


def install_error_handlers(app: FastAPI) -> None:
    """Every error, including FastAPI's own validation errors (400, not 422), in the one JSON shape."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.error, exc.details), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"loc": ".".join(str(p) for p in e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return JSONResponse(error_body("invalid request", details), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(error_body(str(exc.detail)), status_code=exc.status_code, headers=exc.headers)
