"""Observations for the engine: each rule's current value, from live readings and the store.

Live readings come first (the recorder's latest gauges, the flusher's state, signal providers the
cog registers for the gateway); recorded metrics are reduced over each rule's window from a
:class:`WindowCache` of per-minute rows. The cache fetches the whole window once, then only the
last two minutes on each round, in a single query covering every series the rules need, so an
evaluation costs one small read in the database thread.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from .. import histogram
from ..anomaly import AnomalyDetector, describe
from .engine import Observation
from .rules import BUILTIN_SIGNALS, Rule

__all__ = ["Provider", "SeriesKey", "SignalSource", "WindowCache", "series_needed"]

log = logging.getLogger(__name__)

SeriesKey = tuple[str, int, str]
"""(metric, guild, command); shards are kept apart inside the cache."""

Provider = Callable[[float], Mapping[str, float | None] | Awaitable[Mapping[str, float | None]]]
"""A live signal: ``now -> {key: value}`` (key ``""`` or ``"shard=N"``), sync or async."""

_Row = tuple[int, float, float | None, float | None, bytes | None]
"""(count, sum, min, max, buckets) of one minute."""

_STORE_BACKED = {
    "error_rate": ("command_latency_ms", "command_errors"),
    "command_p95_ms": ("command_latency_ms",),
    "loop_lag_ms": ("loop_lag_ms",),
    "deadline_missed": ("interaction_deadline_missed",),
    "cpu_percent": ("cpu_percent",),
    "memory_percent": ("memory_percent",),
    "disk_percent": ("disk_percent",),
}


def series_needed(rules: Iterable[Rule]) -> set[SeriesKey]:
    """Every store series the rules read."""
    out: set[SeriesKey] = set()
    for rule in rules:
        if rule.metric in _STORE_BACKED:
            out.update((m, rule.guild, rule.command) for m in _STORE_BACKED[rule.metric])
        elif rule.metric not in BUILTIN_SIGNALS:
            out.add((rule.metric, rule.guild, rule.command))
    return out


class WindowCache:
    """Per-minute rows of a fixed set of series for the last ``span`` seconds."""

    def __init__(self, store: Any, series: Iterable[SeriesKey], span: float) -> None:
        self.store = store
        self.series = sorted(set(series))
        self.span = span
        self.rows: dict[SeriesKey, dict[int, dict[int, _Row]]] = {k: {} for k in self.series}
        self._fetched_to: int | None = None

    async def refresh(self, now: float) -> None:
        if not self.series:
            return
        minute = int(now // 60) * 60
        oldest = minute - int(self.span // 60 + 1) * 60
        since = oldest if self._fetched_to is None else max(oldest, self._fetched_to - 120)
        terms = " OR ".join("(metric = ? AND guild = ? AND command = ?)" for _ in self.series)
        params: list[Any] = [p for key in self.series for p in key]
        rows = await self.store.fetchall(
            "SELECT metric, guild, command, shard, ts, SUM(count), SUM(sum), MIN(min), MAX(max),"
            f" hmerge(buckets) FROM rollup_minute WHERE ts >= ? AND ({terms})"
            " GROUP BY metric, guild, command, shard, ts",
            [since, *params],
        )
        for series in self.rows.values():
            for per_shard in series.values():
                for ts in [t for t in per_shard if t < oldest or t >= since]:
                    del per_shard[ts]
        for metric, guild, command, shard, ts, count, total, lo, hi, blob in rows:
            key = (metric, guild, command)
            self.rows[key].setdefault(int(shard), {})[int(ts)] = (
                int(count),
                float(total),
                lo,
                hi,
                blob,
            )
        self._fetched_to = minute

    def window(
        self, key: SeriesKey, now: float, seconds: float, shard: int | None = None
    ) -> dict[int, list[_Row]]:
        """Rows of the window by shard (all shards when ``shard`` is None), oldest first."""
        start = int((now - seconds) // 60) * 60
        out: dict[int, list[_Row]] = {}
        for s, per_ts in self.rows.get(key, {}).items():
            if shard is None or s == shard:
                picked = [per_ts[t] for t in sorted(per_ts) if start <= t < now]
                if picked:
                    out[s] = picked
        return out


def span(now: float, seconds: float) -> float:
    """Seconds actually covered by a window of whole minutes reaching back ``seconds``."""
    return now - int((now - seconds) // 60) * 60


def reduce(rows: Sequence[_Row], stat: str, seconds: float) -> float | None:
    """One statistic of a window's minute rows (``seconds``: the span, for ``rate``)."""
    if not rows:
        return None
    count = sum(r[0] for r in rows)
    total = sum(r[1] for r in rows)
    if stat == "count":
        return float(count)
    if stat == "sum":
        return total
    if stat == "rate":
        return total / max(seconds / 60.0, 1.0)
    if stat == "last":
        last = rows[-1]
        return last[1] / last[0] if last[0] else None
    if stat == "mean":
        return total / count if count else None
    if stat == "min":
        values = [r[2] for r in rows if r[2] is not None]
        return min(values) if values else None
    if stat == "max":
        values = [r[3] for r in rows if r[3] is not None]
        return max(values) if values else None
    q = {"p50": 0.5, "p95": 0.95, "p99": 0.99}[stat]
    lows = [r[2] for r in rows if r[2] is not None]
    highs = [r[3] for r in rows if r[3] is not None]
    merged = histogram.merge_blobs(r[4] for r in rows)
    return histogram.quantile(merged, q, min(lows) if lows else None, max(highs) if highs else None)


