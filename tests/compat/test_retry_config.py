"""The seed's RetryConfig / BackoffStrategy map onto the core's RetryPolicy."""

from __future__ import annotations

import pytest

from aerostack_async.errors import ConfigurationError
from aerostack_async.utils import BackoffStrategy, RetryConfig


def test_readme_backoff_maps_to_a_few_quick_attempts() -> None:
    policy = RetryConfig("backoff", BackoffStrategy(1, 50, 1.1, 100), False).to_retry_policy()
    assert policy is not None
    assert policy.attempts == 3
    assert policy.wait_initial == pytest.approx(0.001)
    assert policy.wait_max == pytest.approx(0.05)
    assert policy.wait_exp_base == pytest.approx(1.1)


def test_long_elapsed_time_is_capped_at_ten_attempts() -> None:
    policy = RetryConfig("backoff", BackoffStrategy(500, 60000, 1.5, 3600000), True)
    assert policy.to_retry_policy().attempts == 10  # type: ignore[union-attr]


def test_zero_elapsed_time_means_one_attempt() -> None:
    policy = RetryConfig("backoff", BackoffStrategy(500, 1000, 2, 0), True).to_retry_policy()
    assert policy is not None
    assert policy.attempts == 1


def test_strategy_none_means_no_retries() -> None:
    assert RetryConfig("none", BackoffStrategy(1, 1, 1, 1), False).to_retry_policy() is None


def test_unknown_strategy_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="strategy"):
        RetryConfig("linear", BackoffStrategy(1, 1, 1, 1), False)


def test_negative_interval_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="initial_interval"):
        BackoffStrategy(-1, 1, 1, 1)


def test_seed_attributes_are_kept() -> None:
    config = RetryConfig("backoff", BackoffStrategy(1, 50, 1.1, 100), False)
    assert (config.strategy, config.retry_connection_errors) == ("backoff", False)
    backoff = config.backoff
    assert (backoff.initial_interval, backoff.max_interval) == (1, 50)
    assert (backoff.exponent, backoff.max_elapsed_time) == (1.1, 100)
