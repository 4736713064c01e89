"""Test data for the dashboard: a week of metrics for two guilds, one with a hostile name.

Generated through the core's own :class:`~monitoring.Recorder` (never hand-built rows), so the
data has exactly the shape the store expects, whatever that shape becomes.
"""

from __future__ import annotations

import math
import random
from typing import Any

from monitoring import Recorder
from monitoring.clock import FakeClock

__all__ = ["COMMANDS", "G1", "G2", "NAMES", "XSS_NAME", "seed_store"]

G1 = 111111111111111111
G2 = 222222222222222222
XSS_NAME = "<img src=x onerror=alert(1)>"
NAMES = {G1: XSS_NAME, G2: "Friendly Guild"}
COMMANDS = ("ping", "stats", "play", "help", "rank")


def _level(ts: float) -> float:
    """0.2..1.0: quiet at night (UTC), busy in the evening."""
    hour = (ts % 86400) / 3600
    return max(0.2, 0.6 + 0.4 * math.sin((hour - 9) / 24 * 2 * math.pi))


async def seed_store(store: Any, now: float, days: int = 8, seed: int = 1) -> None:
    """Write ``days`` of per-minute activity ending at ``now`` (guilds G1 and G2)."""
    rng = random.Random(seed)
    clock = FakeClock(now)
    rec = Recorder(salt=store.salt, clock=clock)
    first = int(now // 60) * 60 - days * 86400
    for ts in range(first, int(now // 60) * 60, 60):
        clock.set(ts)
        rec.tick(ts)
        level = _level(ts)
        for g_index, guild in enumerate((G1, G2)):
            n = rng.randint(0, int(12 * level) + 1) // (g_index + 1)
            users = [1000 + rng.randrange(150) for _ in range(min(n, 5))]
            rec.messages_bulk(guild, n, users)
            for command in COMMANDS:
                if rng.random() > 0.5 * level:
                    continue
                base = 400.0 if command == "play" else 80.0
                latency = rng.lognormvariate(math.log(base), 0.5)
                ok = rng.random() > 0.03
                user = 1000 + rng.randrange(150)
                rec.command(command, "slash", guild, user, latency, ok, ts=ts + 1)
        if 8 <= (ts % 86400) // 3600 < 22:
            rec.inc("voice_minutes", 2.0, guild=G1)
        rec.observe("loop_lag_ms", rng.expovariate(1 / 3.0))
        if ts % 3600 == 3540:
            await store.write(rec.drain(ts + 60))
    await store.write(rec.drain(now))
