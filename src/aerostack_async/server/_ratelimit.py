"""Per-key token buckets behind ``--rate-limit N`` (N requests per second, bursts of N)."""

from __future__ import annotations

import math
import time


class RateLimiter:
    """Admits at most ``rate`` requests per second per key, with a burst of ``rate``."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(rate, 1.0)
        self._buckets: dict[str, tuple[float, float]] = {}

    def acquire(self, key: str) -> int | None:
        """Take one token for ``key``; if none is left, return the seconds to wait (>= 1)."""
        now = time.monotonic()
        tokens, last = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return None
        self._buckets[key] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / self.rate))
