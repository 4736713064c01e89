"""Benchmark: alert evaluation and the daily report. ``python -m benchmarks.alerts``.

- ``evaluate_ms``: one evaluation round of 50 rules over the last hour of per-minute data (the
  steady state: the window cache refreshes the last two minutes, 50 rules reduce their windows,
  the engine runs, the round is committed), median of many rounds. Target <= 5 ms.
- ``daily_report_ms``: build the daily report (totals with day-over-day and week-over-week,
  commands, errors, uptime, insights) and render its chart, from 30 days of data, median of
  several runs after a warm-up. Target <= 500 ms.

Progress goes to stderr; the last line of stdout is ONE JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

from monitoring import Config, FakeClock, Monitor
from monitoring.alerts import AlertService, LogDestination, Rule
from monitoring.reports.daily import build_daily_report, report_cards
from monitoring.reports.sample_data import synthetic_batch
from monitoring.reports.schedule import DueReport

from ._common import emit, machine

EVALUATE_TARGET_MS = 5.0
DAILY_REPORT_TARGET_MS = 500.0
NOW = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC).timestamp()


def log(message: str) -> None:
    sys.stderr.write(f"[alerts bench] {message}\n")
    sys.stderr.flush()


def fifty_rules() -> list[Rule]:
    """A realistic mix: latency percentiles per command, rates, gauges, error counts, windows 5-60 min."""
    rules: list[Rule] = []
    commands = ("ping", "stats", "play", "help", "rank")
    for i in range(50):
        kind = i % 5
        window = (300, 600, 900, 1800, 3600)[i % 5]
        if kind == 0:
            rule = Rule(name=f"p95_{i}", metric="command_latency_ms", stat="p95",
                        command=commands[i % len(commands)], comparison=">", threshold=2000,
                        window_seconds=window, for_seconds=300)  # fmt: skip
        elif kind == 1:
            rule = Rule(name=f"rate_{i}", metric="messages", stat="rate", comparison="<",
                        threshold=0.5, window_seconds=window, for_seconds=600)  # fmt: skip
        elif kind == 2:
            rule = Rule(name=f"cpu_{i}", metric="cpu_percent", stat="max", comparison=">",
                        threshold=95, window_seconds=window)  # fmt: skip
        elif kind == 3:
            rule = Rule(name=f"errors_{i}", metric="command_errors", stat="sum",
                        command=commands[i % len(commands)], comparison=">", threshold=50,
                        window_seconds=window)  # fmt: skip
        else:
            rule = Rule(name=f"lag_{i}", metric="loop_lag_ms", stat="p99", comparison=">",
                        threshold=500, window_seconds=window, for_seconds=120)  # fmt: skip
        rules.append(rule)
    return rules


async def bench_evaluate(folder: Path, rounds: int) -> tuple[float, float]:
    clock = FakeClock(NOW)
    monitor = Monitor(Config(db_path=folder / "evaluate.db"), clock=clock, system_interval=3600)
    await monitor.start(background=False)
    try:
        log("writing a day of per-minute data")
        await monitor.store.write(synthetic_batch(NOW, days=1, minute_days=1))
        service = AlertService(monitor, rules=fifty_rules(), destination=LogDestination())
        await service.start(clock())
        started = time.perf_counter()
        await service.evaluate(clock())  # cold: the whole hour is fetched once
        cold = (time.perf_counter() - started) * 1000
        times = []
        for _ in range(rounds):
            clock.advance(15)
            started = time.perf_counter()
            await service.evaluate(clock())
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times), cold
    finally:
        await monitor.stop()


class LagProbe:
    """Worst event-loop lag while it runs (a 1 ms sleeper measuring its own lateness)."""

    def __init__(self) -> None:
        self.worst_ms = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(0.001)
            self.worst_ms = max(self.worst_ms, (time.perf_counter() - started - 0.001) * 1000)

    async def __aenter__(self) -> LagProbe:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def bench_daily_report(folder: Path, runs: int) -> tuple[float, float, int, float]:
    from monitoring.reports.chart import render_report_chart

    clock = FakeClock(NOW)
    monitor = Monitor(Config(db_path=folder / "report.db"), clock=clock, system_interval=3600)
    await monitor.start(background=False)
    try:
        log("writing 30 days of data (7 of them per minute)")
        await monitor.store.write(synthetic_batch(NOW, days=30))
        due = DueReport(dt.date(2026, 3, 10), NOW, late=False)
        times, build_times, lags, size = [], [], [], 0
        for run in range(runs + 1):
            async with LagProbe() as probe:
                started = time.perf_counter()
                report = await build_daily_report(monitor, due, now=NOW)
                built = time.perf_counter()
                png = await asyncio.to_thread(render_report_chart, report)
                report_cards(report, service_style(monitor))
                done = time.perf_counter()
            if run:  # the first run is a warm-up (imports, font cache)
                times.append((done - started) * 1000)
                build_times.append((built - started) * 1000)
                lags.append(probe.worst_ms)
            size = len(png)
        return statistics.median(times), statistics.median(build_times), size, max(lags)
    finally:
        await monitor.stop()


async def bench_report_in_worker(folder: Path, runs: int) -> tuple[float, float]:
    """The same, drawing in the /stats chart worker process as the cog does."""
    from monitoring.chart_pool import ChartRenderer
    from monitoring.reports.build import chart_request

    clock = FakeClock(NOW)
    monitor = Monitor(Config(db_path=folder / "report.db"), clock=clock, system_interval=3600)
    await monitor.start(background=False)
    renderer = ChartRenderer("process")
    await renderer.start(warm_up=False)
    try:
        due = DueReport(dt.date(2026, 3, 10), NOW, late=False)
        times, lags = [], []
        for run in range(runs + 1):
            async with LagProbe() as probe:
                started = time.perf_counter()
                report = await build_daily_report(monitor, due, now=NOW)
                panels, kwargs = chart_request(report)
                await renderer.render("render_timeseries", panels, **kwargs)
                done = time.perf_counter()
            if run:
                times.append((done - started) * 1000)
                lags.append(probe.worst_ms)
        return statistics.median(times), max(lags)
    finally:
        await renderer.close()
        await monitor.stop()


def service_style(monitor: Monitor):  # type: ignore[no-untyped-def]
    from monitoring.alerts.cards import CardStyle

    return CardStyle(tz=monitor.config.tz)


async def main(rounds: int, runs: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        log(f"evaluation: 50 rules, {rounds} rounds")
        evaluate_ms, cold_ms = await bench_evaluate(folder, rounds)
        log(f"evaluate median {evaluate_ms:.2f} ms (cold {cold_ms:.1f} ms)")
        log(f"daily report: {runs} runs")
        report_ms, build_ms, png_bytes, lag_ms = await bench_daily_report(folder, runs)
        log(f"daily report median {report_ms:.0f} ms (content {build_ms:.0f} ms)")
        log(f"worst event-loop lag while building and drawing: {lag_ms:.1f} ms")
        worker_ms, worker_lag_ms = await bench_report_in_worker(folder, runs)
        log(f"with the chart worker process: {worker_ms:.0f} ms, worst lag {worker_lag_ms:.1f} ms")
    return {
        "evaluate_ms": round(evaluate_ms, 3),
        "evaluate_target_ms": EVALUATE_TARGET_MS,
        "evaluate_cold_ms": round(cold_ms, 2),
        "evaluate_rounds": rounds,
        "daily_report_ms": round(report_ms, 1),
        "daily_report_target_ms": DAILY_REPORT_TARGET_MS,
        "daily_report_content_ms": round(build_ms, 1),
        "daily_report_runs": runs,
        "daily_report_png_bytes": png_bytes,
        "daily_report_loop_lag_ms_max": round(lag_ms, 1),
        "daily_report_worker_ms": round(worker_ms, 1),
        "daily_report_worker_loop_lag_ms_max": round(worker_lag_ms, 1),
        "ok": evaluate_ms <= EVALUATE_TARGET_MS and report_ms <= DAILY_REPORT_TARGET_MS,
        "machine": machine(),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200, help="evaluation rounds (default 200)")
    parser.add_argument("--runs", type=int, default=7, help="daily report runs (default 7)")
    args = parser.parse_args()
    emit(asyncio.run(main(args.rounds, args.runs)))
