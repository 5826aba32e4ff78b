"""The emulator's error envelope: ``{"code", "message", "details"?}`` with the API's statuses."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error response the emulator sends as ``{"code", "message", "details"?}``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}

    def envelope(self) -> dict[str, Any]:
        """The JSON body of this error."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body


def validation_error(
    field_errors: dict[str, list[str]], message: str = "Request body failed validation"
) -> ApiError:
    """A 400 ``VALIDATION_ERROR`` with ``details.fieldErrors``."""
    return ApiError(400, "VALIDATION_ERROR", message, {"fieldErrors": field_errors})


def not_found(message: str) -> ApiError:
    """A 404 ``NOT_FOUND``."""
    return ApiError(404, "NOT_FOUND", message)
