"""Off-loop work for /stats: a worker process (default) or a worker thread.

Chosen by measurement (``python -m benchmarks.stats_command``: 30 days of a 12-guild bot, ten
/stats back to back while a 1 ms ticker records how late the event loop wakes up; 2-core VM shared
with other jobs). Two things hold the GIL for long stretches: matplotlib (~80 ms per chart) and the
store's histogram functions, which SQLite calls in Python in the database thread (merging
thousands of bucket blobs for a 24 h or 30 d percentile). In any thread of the bot's process
either makes the loop wait for the GIL, for up to a switch interval (5 ms) at every turn:

==============================================  ===========  ========================
where the work runs                             /stats p50   worst loop lag (10 runs)
==============================================  ===========  ========================
worker thread: render (queries on the loop)     113-135 ms   64-115 ms
worker process: render only                     121 ms       8.3 ms
worker process: queries and render (default)    112-119 ms   3.8-4.1 ms (idle: 1.7-3.9)
==============================================  ===========  ========================

So in ``"process"`` mode the worker opens its *own read-only connection* and runs the whole
request, queries and chart: the bot's loop only pickles a small request and unpickles the summary
and the PNG. ``"thread"`` mode (``MONITOR_CHART_EXECUTOR=thread``) queries on the bot's store and
renders in one thread; it saves the worker's ~70 MB on very small hosts.

The worker is one Python child (running :func:`_worker_main`) speaking length-prefixed pickles over
its stdin/stdout, driven by asyncio: no executor threads, semaphores or resource-tracker process,
so :meth:`ChartRenderer.close` leaves nothing behind (an extension reload is leak-free). It runs at
a lower CPU priority, warms up (matplotlib import, font cache) in the background, and is restarted
after a crash or a timeout.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import functools
import logging
import os
import pickle
import signal
import struct
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .store.base import Store, StoreError

if TYPE_CHECKING:
    from .analysis import StatsSummary
    from .recommendations import Facts

__all__ = ["ChartError", "ChartRenderer", "DbSpec", "ExecutorKind", "StatsRequest", "StatsResult"]

log = logging.getLogger(__name__)

ExecutorKind = Literal["process", "thread"]
_HEADER = struct.Struct(">I")
_MAX_FRAME = 64 * 1024 * 1024
_ROOT = str(Path(__file__).resolve().parent.parent)
"""The folder holding the ``monitoring`` package (put on the worker's PYTHONPATH)."""


class ChartError(Exception):
    """A chart could not be rendered (bad input, worker crash or timeout)."""


@dataclasses.dataclass(frozen=True, slots=True)
class DbSpec:
    """How the worker opens its own read-only view of the bot's SQLite database."""

    path: str
    cluster: str = ""
    minute_retention_days: int = 7
    retention_days: int = 30

    @classmethod
    def of(cls, store: Any) -> DbSpec | None:
        """The spec of an open SQLiteStore, None for any other store (then work stays local)."""
        path = getattr(store, "path", None)
        if path is None or not getattr(store, "is_open", False):
            return None
        return cls(
            os.path.abspath(path),  # the worker may not share the bot's working directory
            getattr(store, "cluster", ""),
            getattr(store, "minute_retention_days", 7),
            getattr(store, "retention_days", 30),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class StatsRequest:
    """One /stats computation: summary, store facts and (when there is data) the chart."""

    metric: str
    period: str
    now: float
    guild: int | None
    facts_period: int = 86400
    shards: int | None = None
    chart: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    """Keyword arguments for :func:`~monitoring.charts.render_timeseries` (title, subtitle...)."""


@dataclasses.dataclass(frozen=True, slots=True)
class StatsResult:
    summary: StatsSummary
    facts: Facts
    png: bytes | None
    chart_error: str | None = None


def _render(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes:
    """Run ``monitoring.charts.<name>`` (only ``render_*`` functions)."""
    if not name.startswith("render_"):
        raise ValueError(f"{name!r} is not a chart function")
    from . import charts

    fn = getattr(charts, name, None)
    if fn is None:
        raise ValueError(f"monitoring.charts has no {name!r}")
    result = fn(*args, **kwargs)
    if not isinstance(result, bytes):
        raise TypeError(f"{name} returned {type(result).__name__}, expected bytes")
    return result


def _chart_for(summary: StatsSummary, chart: Mapping[str, Any]) -> tuple[bytes | None, str | None]:
    if not summary.has_data:
        return None, None
    try:
        png = _render(
            "render_timeseries",
            (summary.panels,),
            {"start": summary.start, "end": summary.end, "step": summary.step, **chart},
        )
    except (ValueError, TypeError, OverflowError, KeyError) as exc:
        log.warning("chart for %s/%s failed: %s", summary.metric, summary.period, exc)
        return None, f"{type(exc).__name__}: {exc}"
    return png, None


async def _compute(store: Store, req: StatsRequest) -> tuple[StatsSummary, Facts]:
    from .analysis import stats_summary
    from .recommendations import store_facts

    return await asyncio.gather(
        stats_summary(store, metric=req.metric, period=req.period, now=req.now, guild=req.guild),
        store_facts(
            store, now=req.now, guild=req.guild, period=req.facts_period, shards=req.shards
        ),
    )


class ChartRenderer:
    """Runs /stats work and :mod:`monitoring.charts` off the event loop. ``start()``/``close()``."""

    def __init__(self, kind: ExecutorKind = "process", *, timeout: float = 30.0) -> None:
        if kind not in ("process", "thread"):
            raise ValueError(f"chart executor {kind!r}: expected 'process' or 'thread'")
        self.kind: ExecutorKind = kind
        self.timeout = timeout
        self._proc: asyncio.subprocess.Process | None = None
        self._threads: concurrent.futures.ThreadPoolExecutor | None = None
        self._lock = asyncio.Lock()
        self._warmup: asyncio.Task[None] | None = None
        self._closed = False
        self.jobs = 0
        self.restarts = 0

    async def start(self, *, warm_up: bool = True) -> None:
        """Start the worker and (in the background) a warm-up render."""
        self._closed = False
        if self.kind == "thread" and self._threads is None:
            self._threads = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="monitoring-charts"
            )
        if warm_up and self._warmup is None:
            self._warmup = asyncio.create_task(self._warm(), name="monitoring-chart-warmup")

    async def _warm(self) -> None:
        try:
            await self.render("render_timeseries", [], title="warm-up")
        except ChartError as exc:
            log.warning("chart worker warm-up failed: %s", exc)

    async def render(self, name: str, *args: Any, **kwargs: Any) -> bytes:
        """``await render("render_timeseries", panels, title=...)`` -> PNG bytes.

        Raises :class:`ChartError` when the chart cannot be drawn or the worker fails.
        """
        if self.kind == "thread":
            result = await self._in_thread(functools.partial(_render, name, args, kwargs))
        else:
            result = await self._in_process("render", (name, args, kwargs))
        assert isinstance(result, bytes)
        return result

    async def stats(self, req: StatsRequest, *, store: Store) -> StatsResult:
        """Summary, store facts and chart for one request; in the worker when it can open the
        database itself (process mode and a SQLite store), else queries here and a render off-loop.

        Store failures raise :class:`StoreError`; chart failures leave ``png`` None.
        """
        db = DbSpec.of(store) if self.kind == "process" else None
        failed: str | None = None
        if db is not None:
            try:
                result = await self._in_process("stats", (db, req))
            except ChartError as exc:  # worker crashed or timed out: answer without a chart
                log.warning("chart worker failed, answering /stats without a chart: %s", exc)
                failed = str(exc)
            else:
                assert isinstance(result, StatsResult)
                return result
        summary, facts = await _compute(store, req)
        png: bytes | None = None
        error: str | None = failed
        if summary.has_data and failed is None:
            try:
                png = await self.render(
                    "render_timeseries",
                    summary.panels,
                    start=summary.start,
                    end=summary.end,
                    step=summary.step,
                    **req.chart,
                )
            except ChartError as exc:
                log.warning("chart for %s/%s failed: %s", req.metric, req.period, exc)
                error = str(exc)
        return StatsResult(summary, facts, png, error)

    async def _in_thread(self, fn: functools.partial[bytes]) -> bytes:
        if self._closed:
            raise ChartError("chart renderer is closed")
        if self._threads is None:
            await self.start(warm_up=False)
        assert self._threads is not None
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.timeout):
                result = await loop.run_in_executor(self._threads, fn)
        except TimeoutError:
            raise ChartError(f"chart took longer than {self.timeout:g}s") from None
        except (ValueError, TypeError, OverflowError, KeyError) as exc:
            raise ChartError(f"{type(exc).__name__}: {exc}") from exc
        self.jobs += 1
        return result

    async def _spawn(self) -> asyncio.subprocess.Process:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, env.get("PYTHONPATH", "")) if p)
        env["MPLBACKEND"] = "Agg"
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            # not ``-m``: the worker's classes must pickle as monitoring.chart_pool.*, not __main__.*
            "from monitoring.chart_pool import _worker_main; _worker_main()",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        log.debug("chart worker started (pid %d)", proc.pid)
        return proc

    async def _in_process(self, job: str, payload: tuple[Any, ...]) -> Any:
        if self._closed:
            raise ChartError("chart renderer is closed")
        async with self._lock:
            if self._proc is None or self._proc.returncode is not None:
                if self._proc is not None:
                    self.restarts += 1
                    log.warning("chart worker exited (%s); restarting", self._proc.returncode)
                self._proc = await self._spawn()
            proc = self._proc
            assert proc.stdin is not None and proc.stdout is not None
            request = pickle.dumps((job, payload), protocol=pickle.HIGHEST_PROTOCOL)
            try:
                async with asyncio.timeout(self.timeout):
                    proc.stdin.write(_HEADER.pack(len(request)) + request)
                    await proc.stdin.drain()
                    (size,) = _HEADER.unpack(await proc.stdout.readexactly(_HEADER.size))
                    if size > _MAX_FRAME:
                        raise ChartError(f"chart worker sent an oversized answer ({size} bytes)")
                    ok, value = pickle.loads(await proc.stdout.readexactly(size))
            except TimeoutError:
                await self._kill()
                raise ChartError(f"chart worker took longer than {self.timeout:g}s") from None
            except (asyncio.IncompleteReadError, ConnectionError, pickle.UnpicklingError) as exc:
                await self._kill()
                raise ChartError(f"chart worker failed: {type(exc).__name__}: {exc}") from None
            except BaseException:  # cancelled mid-request: the pipe is out of step, start afresh
                await asyncio.shield(self._kill())
                raise
        if ok:
            self.jobs += 1
            return value
        if isinstance(value, StoreError):
            raise value
        raise ChartError(str(value))

    async def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        await proc.wait()
        await _drain(proc)

    async def close(self) -> None:
        """Stop the worker (waits for it to exit); idempotent."""
        self._closed = True
        warm, self._warmup = self._warmup, None
        if warm is not None:
            warm.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await warm
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)
            self._threads = None
        async with self._lock:
            proc, self._proc = self._proc, None
            if proc is None:
                return
            if proc.returncode is None and proc.stdin is not None:
                proc.stdin.close()  # the worker exits at the end of its input
                try:
                    async with asyncio.timeout(5.0):
                        await proc.wait()
                except TimeoutError:
                    log.warning("chart worker did not exit; killing it")
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    await proc.wait()
            await _drain(proc)


