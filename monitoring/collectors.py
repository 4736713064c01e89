"""Samplers that run as background tasks: event-loop lag and host resources (psutil)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time

import psutil

from .recorder import Recorder

__all__ = ["HostSample", "LoopLagSampler", "SystemSampler"]

log = logging.getLogger(__name__)


class LoopLagSampler:
    """Measures how late a periodic wake-up is (event-loop lag) and ticks the recorder.

    Every ``interval`` seconds: records ``loop_lag_ms`` (a gauge and a histogram) and calls
    :meth:`Recorder.tick` so the per-minute windows follow the clock.
    """

    def __init__(self, recorder: Recorder, *, interval: float = 0.5) -> None:
        self.recorder = recorder
        self.interval = interval
        self.last_lag_ms = 0.0
        self.max_lag_ms = 0.0
        self._hist = recorder.histogram("loop_lag_ms")

    def sample(self, lag_seconds: float) -> None:
        lag_ms = max(0.0, lag_seconds * 1000.0)
        self.last_lag_ms = lag_ms
        self.max_lag_ms = max(self.max_lag_ms, lag_ms)
        self._hist.observe(lag_ms)
        self.recorder.tick()

    async def run(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.sample(time.perf_counter() - started - self.interval)


@dataclasses.dataclass(frozen=True, slots=True)
class HostSample:
    """One reading of the host and of this process."""

    cpu_percent: float
    memory_percent: float
    process_rss_mb: float
    process_cpu_percent: float
    disk_percent: float
    net_sent_bytes: int
    net_recv_bytes: int


class SystemSampler:
    """Host CPU, memory, disk and network, read off the event loop every ``interval`` seconds."""

    def __init__(self, recorder: Recorder, *, interval: float = 10.0, disk_path: str = ".") -> None:
        self.recorder = recorder
        self.interval = interval
        self.disk_path = disk_path
        self.last: HostSample | None = None
        self._process = psutil.Process(os.getpid())
        self._net_prev: tuple[int, int] | None = None
        psutil.cpu_percent(None)  # prime the counters: the first real reading is meaningful
        self._process.cpu_percent(None)

    def read(self) -> HostSample:
        """Read everything (blocking: a few system calls; call it in a thread)."""
        net = psutil.net_io_counters()
        with self._process.oneshot():
            rss = self._process.memory_info().rss
            proc_cpu = self._process.cpu_percent(None)
        return HostSample(
            cpu_percent=psutil.cpu_percent(None),
            memory_percent=psutil.virtual_memory().percent,
            process_rss_mb=rss / 1_048_576,
            process_cpu_percent=proc_cpu,
            disk_percent=psutil.disk_usage(self.disk_path).percent,
            net_sent_bytes=net.bytes_sent if net else 0,
            net_recv_bytes=net.bytes_recv if net else 0,
        )

    def record(self, s: HostSample) -> None:
        rec = self.recorder
        rec.gauge("cpu_percent", s.cpu_percent)
        rec.gauge("memory_percent", s.memory_percent)
        rec.gauge("process_rss_mb", s.process_rss_mb)
        rec.gauge("process_cpu_percent", s.process_cpu_percent)
        rec.gauge("disk_percent", s.disk_percent)
        if self._net_prev is not None:
            sent = max(0, s.net_sent_bytes - self._net_prev[0])
            recv = max(0, s.net_recv_bytes - self._net_prev[1])
            rec.inc("net_sent_bytes", sent)
            rec.inc("net_recv_bytes", recv)
        self._net_prev = (s.net_sent_bytes, s.net_recv_bytes)
        self.last = s

    async def run(self) -> None:
        while True:
            try:
                self.record(await asyncio.to_thread(self.read))
            except (psutil.Error, OSError) as exc:
                log.warning("host metrics unavailable: %s", exc)
            await asyncio.sleep(self.interval)
