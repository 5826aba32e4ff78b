"""The error tree (pure unit tests): classes, seed names, messages, Retry-After."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aerostack_async import errors
from aerostack_async.errors import (
    AerostackError,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    BatchError,
    RateLimitError,
    SDKBaseError,
    StreamIdleTimeout,
    parse_retry_after,
    status_error_class,
)


def test_the_tree_matches_the_design() -> None:
    assert issubclass(APITimeoutError, APIConnectionError)
    assert issubclass(StreamIdleTimeout, APITimeoutError)
    assert issubclass(APIStatusError, SDKBaseError)
    assert issubclass(errors.ResponseValidationError, SDKBaseError)
    assert issubclass(errors.StreamProtocolError, SDKBaseError)
    assert issubclass(SDKBaseError, AerostackError)
    assert issubclass(APIConnectionError, AerostackError)


def test_seed_names_are_the_same_classes() -> None:
    assert errors.ErrorResponse is APIStatusError
    assert errors.SDKError is APIStatusError
    assert errors.NoResponseError is APIConnectionError
    assert errors.ErrorResponseData is errors.ErrorData


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, errors.BadRequestError),
        (401, errors.AuthenticationError),
        (403, errors.PermissionDeniedError),
        (404, errors.NotFoundError),
        (409, errors.ConflictError),
        (413, errors.PayloadTooLargeError),
        (415, errors.UnsupportedMediaTypeError),
        (422, errors.UnprocessableEntityError),
        (429, errors.RateLimitError),
        (500, errors.InternalServerError),
        (503, errors.InternalServerError),
        (418, APIStatusError),
    ],
)
def test_each_status_has_its_class(status: int, cls: type[APIStatusError]) -> None:
    assert status_error_class(status) is cls


def test_str_names_status_code_message_and_request_id() -> None:
    error = errors.NotFoundError(
        "No object", code="NOT_FOUND", status_code=404, headers={"x-request-id": "req_1"}
    )
    assert str(error) == "404 NOT_FOUND: No object (request req_1)"
    assert error.request_id == "req_1"


def test_data_carries_code_message_and_details() -> None:
    error = APIStatusError("bad", code="X", details={"a": 1}, status_code=400)
    assert (error.data.code, error.data.message, error.data.details) == ("X", "bad", {"a": 1})


def test_rate_limit_error_reads_retry_after() -> None:
    error = RateLimitError("slow", status_code=429, headers={"retry-after": "7"})
    assert error.retry_after == 7


@given(st.integers(min_value=0, max_value=10**6))
def test_retry_after_in_seconds_parses(seconds: int) -> None:
    assert parse_retry_after(str(seconds)) == seconds


def test_retry_after_as_an_http_date_parses() -> None:
    when = datetime.now(timezone.utc) + timedelta(seconds=120)
    parsed = parse_retry_after(format_datetime(when, usegmt=True))
    assert parsed is not None
    assert 0 < parsed <= 121


@pytest.mark.parametrize("value", [None, "", "soon", "-5"])
def test_retry_after_junk_is_none(value: str | None) -> None:
    assert parse_retry_after(value) is None


def test_batch_error_names_the_item_and_chains_the_cause() -> None:
    cause = ValueError("boom")
    error = BatchError(3, {"key": "k"}, cause)
    assert (error.index, error.item) == (3, {"key": "k"})
    assert error.cause is cause
    assert error.__cause__ is cause
    assert "item 3" in str(error)


def test_invalid_argument_type_is_both_a_type_and_a_value_error() -> None:
    error = errors.InvalidArgumentTypeError("bad")
    assert isinstance(error, TypeError)
    assert isinstance(error, ValueError)
    assert isinstance(error, errors.InvalidRequestError)
