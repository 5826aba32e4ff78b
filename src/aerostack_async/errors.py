"""Every error this package raises, in one tree.

::

    AerostackError
    ├── APIConnectionError            no response arrived (seed name: NoResponseError)
    │   └── APITimeoutError           connect/read/write/pool timeout or the total deadline
    │       └── StreamIdleTimeout     a stream went quiet for too long
    ├── SDKBaseError                  an error with an HTTP response (seed name)
    │   ├── APIStatusError            a non-2xx or in-stream error (seed: ErrorResponse, SDKError)
    │   │   ├── BadRequestError 400, AuthenticationError 401, PermissionDeniedError 403,
    │   │   │   NotFoundError 404, ConflictError 409, PayloadTooLargeError 413,
    │   │   │   UnsupportedMediaTypeError 415, UnprocessableEntityError 422,
    │   │   │   RateLimitError 429, InternalServerError 5xx
    │   ├── ResponseValidationError   a 2xx body that does not match its type
    │   └── StreamProtocolError       a 2xx that is not the event stream it should be
    ├── InvalidRequestError           bad arguments, caught before anything is sent (a ValueError)
    │   └── InvalidArgumentTypeError  an argument of the wrong type (also a TypeError)
    ├── ConfigurationError            the client cannot be built as asked (a ValueError)
    └── BatchError                    one item of a batch failed (``.index``, ``.item``, cause)

The seed SDK's names (``SDKBaseError``, ``ErrorResponse``, ``SDKError``, ``NoResponseError``,
``ResponseValidationError``) are the same classes, so ``except`` clauses written for the seed
keep catching. No message or ``repr`` here ever contains the API key: messages come from the
server's error envelope, request headers are never stored, and a key the server quotes back in
an error is masked (``sk_***``) in the message, ``body``, ``details``, ``headers`` and
``raw_response`` before the error is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AerostackError",
    "AuthenticationError",
    "BadRequestError",
    "BatchError",
    "Code",
    "ConfigurationError",
    "ConflictError",
    "ErrorData",
    "ErrorResponse",
    "ErrorResponseData",
    "InternalServerError",
    "InvalidArgumentTypeError",
    "InvalidItemError",
    "InvalidRequestError",
    "NoResponseError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseValidationError",
    "SDKBaseError",
    "SDKError",
    "StreamIdleTimeout",
    "StreamProtocolError",
    "UnprocessableEntityError",
    "UnsupportedMediaTypeError",
    "parse_retry_after",
    "status_error_class",
]


class Code(str, Enum):
    """The error codes the API documents; ``code`` attributes stay plain (open) strings."""

    AUTH_INVALID_KEY = "AUTH_INVALID_KEY"
    AUTH_INVALID_CREDENTIALS = "AUTH_INVALID_CREDENTIALS"
    FORBIDDEN = "FORBIDDEN"
    VALIDATION_ERROR = "VALIDATION_ERROR"
    NOT_FOUND = "NOT_FOUND"
    AUTH_USER_EXISTS = "AUTH_USER_EXISTS"
    DB_QUERY_FAILED = "DB_QUERY_FAILED"
    RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
    INTERNAL_ERROR = "INTERNAL_ERROR"


class AerostackError(Exception):
    """Base class of every error raised by aerostack_async."""


class APIConnectionError(AerostackError):
    """No response arrived: the connection could not be made or broke before a response.

    ``retryable`` says whether sending the request again can help: true for timeouts, resets
    and broken responses; false for a body that cannot be decoded, an unsupported URL scheme or
    a request our side refused to send. The client's retry policy reads it.
    """

    def __init__(self, message: str = "No response received", *, retryable: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        # What was sent (the key masked), set by the client for each failed attempt.
        self.request: httpx.Request | None = None

    @property
    def response(self) -> None:
        """Always None: no response arrived (for code that reads ``.response`` of any error)."""
        return None

    def __str__(self) -> str:
        return self.message


NoResponseError = APIConnectionError
"""The seed SDK's name for `APIConnectionError`."""


