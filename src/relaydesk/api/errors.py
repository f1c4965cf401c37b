"""One error shape for the whole API: ``{"error": code, "detail": ...}`` with a 4xx status."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
}


class ApiError(Exception):
    """Raise from a route to answer ``status`` with a named error and a readable detail."""

    def __init__(
        self,
        status: int,
        error: str,
        detail: Any,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.headers = headers
        self.status = status
        self.error = error
        self.detail = detail
        self.extra = extra


class Problem(BaseModel):
    """Every error's body: a stable code and a sentence that names the problem."""

    error: str
    detail: Any = None


def problem(description: str) -> dict[str, Any]:
    """An OpenAPI ``responses`` entry with the error body."""
    return {"model": Problem, "description": description}


UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: problem("Missing or wrong bearer token (see `relaydesk token create`)")
}


def field_error(location: tuple[str | int, ...], message: str) -> RequestValidationError:
    """A 422 that names the field, in the same shape as FastAPI's own validation errors."""
    return RequestValidationError(
        [{"type": "value_error", "loc": location, "msg": message, "input": None}]
    )


_BROKEN_PAGE = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>Something went wrong</title>"
    "<h1>Something went wrong</h1><p>The error is in the server log. Go back and try again.</p>"
)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            {"error": exc.error, "detail": exc.detail, **exc.extra},
            status_code=exc.status,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "loc": list(error.get("loc", ())),
                "field": ".".join(str(p) for p in error.get("loc", ())[1:]) or None,
                "msg": error.get("msg", ""),
                "type": error.get("type", ""),
            }
            for error in exc.errors()
        ]
        return JSONResponse({"error": "invalid_request", "detail": errors}, status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        """A bug answers like every other error of its kind of route: JSON for the API and
        webhooks, a short page for people. The traceback is logged by the server (statement
        parameters are hidden by the engines, so no personal data is in it)."""
        if not request.url.path.startswith(("/api/", "/hooks/")):
            return HTMLResponse(_BROKEN_PAGE, status_code=500)
        return JSONResponse(
            {"error": "internal_error", "detail": "unexpected error; see the server log"},
            status_code=500,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": _CODES.get(exc.status_code, "error"), "detail": exc.detail},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )


def moved(request: Any, old: object, new: object, error: str, detail: str) -> ApiError:
    """A 308 to the same route for the record that now holds ``old``'s history."""
    location = request.url.path.replace(str(old), str(new), 1)
    if request.url.query:
        location += f"?{request.url.query}"
    return ApiError(308, error, detail, headers={"Location": location}, moved_to=str(new))
