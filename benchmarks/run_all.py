"""``make bench``: run every benchmark, write ``benchmarks/RESULTS.md``.

Every ``benchmarks/*.py`` module but ``_common``, ``run_all`` and ``__init__`` runs as
``python -m benchmarks.NAME`` in its own process, one after the other (benchmarks in parallel
would measure each other), each with a timeout. The last line of its stdout that is a JSON object
is its result. The table lists each claimed figure with its peer (the thing it is compared with,
measured in the same run) and its target; a benchmark that fails, times out or prints no JSON is
listed as failed with the reason, never left out. Exit status 1 when any benchmark failed.

    python -m benchmarks.run_all [--only record store] [--timeout 900] [--out FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import logging
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["CLAIMS", "Claim", "Outcome", "discover", "main", "render", "run_one"]

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SKIP = {"_common", "run_all", "__init__"}
DEFAULT_TIMEOUT = 900.0
TIMEOUTS = {"store": 1800.0, "stats_command": 1800.0, "scale": 7200.0}


@dataclasses.dataclass(frozen=True, slots=True)
class Claim:
    """One figure of a benchmark: its unit, its peer, its target.

    ``target`` is ``(op, bound)``; ``bound`` is a number or the name of a key of the result;
    ``on_ratio`` applies the target to figure / peer instead of the figure itself.
    """

    figure: str
    unit: str = ""
    peer: str | None = None
    target: tuple[str, float | str] | None = None
    on_ratio: bool = False


CLAIMS: dict[str, tuple[Claim, ...]] = {
    "record": (
        Claim("record_event_ns", "ns", "prom_inc_ns", ("<=", 0.5), on_ratio=True),
        Claim("observe_ns", "ns", "prom_observe_ns", ("<=", 0.3), on_ratio=True),
        Claim("observe_labelled_ns", "ns", "prom_observe_ns"),
    ),
    "store": (
        Claim("flush_rows_per_s", "rows/s", "sqlite3_rows_per_s", (">=", 0.5), on_ratio=True),
        Claim("flush_loop_lag_ms_max", "ms", None, ("<=", 5.0)),
        Claim("query_30d_ms", "ms", "query_24h_raw_ms", ("<=", 30.0)),
        Claim("db_bytes_30d", "B", None, ("<=", 100e6)),
    ),
    "scale": tuple(
        claim
        for g in (1000, 10000, 100000)
        for claim in (
            Claim(f"loop_block_max_ms_{g}", "ms", None, ("<=", 5.0)),
            Claim(f"drain_loop_ms_max_{g}", "ms", None, ("<=", 1.0)),
            Claim(f"write_ms_p99_{g}", "ms", None, ("<=", 500.0)),
            Claim(f"db_bytes_30d_{g}", "B", None, ("<=", 1.5e9 if g >= 100000 else 250e6)),
            Claim(f"stats_query_ms_all_{g}", "ms", None, ("<=", 30.0)),
        )
    ),
    "listener": (Claim("on_message_overhead_us", "µs", "bare_dispatch_us", ("<=", "target_us")),),
    "stats_command": (
        Claim("stats_p50_ms", "ms", "thread_stats_p50_ms", ("<=", 150.0)),
        Claim("stats_loop_lag_max_ms", "ms", "thread_loop_lag_max_ms", ("<=", 5.0)),
        Claim("render_ms", "ms"),
    ),
    "alerts": (
        Claim("evaluate_ms", "ms", None, ("<=", "evaluate_target_ms")),
        Claim("daily_report_ms", "ms", None, ("<=", "daily_report_target_ms")),
        Claim("daily_report_loop_lag_ms_max", "ms"),
    ),
    "page": (
        Claim("page_bytes", "B", None, ("<=", "target_page_bytes")),
        Claim("first_chart_ms", "ms", None, ("<=", "target_first_chart_ms")),
    ),
    "ws_fanout": (
        Claim("ws_cpu_percent_200", "%", "ws_cpu_percent_idle", ("<=", "target_cpu_percent")),
    ),
    "exposition": (
        Claim("render_us", "µs", "prom_client_render_us", ("<=", 1.0), on_ratio=True),
        Claim("feed_us", "µs", "drain_us", ("<=", 0.1), on_ratio=True),
    ),
}
"""Figures, peers and targets of the known benchmarks (from their docstrings). A benchmark not
listed here gets a row for every number it prints."""

_VERDICT_KEYS = ("targets_met", "meets_target", "ok")
_META = {"runs", "rounds", "python", "cpu_count", "machine", "clients", "window_seconds"}


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    """One benchmark run: its result, or why there is none."""

    name: str
    seconds: float
    result: dict[str, Any] | None
    error: str = ""


def discover(directory: Path = HERE) -> list[str]:
    """Benchmark module names, sorted."""
    return sorted(
        p.stem for p in directory.glob("*.py") if p.stem not in SKIP and not p.stem.startswith("_")
    )


def _last_json(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                return value
    return None


def run_one(name: str, timeout: float) -> Outcome:
    """Run ``python -m benchmarks.NAME`` and parse its last JSON line."""
    started = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", f"benchmarks.{name}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Outcome(name, time.monotonic() - started, None, f"timed out after {timeout:.0f} s")
    seconds = time.monotonic() - started
    result = _last_json(proc.stdout)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        return Outcome(name, seconds, result, f"exit status {proc.returncode}: {tail[:300]}")
    if result is None:
        return Outcome(name, seconds, None, "printed no JSON object on its last lines")
    return Outcome(name, seconds, result)


def _num(value: float) -> str:
    if value == int(value) or abs(value) >= 1e5:
        return f"{round(value):,}"
    if abs(value) >= 100:
        return f"{value:,.1f}"
    return f"{value:.3g}"


def _bound(result: dict[str, Any], bound: float | str) -> float | None:
    value = result.get(bound) if isinstance(bound, str) else bound
    return float(value) if isinstance(value, int | float) else None


def _rows(name: str, result: dict[str, Any]) -> list[list[str]]:
    claims = CLAIMS.get(name)
    if claims is None:
        claims = tuple(
            Claim(k) for k, v in result.items()
            if isinstance(v, int | float) and not isinstance(v, bool) and k not in _META
            and "target" not in k
        )  # fmt: skip
    rows: list[list[str]] = []
    for c in claims:
        value = result.get(c.figure)
        if not isinstance(value, int | float):
            met = "❌" if c.target is not None else "—"  # a claim with a target must be measured
            rows.append([name, f"`{c.figure}`", "not reported", "", "", "", met])
            continue
        peer = result.get(c.peer) if c.peer else None
        ratio = value / peer if isinstance(peer, int | float) and peer else None
        target, met = "", "—"
        if c.target is not None:
            op, raw = c.target
            bound = _bound(result, raw)
            subject = ratio if c.on_ratio else float(value)
            if bound is not None and subject is not None:
                target = f"{op} {_num(bound)}{'x peer' if c.on_ratio else ' ' + c.unit}"
                ok = subject <= bound if op == "<=" else subject >= bound
                met = "✅" if ok else "❌"
        rows.append([
            name,
            f"`{c.figure}`",
            f"{_num(float(value))} {c.unit}".strip(),
            f"`{c.peer}` {_num(float(peer))}" if isinstance(peer, int | float) else "",
            f"{ratio:.2f}" if ratio is not None else "",
            target,
            met,
        ])  # fmt: skip
    return rows


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}{' + uncommitted changes' if dirty else ''}"  # fmt: skip


def machine_line() -> str:
    return (
        f"{_cpu()} ({os.cpu_count()} cores), Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.system()} {platform.release()}"
    )


def render(outcomes: Sequence[Outcome], now: dt.datetime | None = None) -> str:
    """The Markdown of ``benchmarks/RESULTS.md``."""
    now = now or dt.datetime.now(dt.UTC)
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python -m benchmarks.run_all`); every figure is measured in",
        "the same run as its peer, on this machine:",
        "",
        f"- **Machine:** {machine_line()}",
        f"- **Date:** {now.strftime('%Y-%m-%d %H:%M UTC')}",
        f"- **Commit:** {_commit()}",
        "",
        "| benchmark | figure | value | peer | ratio | target | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        if o.result is None or o.error:
            lines.append(f"| {o.name} | **failed** | {o.error} | | | | ❌ |")
        if o.result is not None:
            lines += ["| " + " | ".join(row) + " |" for row in _rows(o.name, o.result)]
    lines += ["", "| benchmark | took | own verdict |", "|---|---|---|"]
    for o in outcomes:
        verdict = next((o.result[k] for k in _VERDICT_KEYS if o.result and k in o.result), None)
        shown = "failed" if o.error else {True: "✅", False: "❌", None: "—"}[verdict]
        lines.append(f"| {o.name} | {o.seconds:.0f} s | {shown} |")
    lines += ["", "## Raw results", ""]
    for o in outcomes:
        lines += [f"<details><summary>{o.name}</summary>", "", "```json",
                  json.dumps(o.result, indent=1, sort_keys=True) if o.result else o.error,
                  "```", "", "</details>", ""]  # fmt: skip
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run_all", description=__doc__)
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run these benchmarks only")
    parser.add_argument("--timeout", type=float, default=None,
                        help=f"seconds per benchmark (default {DEFAULT_TIMEOUT:.0f}, more for "
                        "the slow ones)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md", help="Markdown file")
    args = parser.parse_args(argv)
    names = discover()
    if args.only:
        unknown = sorted(set(args.only) - set(names))
        if unknown:
            parser.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(names)}")
        names = [n for n in names if n in args.only]
    outcomes = []
    for name in names:
        timeout = args.timeout or TIMEOUTS.get(name, DEFAULT_TIMEOUT)
        sys.stderr.write(f"[bench] {name} ...\n")
        sys.stderr.flush()
        outcome = run_one(name, timeout)
        state = f"FAILED: {outcome.error}" if outcome.error else "ok"
        sys.stderr.write(f"[bench] {name}: {state} ({outcome.seconds:.0f} s)\n")
        outcomes.append(outcome)
    args.out.write_text(render(outcomes), encoding="utf-8")
    sys.stderr.write(f"[bench] wrote {args.out}\n")
    return 1 if any(o.error for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
