"""Errors the emulator answers with, shaped as the Redshift Data API shapes them.

Example::

    >>> raise ApiError("ValidationException", "Invalid next token.")
"""

from __future__ import annotations

from typing import Any

__all__ = ["ApiError", "active_statements_exceeded", "not_found", "validation"]


class ApiError(Exception):
    """An error answered with HTTP ``status`` and a JSON body ``{"__type", "message"}``.

    ``fields`` are the extra modeled members of the exception shape (such as
    ``ResourceId``), so botocore fills the modeled exception completely.
    """

    def __init__(self, code: str, message: str, *, status: int = 400, **fields: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.fields = fields

    def body(self) -> dict[str, Any]:
        """The JSON error body."""
        return {
            "__type": self.code,
            "message": self.message,
            "Message": self.message,
            **self.fields,
        }


def validation(message: str) -> ApiError:
    """A ``ValidationException``."""
    return ApiError("ValidationException", message)


def not_found(message: str, resource_id: str) -> ApiError:
    """A ``ResourceNotFoundException`` about ``resource_id``."""
    return ApiError("ResourceNotFoundException", message, ResourceId=resource_id)


def active_statements_exceeded(limit: int) -> ApiError:
    """An ``ActiveStatementsExceededException`` (HTTP 400, as the service model says)."""
    return ApiError(
        "ActiveStatementsExceededException",
        f"Active statements exceeded the allowed quota ({limit}).",
    )
