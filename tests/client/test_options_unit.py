"""Timeout, Limits and RetryPolicy (pure unit tests)."""

from __future__ import annotations

import httpx
import pytest

from aerostack_async import Limits, RetryPolicy, Timeout
from aerostack_async._options import coerce_limits, coerce_timeout
from aerostack_async.errors import ConfigurationError


def test_a_number_sets_every_phase_and_keeps_the_total() -> None:
    assert coerce_timeout(3) == Timeout(3, 3, 3, 3, Timeout().total)


def test_a_number_longer_than_the_total_stretches_the_total() -> None:
    assert coerce_timeout(500).total == 500


def test_none_means_no_timeout_at_all() -> None:
    assert coerce_timeout(None) == Timeout(None, None, None, None, None)


@pytest.mark.parametrize("value", ["5", True, [1]])
def test_a_timeout_of_the_wrong_type_is_refused(value: object) -> None:
    with pytest.raises(ConfigurationError):
        coerce_timeout(value)  # type: ignore[arg-type]


def test_a_negative_timeout_phase_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        Timeout(read=-1)


@pytest.mark.parametrize("attempts", [0, -1, True, 1.5])
def test_retry_attempts_must_be_a_positive_int(attempts: object) -> None:
    with pytest.raises(ConfigurationError):
        RetryPolicy(attempts=attempts)  # type: ignore[arg-type]


def test_with_attempts_changes_only_the_attempts() -> None:
    policy = RetryPolicy(wait_initial=1).with_attempts(7)
    assert (policy.attempts, policy.wait_initial) == (7, 1)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            httpx.Limits(max_connections=7, max_keepalive_connections=3, keepalive_expiry=2.5),
            Limits(7, 3, 2.5),
        ),
        (httpx.Limits(), Limits(None, None, 5.0)),
        (httpx.Limits(max_connections=1, keepalive_expiry=None), Limits(1, None, None)),
        (Limits(8, 0, 0), Limits(8, 0, 0)),
    ],
)
def test_limits_convert_field_by_field(given: object, expected: Limits) -> None:
    assert coerce_limits(given) == expected


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_connections": 0},
        {"max_connections": True},
        {"max_connections": 2.5},
        {"max_keepalive_connections": -1},
        {"keepalive_expiry": -1},
        {"keepalive_expiry": "5"},
    ],
)
def test_limits_out_of_range_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError, match="Limits"):
        Limits(**kwargs)  # type: ignore[arg-type]


def test_httpx_limits_out_of_range_are_refused_too() -> None:
    with pytest.raises(ConfigurationError, match="max_connections"):
        coerce_limits(httpx.Limits(max_connections=0))
