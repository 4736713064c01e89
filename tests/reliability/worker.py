"""A bot-like process for the reliability tests: a real :class:`~monitoring.Monitor` ingesting.

``python -m tests.reliability.worker fixed --db F --cluster C --messages N``: records ``N``
messages (and a command every 50) over a second or so while the monitor flushes in the
background, stops cleanly (final flush) and prints one JSON line with what it recorded.

``python -m tests.reliability.worker flood --db F --cluster C --shm S``: records messages as fast
as it can (letting the loop poll every 1,000), flushing every ``--flush`` seconds, until killed. Progress goes to the shared
memory file ``S`` (doubles, see ``SLOTS``), which survives ``kill -9``: messages recorded, messages
recorded when the last *committed* flush swapped its windows, that swap's time, the slowest flush.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import mmap
import struct
import sys
import time
from pathlib import Path

from monitoring import Config, Monitor

__all__ = ["SLOTS", "read_slots"]

SLOTS = ("recorded", "committed", "drain_time", "max_flush_s", "flushes", "started")
GUILDS = [811111111111111111 + i for i in range(10)]
YIELD_S = 0.0002
"""The ingest loop lets the event loop poll (as a real bot waits on its sockets) every 1,000
events; with ``sleep(0)`` a loop that is never idle starves the database thread (GIL convoy)."""


def read_slots(path: Path) -> dict[str, float]:
    data = path.read_bytes()[: 8 * len(SLOTS)].ljust(8 * len(SLOTS), b"\0")  # may be new
    return dict(zip(SLOTS, struct.unpack(f"{len(SLOTS)}d", data), strict=True))


def _monitor(args: argparse.Namespace) -> Monitor:
    config = Config(db_path=Path(args.db), cluster=args.cluster, flush_interval_seconds=args.flush)
    return Monitor(config, system_interval=3600)


async def fixed(args: argparse.Namespace) -> dict[str, object]:
    monitor = _monitor(args)
    await monitor.start()
    rec = monitor.recorder
    commands = 0
    for i in range(args.messages):
        rec.message(GUILDS[i % len(GUILDS)], 10_000 + i % 700)
        if i % 50 == 0:
            rec.command("ping", "slash", GUILDS[i % len(GUILDS)], 10_000 + i % 700, 12.0, True)
            commands += 1
        if i % 500 == 499:
            await asyncio.sleep(0.01)
    await monitor.stop()
    stats = monitor.flusher.stats
    return {
        "messages": args.messages,
        "commands": commands,
        "dropped": stats.dropped_rows,
        "pending": stats.pending_rows,
        "failures_seen": stats.consecutive_failures,
    }


async def flood(args: argparse.Namespace) -> None:
    shm_path = Path(args.shm)
    shm_path.write_bytes(b"\0" * 8 * len(SLOTS))
    with shm_path.open("r+b") as fh:
        shm = mmap.mmap(fh.fileno(), 8 * len(SLOTS))

    def put(slot: str, value: float) -> None:
        struct.pack_into("d", shm, 8 * SLOTS.index(slot), value)

    monitor = _monitor(args)
    await monitor.start(background=False)
    rec = monitor.recorder
    recorded = [0]
    at_drain = [0.0, 0.0]  # messages recorded, time, at the latest drain

    swap = rec.swap

    def swap_and_mark(*args: object, **kwargs: object) -> object:
        # the batch holds what was recorded up to the swap (on the loop); aggregating it (in a
        # worker thread) happens later, while recording goes on
        at_drain[0], at_drain[1] = recorded[0], time.time()
        return swap(*args, **kwargs)  # type: ignore[arg-type]

    rec.swap = swap_and_mark  # type: ignore[method-assign,assignment]

    async def flush_loop() -> None:
        slowest, flushes = 0.0, 0
        while True:
            await asyncio.sleep(args.flush)
            started = time.perf_counter()
            ok = await monitor.flusher.flush()
            slowest = max(slowest, time.perf_counter() - started)
            put("max_flush_s", slowest)
            if ok:
                flushes += 1
                put("committed", at_drain[0])
                put("drain_time", at_drain[1])
                put("flushes", flushes)

    tasks = [asyncio.create_task(flush_loop()), asyncio.create_task(monitor.loop_lag.run())]
    put("started", time.time())
    message = rec.message
    batch = 0
    while True:
        guild = GUILDS[batch % len(GUILDS)]
        for user in range(1000):
            message(guild, user)
        recorded[0] += 1000
        put("recorded", recorded[0])
        if batch % 20 == 0:
            rec.command("ping", "slash", guild, batch % 1000, 12.0, True)
        batch += 1
        await asyncio.sleep(YIELD_S)
    del tasks  # pragma: no cover - killed before


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.worker")
    parser.add_argument("mode", choices=("fixed", "flood"))
    parser.add_argument("--db", required=True)
    parser.add_argument("--cluster", default="")
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--flush", type=float, default=0.1)
    parser.add_argument("--shm", default="")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.mode == "fixed":
        sys.stdout.write(json.dumps(asyncio.run(fixed(args))) + "\n")
    else:
        asyncio.run(flood(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
