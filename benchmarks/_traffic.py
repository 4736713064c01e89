"""A realistic bot's traffic, shared by ``benchmarks.scale`` and ``benchmarks.store``.

- guild activity is Zipf-like (weight of the guild ranked r is ``1 / r``): a few big guilds and a
  long tail; users too (200,000 users, weight ``1 / r ** 0.8``);
- 5 % of events are slash commands (30 names, Zipf-like) with lognormal latency (median 80 ms)
  and 2 % errors, the rest messages;
- 10 % of guilds have voice (sessions and minutes, weighted like their messages);
- two shards per 2,500 guilds, each reporting its gateway latency; host gauges.

Events are drawn in vectorized batches (numpy) so that a simulated month costs seconds per
guild-count, not hours; :meth:`Traffic.feed` puts one slice of time into a real ``Recorder``
the way the cog would (messages in per-guild bulk for long simulations, or one by one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from monitoring import Recorder

__all__ = ["COMMANDS", "GUILD_BASE", "Slice", "Traffic"]

GUILD_BASE = 800_000_000_000_000_000
USER_BASE = 300_000_000_000_000_000
COMMANDS = [f"cmd{i}" for i in range(30)]
COMMAND_SHARE = 0.05
VOICE_SHARE = 0.10
USERS = 200_000


@dataclass(frozen=True, slots=True)
class Slice:
    """The events of one slice of time, as arrays."""

    msg_guilds: np.ndarray
    msg_users: np.ndarray
    cmd_guilds: np.ndarray
    cmd_users: np.ndarray
    cmd_names: np.ndarray
    cmd_latency: np.ndarray
    cmd_ok: np.ndarray


class Traffic:
    """``guilds`` guilds receiving ``msg_per_s`` events a second (5 % of them commands)."""

    def __init__(self, guilds: int, msg_per_s: float, *, seed: int = 42) -> None:
        self.guilds = guilds
        self.msg_per_s = msg_per_s
        self.rng = np.random.default_rng(seed)
        self.guild_ids = GUILD_BASE + np.arange(guilds, dtype=np.int64)
        self._guild_cdf = _cdf(1.0 / np.arange(1, guilds + 1))
        self._user_cdf = _cdf(1.0 / np.arange(1, USERS + 1) ** 0.8)
        self._cmd_cdf = _cdf(1.0 / np.arange(1, len(COMMANDS) + 1))
        self.shards = 2 * max(1, math.ceil(guilds / 2500))
        voice = self.rng.random(guilds) < VOICE_SHARE
        self.voice_guilds = self.guild_ids[voice]

    def shard_of(self, guild_id: int) -> int:
        return (guild_id >> 22) % self.shards

    def draw(self, seconds: float, rhythm: float = 1.0) -> Slice:
        """The events of ``seconds`` of traffic (``rhythm`` scales the rate: day and night)."""
        rng = self.rng
        n = int(rng.poisson(self.msg_per_s * seconds * rhythm))
        n_cmd = int(rng.binomial(n, COMMAND_SHARE))
        n_msg = n - n_cmd
        gi = np.searchsorted(self._guild_cdf, rng.random(n))
        ui = np.searchsorted(self._user_cdf, rng.random(n)) + USER_BASE
        ci = np.searchsorted(self._cmd_cdf, rng.random(n_cmd))
        return Slice(
            msg_guilds=self.guild_ids[gi[:n_msg]],
            msg_users=ui[:n_msg],
            cmd_guilds=self.guild_ids[gi[n_msg:]],
            cmd_users=ui[n_msg:],
            cmd_names=ci,
            cmd_latency=rng.lognormal(math.log(80.0), 0.8, n_cmd),
            cmd_ok=rng.random(n_cmd) > 0.02,
        )

    def feed(self, rec: Recorder, s: Slice, *, bulk: bool = True, ts: float | None = None) -> None:
        """Put one slice into ``rec``: messages per guild in bulk (or one by one), commands
        one by one, a few voice events and the gauges the samplers would write."""
        if bulk:
            guilds, inverse = np.unique(s.msg_guilds, return_inverse=True)
            order = np.argsort(inverse, kind="stable")
            bounds = np.searchsorted(inverse[order], np.arange(len(guilds) + 1))
            users = s.msg_users[order]
            for j, g in enumerate(guilds.tolist()):
                lo, hi = int(bounds[j]), int(bounds[j + 1])
                rec.messages_bulk(g, hi - lo, users[lo:hi].tolist())
        else:
            message = rec.message
            for g, u in zip(s.msg_guilds.tolist(), s.msg_users.tolist(), strict=True):
                message(g, u)
        for g, u, c, lat, ok in zip(
            s.cmd_guilds.tolist(),
            s.cmd_users.tolist(),
            s.cmd_names.tolist(),
            s.cmd_latency.tolist(),
            s.cmd_ok.tolist(),
            strict=True,
        ):
            rec.command(COMMANDS[c], "slash", g, u, lat, ok, first_response_ms=lat * 0.6, ts=ts)
        if len(self.voice_guilds) and len(s.msg_guilds):
            # voice activity roughly proportional to text: one voice event per 50 messages
            k = max(1, len(s.msg_guilds) // 50)
            for g in self.rng.choice(self.voice_guilds, k).tolist():
                rec.inc("voice_sessions", guild=g)
                rec.inc("voice_minutes", 3.0, guild=g)

    def gauges(self, rec: Recorder) -> None:
        """Host and gateway gauges, as the samplers would record them every few seconds."""
        rng = self.rng
        rec.gauge("cpu_percent", float(rng.uniform(5, 40)))
        rec.gauge("memory_percent", float(rng.uniform(30, 50)))
        rec.observe("loop_lag_ms", float(rng.exponential(1.0)))
        for shard in range(self.shards):
            rec.gauge("gateway_latency_ms", float(rng.uniform(40, 90)), shard=shard)


def _cdf(weights: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    return cdf
