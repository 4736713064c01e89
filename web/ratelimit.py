"""Per-address token buckets for anonymous requests and sign-in attempts.

A bucket holds ``burst`` tokens and refills at ``per_minute`` a minute. :meth:`RateLimiter.blocked`
is a read (no token spent) so a blocked address is refused before any authentication or database
work; :meth:`RateLimiter.spend` charges one attempt and says how long to wait when none is left.
At most ``max_keys`` addresses are tracked (the least recently seen are forgotten first), so a
flood from many addresses cannot grow memory without bound.
"""

from __future__ import annotations

import collections
import logging
import math

from monitoring.clock import Clock, system_clock

__all__ = ["RateLimiter"]

log = logging.getLogger(__name__)


class RateLimiter:
    """Token buckets keyed by client address."""

    def __init__(
        self,
        per_minute: int,
        *,
        burst: int | None = None,
        clock: Clock = system_clock,
        max_keys: int = 10_000,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst if burst is not None else per_minute)
        self.clock = clock
        self.max_keys = max_keys
        self.refused = 0
        self._buckets: collections.OrderedDict[str, tuple[float, float]] = collections.OrderedDict()

    def _level(self, key: str, now: float) -> float:
        tokens, at = self._buckets.get(key, (self.burst, now))
        return min(self.burst, tokens + max(0.0, now - at) * self.rate)

    def _wait(self, tokens: float) -> float:
        return (1.0 - tokens) / self.rate

    def blocked(self, key: str) -> float:
        """Seconds until ``key`` may try again (0: it may now). Spends nothing."""
        tokens = self._level(key, self.clock())
        return 0.0 if tokens >= 1.0 else self._wait(tokens)

    def spend(self, key: str) -> float:
        """Charge one attempt; 0 when allowed, else the seconds to wait (nothing charged)."""
        now = self.clock()
        tokens = self._level(key, now)
        if tokens < 1.0:
            self.refused += 1
            return self._wait(tokens)
        self._buckets[key] = (tokens - 1.0, now)
        self._buckets.move_to_end(key)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return 0.0

    @staticmethod
    def retry_after(wait: float) -> str:
        """``Retry-After`` header value: whole seconds, at least 1."""
        return str(max(1, math.ceil(wait)))
