"""The :class:`Monitor`: one object wiring config, clock, recorder, store, flusher and samplers.

It is what the cog, the web app, alerts and reports share, and the API a host bot uses for its
own metrics (``monitor.inc``, ``monitor.timer``...) and health checks (``monitor.add_check``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, ParamSpec, TypeVar

from .clock import Clock, system_clock
from .collectors import LoopLagSampler, SystemSampler
from .config import Config, load_config
from .errors import ErrorTracker
from .exposition import cumulative_for
from .flusher import Flusher
from .health import CheckFn, HealthCheck, HealthResult, run_checks
from .recorder import Recorder
from .redaction import secrets_from_environment
from .store.base import Store, StoreError

__all__ = ["Monitor", "Timer"]

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


class Timer:
    """Times a block or a function into a histogram, in milliseconds.

    As a context manager: ``with monitor.timer("llm_response_ms"): ...``; as a decorator on a
    sync or async function: ``@monitor.timer("llm_response_ms")``.
    """

    def __init__(self, monitor: Monitor, metric: str, labels: dict[str, Any]) -> None:
        self._monitor = monitor
        self._metric = metric
        self._labels = labels
        self._stack: list[float] = []

    def _record(self, started: float) -> None:
        elapsed = (time.perf_counter() - started) * 1000
        self._monitor.observe(self._metric, elapsed, **self._labels)

    def __enter__(self) -> Timer:
        self._stack.append(time.perf_counter())
        return self

    def __exit__(self, *exc: object) -> None:
        self._record(self._stack.pop())

    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                started = time.perf_counter()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    self._record(started)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self._record(started)

        return wrapper


class Monitor:
    """Everything the monitoring core runs. ``await start()`` / ``await stop()`` in pairs.

    ``store`` defaults to a :class:`~monitoring.store.sqlite.SQLiteStore` at ``config.db_path``
    (imported only then, so ``import monitoring`` stays free of database imports).
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        clock: Clock = system_clock,
        store: Store | None = None,
        system_interval: float = 10.0,
        loop_lag_interval: float = 0.5,
    ) -> None:
        self.config = config or load_config()
        self.clock = clock
        self.store: Store = store or self._default_store()
        self.recorder = Recorder(clock=clock)
        self.flusher = Flusher(
            self.recorder,
            self.store,
            interval=self.config.flush_interval_seconds,
            max_rows=self.config.buffer_max_rows,
            clock=clock,
        )
        self.loop_lag = LoopLagSampler(self.recorder, interval=loop_lag_interval)
        self.system = SystemSampler(self.recorder, interval=system_interval)
        self.errors = ErrorTracker(
            clock=clock,
            secrets=(self.config.api_key or "", self.config.metrics_token or "",
                     *secrets_from_environment()),
        )  # fmt: skip
        # /metrics totals count from the start, not from when the dashboard is first built
        cumulative_for(self.recorder, per_guild=self.config.metrics_per_guild)
        self.started_at = clock()
        self._checks: dict[str, HealthCheck] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def _default_store(self) -> Store:
        from .store.sqlite import SQLiteStore

        cfg = self.config
        return SQLiteStore(
            cfg.db_path,
            clock=self.clock,
            cluster=cfg.cluster,
            minute_retention_days=cfg.minute_retention_days,
            retention_days=cfg.retention_days,
            raw_retention_hours=cfg.raw_retention_hours,
        )

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    async def start(self, *, background: bool = True) -> None:
        """Open the store (failures are retried by the flusher) and start the loops."""
        await self.flusher.flush(force=True)  # opens the store, sets the salt
        if getattr(self.store, "is_open", False):
            try:
                await self.errors.load(self.store)
            except StoreError as exc:
                log.warning("could not load error groups: %s", exc)
        if background and not self._tasks:
            loops = {"flush": self._flush_loop}
            if self.config.metrics_enabled:  # off: nothing is sampled
                loops |= {"loop-lag": self.loop_lag.run, "system": self.system.run}
            for name, loop in loops.items():
                self._tasks.append(asyncio.create_task(loop(), name=f"monitoring-{name}"))

    async def save_state(self) -> None:
        """Persist in-memory state kept beside the metrics (error groups); forget groups past
        retention (their rows go with the store's retention run)."""
        self.errors.forget_before(self.clock() - self.config.retention_days * 86400)
        if getattr(self.store, "is_open", False):
            try:
                await self.errors.save(self.store)
            except StoreError as exc:
                log.warning("could not save error groups: %s", exc)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.flusher.interval)
            await self.flusher.flush()
            await self.save_state()

    async def stop(self) -> None:
        """Cancel and await every loop, flush what is left, close the store."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flusher.close()
        await self.save_state()
        await self.store.close()

    # -- the host bot's API -------------------------------------------------------------------

    def inc(self, metric: str, value: float = 1.0, **labels: Any) -> None:
        """Add to one of the bot's own counters (labels: guild, command, shard, kind)."""
        if self.config.metrics_enabled:
            self.recorder.inc(metric, value, **labels)

    def gauge(self, metric: str, value: float, **labels: Any) -> None:
        """Set one of the bot's own gauges."""
        if self.config.metrics_enabled:
            self.recorder.gauge(metric, value, **labels)

    def observe(self, metric: str, value: float, **labels: Any) -> None:
        """One observation into one of the bot's own histograms."""
        if self.config.metrics_enabled:
            self.recorder.observe(metric, value, **labels)

    def timer(self, metric: str, **labels: Any) -> Timer:
        """A timer (context manager or decorator) recording milliseconds into ``metric``."""
        return Timer(self, metric, labels)

    def add_check(
        self, name: str, fn: CheckFn, *, timeout: float = 5.0, critical: bool = True
    ) -> None:
        """Register an async health check returning bool, (bool, reason) or a HealthResult."""
        if not name or len(name) > 64:
            raise ValueError(f"health check name {name!r}: expected 1 to 64 characters")
        if timeout <= 0:
            raise ValueError(f"health check timeout {timeout!r}: expected a positive number")
        self._checks[name] = HealthCheck(name, fn, timeout, critical)

    def remove_check(self, name: str) -> None:
        self._checks.pop(name, None)

    def health_check(
        self, name: str, *, timeout: float = 5.0, critical: bool = True
    ) -> Callable[[Callable[[], Awaitable[Any]]], Callable[[], Awaitable[Any]]]:
        """Decorator form of :meth:`add_check`."""

        def register(fn: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[Any]]:
            self.add_check(name, fn, timeout=timeout, critical=critical)
            return fn

        return register

    async def run_custom_checks(self) -> list[HealthResult]:
        return await run_checks(self._checks.values())

    @property
    def checks(self) -> Iterator[HealthCheck]:
        return iter(self._checks.values())