async def _drain(proc: asyncio.subprocess.Process) -> None:
    """Read the exited worker's stdout to its end so its pipe transport closes now."""
    if proc.stdout is not None:
        with contextlib.suppress(ConnectionError, ValueError):
            await proc.stdout.read()


# -- the worker process ---------------------------------------------------------------------


class _Worker:
    """State of the worker process: one event loop and one read-only store per database."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.stores: dict[DbSpec, Any] = {}

    def store(self, db: DbSpec, now: float) -> Any:
        from .store.sqlite import SQLiteStore

        store = self.stores.get(db)
        if store is None:
            store = SQLiteStore(
                db.path,
                cluster=db.cluster,
                minute_retention_days=db.minute_retention_days,
                retention_days=db.retention_days,
                readonly=True,
            )
            self.loop.run_until_complete(store.open())
            self.stores[db] = store
        store.clock = lambda: now  # "now" is the bot's clock, not the worker's
        return store

    def stats(self, db: DbSpec, req: StatsRequest) -> StatsResult:
        store = self.store(db, req.now)
        summary, facts = self.loop.run_until_complete(_compute(store, req))
        png, error = _chart_for(summary, req.chart)
        return StatsResult(summary, facts, png, error)

    def handle(self, job: str, payload: tuple[Any, ...]) -> Any:
        if job == "render":
            return _render(*payload)
        if job == "stats":
            return self.stats(*payload)
        raise ValueError(f"unknown job {job!r}")

    def close(self) -> None:
        for store in self.stores.values():
            with contextlib.suppress(StoreError):
                self.loop.run_until_complete(store.close())
        self.loop.close()


def _worker_main() -> None:  # pragma: no cover - runs in the child process
    """Serve requests from stdin until it closes."""
    # Ctrl-C in a terminal reaches the whole process group: the bot shuts the worker down by
    # closing its stdin, so the worker ignores SIGINT instead of printing a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError, AttributeError):
        os.nice(5)  # the bot's own process comes first on a busy host
    logging.basicConfig(level=logging.WARNING, format="chart worker: %(levelname)s %(message)s")
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # stray prints must not corrupt the protocol
    worker = _Worker()
    try:
        while True:
            header = stdin.read(_HEADER.size)
            if len(header) < _HEADER.size:
                return
            (size,) = _HEADER.unpack(header)
            job, payload = pickle.loads(stdin.read(size))
            try:
                answer: tuple[bool, Any] = (True, worker.handle(job, payload))
            except StoreError as exc:
                answer = (False, exc)
            except Exception as exc:  # any other failure is reported to the parent as ChartError
                answer = (False, f"{type(exc).__name__}: {exc}")
            data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
            stdout.write(_HEADER.pack(len(data)) + data)
            stdout.flush()
    finally:
        worker.close()