class APITimeoutError(APIConnectionError):
    """A connect, read, write or pool timeout, or the call's total deadline, ran out."""


class StreamIdleTimeout(APITimeoutError):
    """A stream sent nothing for longer than its idle timeout."""


class SDKBaseError(AerostackError):
    """Any error that comes with an HTTP response (the seed SDK's base class)."""

    status_code: int
    headers: Mapping[str, str]
    body: str
    raw_response: httpx.Response | None
    request_id: str | None
    message: str

    def __init__(
        self,
        message: str,
        raw_response: httpx.Response | None = None,
        body: str | None = None,
        *,
        status_code: int | None = None,
        headers: Mapping[str, str] | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.raw_response = raw_response
        if raw_response is not None:
            status_code = raw_response.status_code if status_code is None else status_code
            headers = raw_response.headers if headers is None else headers
            if body is None:
                body = _text_of(raw_response)
        self.status_code = status_code or 0
        self.headers = headers if headers is not None else {}
        self.body = body or ""
        self.request_id = request_id or self.headers.get("x-request-id")

    @property
    def response(self) -> httpx.Response | None:
        """The response (the same as ``raw_response``), as openai's errors carry it."""
        return self.raw_response

    @property
    def request(self) -> httpx.Request | None:
        """The request that was sent, with the key masked (None if unknown)."""
        response = self.raw_response
        if response is None:
            return None
        try:
            return response.request
        except RuntimeError:  # an httpx.Response built without its request
            return None

    def __str__(self) -> str:
        return _describe(self.status_code, None, self.message, self.request_id)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


def _text_of(response: httpx.Response) -> str:
    # A streamed response whose body was never read has no text; an error must not fail on it.
    try:
        return response.text
    except Exception:
        return ""


def _describe(status: int, code: str | None, message: str, request_id: str | None) -> str:
    parts = [str(status) if status else "error"]
    if code:
        parts.append(code)
    text = " ".join(parts) + (f": {message}" if message else "")
    if request_id:
        text += f" (request {request_id})"
    return text


class ErrorData:
    """The error envelope ``{"code", "message", "details"}`` (the seed's ``err.data``)."""

    __slots__ = ("code", "details", "message")

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        self.code = code
        self.message = message
        self.details = details

    def __repr__(self) -> str:
        return f"ErrorData(code={self.code!r}, message={self.message!r}, details={self.details!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ErrorData):
            return NotImplemented
        return (self.code, self.message, self.details) == (other.code, other.message, other.details)

    __hash__ = None  # type: ignore[assignment]


ErrorResponseData = ErrorData
"""The seed SDK's name for `ErrorData`."""


class APIStatusError(SDKBaseError):
    """The server answered with an error status (or sent an error inside a stream)."""

    code: str
    details: dict[str, Any] | None

    def __init__(
        self,
        message: str,
        raw_response: httpx.Response | None = None,
        body: str | None = None,
        *,
        code: str = "",
        details: dict[str, Any] | None = None,
        status_code: int | None = None,
        headers: Mapping[str, str] | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(
            message,
            raw_response,
            body,
            status_code=status_code,
            headers=headers,
            request_id=request_id,
        )
        self.code = code
        self.details = details

    @property
    def data(self) -> ErrorData:
        """The error envelope as the seed SDK exposed it: ``.code``, ``.message``, ``.details``."""
        return ErrorData(self.code, self.message, self.details)

    def __str__(self) -> str:
        return _describe(self.status_code, self.code, self.message, self.request_id)


ErrorResponse = APIStatusError
"""The seed SDK's name for `APIStatusError` (its ``.data`` has code/message/details)."""

SDKError = APIStatusError
"""The seed SDK's fallback error name, also `APIStatusError`."""


class BadRequestError(APIStatusError):
    """400: the request failed validation, or the SQL failed (``DB_QUERY_FAILED``)."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing or unknown, or sign-in credentials are wrong."""


class PermissionDeniedError(APIStatusError):
    """403: the key may not use this route (a public key on a secret-only route)."""


class NotFoundError(APIStatusError):
    """404: the object or route does not exist."""


class ConflictError(APIStatusError):
    """409: the object already exists (sign-up of an existing e-mail)."""


class PayloadTooLargeError(APIStatusError):
    """413: the request body is larger than the server accepts."""


class UnsupportedMediaTypeError(APIStatusError):
    """415: the request body has the wrong media type (an upload that is not multipart)."""


class UnprocessableEntityError(APIStatusError):
    """422: well-formed but refused (an Idempotency-Key reused with a different body)."""


class RateLimitError(APIStatusError):
    """429: too many requests; ``retry_after`` is the server's wait in seconds, if it said."""

    @property
    def retry_after(self) -> float | None:
        """Seconds to wait before retrying, from the ``Retry-After`` header (None if absent)."""
        return parse_retry_after(self.headers.get("retry-after"))


class InternalServerError(APIStatusError):
    """5xx: the server failed."""


class ResponseValidationError(SDKBaseError):
    """A 2xx body that does not match its expected type; ``path`` is the JSON path at fault."""

    def __init__(
        self,
        message: str,
        raw_response: httpx.Response | None = None,
        body: str | None = None,
        *,
        path: str | None = None,
        cause: BaseException | None = None,
        status_code: int | None = None,
        headers: Mapping[str, str] | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(
            message,
            raw_response,
            body,
            status_code=status_code,
            headers=headers,
            request_id=request_id,
        )
        self.path = path
        if cause is not None:
            self.__cause__ = cause

    @property
    def cause(self) -> BaseException | None:
        """The underlying decoding error (``msgspec.ValidationError`` or ``DecodeError``)."""
        return self.__cause__


class StreamProtocolError(SDKBaseError):
    """A 2xx answer that is not the event stream it should be (never retried)."""


class InvalidRequestError(AerostackError, ValueError):
    """An argument is invalid; raised before anything is sent."""


class InvalidArgumentTypeError(InvalidRequestError, TypeError):
    """An argument has the wrong type; raised before anything is sent."""


class ConfigurationError(AerostackError, ValueError):
    """The client cannot be built as asked (no API key, unknown environment, bad base URL)."""


class BatchError(AerostackError):
    """One item of a batch failed: ``index`` and ``item`` say which; the cause is chained."""

    def __init__(self, index: int, item: object, cause: BaseException) -> None:
        super().__init__(f"batch item {index} failed: {type(cause).__name__}: {cause}")
        self.index = index
        self.item = item
        self.__cause__ = cause

    @property
    def cause(self) -> BaseException:
        """The error the item raised (also ``__cause__``)."""
        assert self.__cause__ is not None
        return self.__cause__


class InvalidItemError(BatchError, InvalidRequestError):
    """An item of a batch was refused before anything was sent (``index``, ``item``, cause).

    Both a `BatchError` and an
    `InvalidRequestError` (a ``ValueError``), so either
    ``except`` clause catches it.
    """

    def __init__(self, name: str, index: int, item: object, cause: Exception) -> None:
        super().__init__(index, item, cause)
        self.args = (f"{name}[{index}]: {cause}",)


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    415: UnsupportedMediaTypeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status: int) -> type[APIStatusError]:
    """The `APIStatusError` subclass for an HTTP status."""
    cls = _BY_STATUS.get(status)
    if cls is not None:
        return cls
    return InternalServerError if status >= 500 else APIStatusError


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds, from delta-seconds or an HTTP date (None if absent or junk)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return _retry_after_date(value)
    return seconds if seconds >= 0 else None


def _retry_after_date(value: str) -> float | None:
    from email.utils import parsedate_to_datetime
    from time import time

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time())