def _merged(per_shard: Mapping[int, list[_Row]]) -> list[_Row]:
    return [r for rows in per_shard.values() for r in rows]


class SignalSource:
    """Computes every rule's observations for one evaluation round."""

    def __init__(
        self, monitor: Any, rules: Sequence[Rule], anomaly: AnomalyDetector | None
    ) -> None:
        self.monitor = monitor
        self.rules = tuple(rules)
        self.anomaly = anomaly
        self.providers: dict[str, Provider] = {}
        span = max((r.window_seconds for r in rules), default=300.0)
        self.cache = WindowCache(monitor.store, series_needed(rules), span)

    def register(self, signal: str, provider: Provider) -> None:
        """Let a live source (the cog: gateway latency, shard state) answer for ``signal``."""
        self.providers[signal] = provider

    async def observe(self, now: float) -> dict[str, dict[str, Observation]]:
        await self.cache.refresh(now)
        live: dict[str, Mapping[str, float | None]] = {}
        for name, provider in self.providers.items():
            result = provider(now)
            if isinstance(result, Awaitable):
                result = await result
            live[name] = result
        out: dict[str, dict[str, Observation]] = {}
        for rule in self.rules:
            if rule.metric in live and rule.kind == "threshold":
                out[rule.name] = {k: Observation(v) for k, v in live[rule.metric].items()}
            elif rule.kind == "anomaly":
                out[rule.name] = await self._anomaly(rule, now)
            else:
                out[rule.name] = self._threshold(rule, now)
        return out

    def _gauge(self, metric: str) -> float | None:
        gauges = getattr(getattr(self.monitor, "recorder", None), "last_gauges", {})
        return gauges.get((metric, 0, "", -1, ""))

    def _threshold(self, rule: Rule, now: float) -> dict[str, Observation]:
        m, w, key = rule.metric, rule.window_seconds, (rule.metric, rule.guild, rule.command)
        cache = self.cache
        if m in ("cpu_percent", "memory_percent", "disk_percent"):
            value = self._gauge(m)
            if value is None:
                value = reduce(_merged(cache.window(key, now, w)), "mean", w)
            return {"": Observation(value)}
        if m == "flush_lag_seconds":
            lag = self.monitor.flusher.stats.lag(now)
            return {"": Observation(lag if lag is not None else now - self.monitor.started_at)}
        if m == "error_rate":
            lat = reduce(
                _merged(cache.window(("command_latency_ms", rule.guild, rule.command), now, w)),
                "count",
                w,
            )
            err = reduce(
                _merged(cache.window(("command_errors", rule.guild, rule.command), now, w)),
                "sum",
                w,
            )
            if not lat or lat < 10:
                return {"": Observation(None)}
            return {"": Observation((err or 0.0) / lat)}
        if m == "command_p95_ms":
            rows = _merged(cache.window(("command_latency_ms", rule.guild, rule.command), now, w))
            return {"": Observation(reduce(rows, "p95", w))}
        if m == "loop_lag_ms":
            return {"": Observation(reduce(_merged(cache.window(key, now, w)), "p95", w))}
        if m == "deadline_missed":
            rows = _merged(
                cache.window(("interaction_deadline_missed", rule.guild, rule.command), now, w)
            )
            return {"": Observation(reduce(rows, "sum", w) or 0.0)}
        if m in BUILTIN_SIGNALS:
            return {}  # a live signal whose provider is not registered (no cog): no data
        per_shard = cache.window(key, now, w)
        if rule.per_shard:
            return {
                f"shard={s}": Observation(reduce(rows, rule.stat, span(now, w)))
                for s, rows in sorted(per_shard.items())
            }
        return {"": Observation(reduce(_merged(per_shard), rule.stat, span(now, w)))}

    async def _anomaly(self, rule: Rule, now: float) -> dict[str, Observation]:
        if self.anomaly is None:
            return {}
        baseline = await self.anomaly.baseline(
            rule.metric, rule.stat, now, guild=rule.guild, command=rule.command
        )
        if baseline is None:
            return {}
        rows = _merged(
            self.cache.window((rule.metric, rule.guild, rule.command), now, rule.window_seconds)
        )
        stat = "count" if rule.stat == "count" else "sum"
        total = reduce(rows, stat, rule.window_seconds) or 0.0
        rate = total / max(span(now, rule.window_seconds) / 60.0, 1.0)
        deviation = baseline.deviation(rate)
        label = rule.description or f"{rule.metric}/min"
        if not math.isfinite(deviation):
            return {}
        return {"": Observation(abs(deviation), describe(label, rate, baseline))}
