"""An alert storm while Discord answers 503s and 429s: every alert is delivered, exactly once.

The whole stack runs against the Discord emulator (a real bot, the extension, real sockets). Thirty
rules fire in the same evaluation while posting to #alerts fails: three 503s (discord.py does not
retry those; the alert outbox backs off), then two 429s (discord.py waits and retries). Once the
spell is over, each alert appears in exactly one message of #alerts, nothing was posted twice, a
second evaluation posts nothing new, and delivery reports healthy again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from monitoring import FakeClock
from monitoring.health import HealthStatus
from tests.e2e.conftest import T0, running

RULES = tuple(
    {"name": f"storm{i:02d}x", "metric": "messages", "stat": "sum", "window": "5m",
     "comparison": ">", "threshold": i, "for": 0, "severity": "warning"}
    for i in range(30)
)  # fmt: skip


async def _drain(stack: object, clock: FakeClock) -> int:
    """Run delivery (advancing the fake clock through waits and backoffs) until nothing waits."""
    service = stack.cog("Alerts").service  # type: ignore[attr-defined]
    for rounds in range(200):
        wait = await service.deliver(clock())
        if service.outbox.waiting == 0:
            return rounds
        clock.advance(max(wait, 0.5))
    raise AssertionError(f"outbox never emptied: {service.outbox.waiting} waiting")


@pytest.mark.slow
async def test_storm_through_429_and_5xx_is_delivered_once(tmp_path: Path) -> None:
    fake_clock = FakeClock(T0)
    async with running(tmp_path, clock=fake_clock, alert_rules=RULES) as stack:
        emu, service = stack.emu, stack.cog("Alerts").service
        stack.monitor.recorder.messages_bulk(stack.guild_id, 100)
        await stack.flush()
        emu.inject_5xx(f"/channels/{emu.channel_id('alerts')}/messages", count=3, status=503)
        emu.inject_429(f"/channels/{emu.channel_id('alerts')}/messages", count=2, retry_after=0.2)

        fired = await service.evaluate(fake_clock())
        storm = {t.rule.name for t in fired if t.kind == "firing" and t.rule.name in
                 {r["name"] for r in RULES}}  # fmt: skip
        assert len(storm) == len(RULES)
        await _drain(stack, fake_clock)

        statuses = [r.status for r in emu.requests_matching("/messages", "POST")
                    if f"/channels/{emu.channel_id('alerts')}/" in r.path]  # fmt: skip
        assert statuses.count(503) == 3 and statuses.count(429) == 2, statuses
        posts = emu.messages(emu.channel_id("alerts"))
        texts = [
            " ".join(f"{e.get('title', '')} {e.get('description', '')}" for e in m.embeds)
            for m in posts
        ]
        per_rule = {name: sum(name in text for text in texts) for name in storm}
        assert per_rule == dict.fromkeys(storm, 1), per_rule
        assert statuses.count(200) == len(posts)  # every successful POST is one message kept

        fake_clock.advance(30)  # still firing: a new round must not post them again
        await service.evaluate(fake_clock())
        await _drain(stack, fake_clock)
        assert len(emu.messages(emu.channel_id("alerts"))) == len(posts)
        health = await service.health()
        assert health.status is HealthStatus.HEALTHY, health
