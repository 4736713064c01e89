"""Alerts and the daily report through real Discord traffic: a burst of failing commands fires
an alert in #alerts, a button press silences it, and recovery resolves it by editing the same
message. The monitor runs on a fake clock so minutes pass instantly; everything else is real."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from monitoring import FakeClock
from sandbox import DiscordEmulator
from sandbox.simulator import backfill
from sandbox.traffic import TrafficModel
from tests.e2e.conftest import SMALL, Stack, running

FAST_ERROR_RULE = {"name": "error_rate", "for": 0}


async def burst(stack: Stack, count: int, error: str = "") -> None:
    """``count`` runs of /ping, failing with ``error`` when given."""
    stack.workload.error = error
    for _ in range(count):
        record = await stack.command("ping", channel="chat")
        assert record.response_type == 4  # answered: "Pong!" or the ephemeral explanation
    await stack.flush()


async def deliver(stack: Stack, now: float) -> None:
    """Send everything due (the service sends one post or edit per round)."""
    for _ in range(20):
        if await stack.cog("Alerts").service.deliver(now) > 0:
            return
    raise AssertionError("the alert outbox never emptied")


def fields(embed: dict[str, object]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed.get("fields", [])}  # type: ignore[attr-defined]


async def test_alert_fires_is_silenced_and_resolves_in_place(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    async with running(
        tmp_path, clock=fake_clock, alert_rules=(FAST_ERROR_RULE,), error_spike_window_seconds=60
    ) as stack:
        alerts = stack.cog("Alerts")
        await burst(stack, 12, error="UpstreamTimeout")
        fired = await alerts.service.evaluate(fake_clock())
        assert [t.kind for t in fired if t.rule.name == "error_rate"] == ["firing"]
        fake_clock.advance(11)  # past the grouping wait
        await deliver(stack, fake_clock())
        [post] = stack.posts("alerts", "error_rate")
        assert post.embeds[0]["title"] == "🔴 CRITICAL · error_rate"
        assert fields(post.embeds[0])["Value"] == "100.0%"
        buttons = [c["custom_id"] for row in post.components for c in row["components"]]
        assert "monitoring:alert:silence" in buttons
        # the failures were also grouped and posted once, with their type and command
        assert stack.posts("alerts", "UpstreamTimeout in /ping")

        press = await stack.emu.press_button(
            post.id, "monitoring:alert:silence", stack.emu.guild_owner.id
        )
        await stack.emu.wait_for_response(press, followups=1)
        assert press.response_type == 7  # the alert message itself was updated
        silenced = stack.emu.message(post.id)
        assert "Silenced" in fields(silenced.embeds[0])
        assert "Silenced" in press.followups[0].content

        fake_clock.advance(180)  # the failing minutes leave the 60 s window
        await burst(stack, 12)
        resolved = await alerts.service.evaluate(fake_clock())
        assert [t.kind for t in resolved if t.rule.name == "error_rate"] == ["resolved"]
        fake_clock.advance(2)
        await deliver(stack, fake_clock())
        [same] = stack.posts("alerts", "error_rate")
        assert same.id == post.id and same.edit_count >= 2
        assert same.embeds[0]["title"] == "✅ RESOLVED · error_rate"
        assert same.components == []  # no buttons on a resolved alert


async def test_daily_report_posts_with_chart(tmp_path: Path, fake_clock: FakeClock) -> None:
    async def history(emu: DiscordEmulator, members: dict[int, list[int]]) -> None:
        model = TrafficModel(members, scale=SMALL)
        await backfill(tmp_path / "monitoring.db", model, days=2, now=fake_clock())

    report_at = dt.datetime.fromtimestamp(fake_clock() + 60, dt.UTC)
    async with running(
        tmp_path,
        clock=fake_clock,
        before=history,
        report_time=dt.time(report_at.hour, report_at.minute),
    ) as stack:
        reports = stack.cog("Alerts").reports
        if reports.first_run is None:  # the loop's first look failed (and retries later)
            await reports.start(fake_clock())
        assert stack.posts("reports") == []
        fake_clock.advance(95)
        await reports.run_once(fake_clock())
        [post] = stack.posts("reports", "Daily report")
        yesterday = report_at.date() - dt.timedelta(days=1)
        assert post.embeds[0]["title"] == f"📊 Daily report · {yesterday:%a %d %b %Y}"
        numbers = fields(post.embeds[0])
        assert int(numbers["Messages"].split("**")[1].replace(",", "")) > 1000
        assert "d/d" in numbers["Messages"]  # compared with the day before
        [chart] = post.attachments
        assert chart.content_type == "image/png" and chart.data.startswith(b"\x89PNG")
        assert post.embeds[0]["image"]["url"] == f"attachment://{chart.filename}"
        await reports.run_once(fake_clock() + 30)
        assert len(stack.posts("reports")) == 1  # exactly once
