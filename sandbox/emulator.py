"""``DiscordEmulator``: an offline Discord gateway + REST API on aiohttp, for tests and demos."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from .actions import UserActions
from .gateway import Gateway
from .harness import patch_discord, run_bot
from .http_support import FaultRule, RateLimiter
from .models import Guild, InteractionRecord, RecordedRequest, StoredMessage, User
from .rest import RestApi
from .viewer import setup_viewer
from .world import World

__all__ = ["DiscordEmulator"]

log = logging.getLogger(__name__)

ClientT = TypeVar("ClientT")


class DiscordEmulator(UserActions):
    """Serves a fake Discord (gateway websocket + REST) over real sockets.

    >>> async with DiscordEmulator() as emu:            # starts and patches discord.py
    ...     async with emu.run_bot(bot) as bot: ...
    """

    def __init__(
        self,
        *,
        shard_count: int = 1,
        guild_count: int = 3,
        token: str | None = None,
        heartbeat_interval: float = 41.25,
        rate_limit: int = 50,
        rate_limit_window: float = 1.0,
        interaction_timeout: float | None = 3.0,
        reject_invalid: bool = False,
        echo_events: bool = True,
        spec_path: str | Path | None = None,
    ) -> None:
        self.shard_count = shard_count
        self.token = token
        self.interaction_timeout = interaction_timeout
        self.reject_invalid = reject_invalid
        self.echo_events = echo_events
        self.spec_path = str(spec_path) if spec_path is not None else None
        self.world = World(guild_count=guild_count)
        self.rate_limiter = RateLimiter(limit=rate_limit, window=rate_limit_window)
        self.gateway = Gateway(
            self.world,
            resume_url=lambda: self.resume_gateway_url,
            heartbeat_interval=heartbeat_interval,
            token=token,
        )
        self.rest = RestApi(self)
        self.requests: list[RecordedRequest] = []
        self.faults: list[FaultRule] = []
        self._runner: web.AppRunner | None = None
        self._host = "127.0.0.1"
        self._port = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._patch: contextlib.AbstractContextManager[None] | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def _make_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", r"/api/v{version:\d+}/{tail:.*}", self.rest.handle)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/gateway-resume", self.gateway.handle)
        setup_viewer(app, self)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if self._runner is not None:
            raise RuntimeError("emulator already started")
        runner = web.AppRunner(self._make_app(), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        self._host = host
        self._port = int(runner.addresses[0][1]) if runner.addresses else port
        log.info("Discord emulator listening on %s", self.base_url)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self._tasks.clear()
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DiscordEmulator:
        await self.start()
        self._patch = self.patch_discord()
        self._patch.__enter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._patch is not None:
            self._patch.__exit__(exc_type, exc, tb)
            self._patch = None
        await self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self._port}"

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self._host}:{self._port}/gateway"

    @property
    def resume_gateway_url(self) -> str:
        return f"ws://{self._host}:{self._port}/gateway-resume"

    def patch_discord(self) -> contextlib.AbstractContextManager[None]:
        """Context manager pointing discord.py's ``Route.BASE`` and ``DEFAULT_GATEWAY`` here."""
        return patch_discord(self.api_base, self.gateway_url)

    def run_bot(
        self, bot: ClientT, *, token: str | None = None, timeout: float = 10.0, fast: bool = True
    ) -> contextlib.AbstractAsyncContextManager[ClientT]:
        """``async with emu.run_bot(bot):`` start the bot here, wait for READY, close it afterwards."""
        return run_bot(
            self.api_base,
            self.gateway_url,
            bot,
            token=token or self.token or "sandbox-token",
            timeout=timeout,
            fast=fast,
        )

    # -- the world ------------------------------------------------------------------------------

    @property
    def bot_user(self) -> User:
        return self.world.bot_user

    @property
    def application_id(self) -> int:
        return self.world.application_id

    @property
    def app_owner(self) -> User:
        return self.world.app_owner

    @property
    def guild_owner(self) -> User:
        return self.world.guild_owner

    @property
    def member_user(self) -> User:
        return self.world.member_user

    @property
    def guilds(self) -> list[Guild]:
        return list(self.world.guilds.values())

    def guild(self, key: int | str = 0) -> Guild:
        """A guild by id, by name, or by index (0 = first seeded guild)."""
        if isinstance(key, str):
            for guild in self.world.guilds.values():
                if guild.name == key:
                    return guild
            raise KeyError(key)
        if key in self.world.guilds:
            return self.world.guilds[key]
        return self.guilds[key]

    def channel_id(self, name: str = "general", guild: int | str = 0) -> int:
        return self.guild(guild).channel_named(name).id

    def messages(
        self, channel_id: int, *, include_users: bool = False, include_deleted: bool = False
    ) -> list[StoredMessage]:
        """Messages the bot posted in a channel (oldest first), with edits applied."""
        result = []
        for message in self.world.channel_messages.get(channel_id, []):
            if message.deleted and not include_deleted:
                continue
            if message.author_id != self.world.bot_user.id and not include_users:
                continue
            result.append(message)
        return result

    def message(self, message_id: int) -> StoredMessage:
        return self.world.messages_by_id[message_id]

    def dm_messages(self, user_id: int) -> list[StoredMessage]:
        channel = self.world.dm_channels.get(user_id)
        return self.messages(channel.id) if channel else []

    def interaction_responses(self, interaction_id: int | InteractionRecord) -> InteractionRecord:
        """What the bot answered to an interaction: callback, original (edited), follow-ups, history."""
        return self._record(interaction_id)

    def synced_commands(self, guild_id: int | None = None) -> list[dict[str, Any]]:
        """Application commands the bot synced globally (or for ``guild_id``), as Discord stores them."""
        return self.world.commands.get(guild_id)

    def requests_matching(self, pattern: str, method: str | None = None) -> list[RecordedRequest]:
        return [
            r
            for r in self.requests
            if pattern in r.route and (method is None or r.method == method.upper())
        ]

    # -- validation ----------------------------------------------------------------------------

    def _validate(self, request: RecordedRequest) -> list[str]:
        from .spec import get_validator

        if request.method not in ("POST", "PUT", "PATCH") or (
            request.json is None and not request.files
        ):
            return []
        filenames = [f.filename for f in request.files] if request.files else None
        validator = get_validator(self.spec_path)
        return validator.validate(
            request.method,
            request.path,
            request.json,
            multipart=request.multipart,
            filenames=filenames,
        )

    def validation_errors(self) -> list[str]:
        """Spec violations over every recorded request, as ``"METHOD /path: operation: error"``."""
        errors = []
        for request in self.requests:
            if request.injected:
                continue
            errors += [f"{request.route}: {e}" for e in self._validate(request)]
        return errors

    # -- fault injection -------------------------------------------------------------------------

    def inject_429(
        self,
        route_substring: str,
        count: int = 1,
        retry_after: float = 0.5,
        *,
        is_global: bool = False,
    ) -> None:
        """The next ``count`` requests whose ``"METHOD /path"`` contains ``route_substring`` get a 429."""
        self.faults.append(
            FaultRule("429", route_substring, count, retry_after=retry_after, is_global=is_global)
        )

    def inject_5xx(self, route_substring: str, count: int = 1, status: int = 502) -> None:
        """The next ``count`` matching requests get a ``status`` (502 by default) error."""
        self.faults.append(FaultRule("5xx", route_substring, count, status=status))

    def clear_faults(self) -> None:
        self.faults.clear()

    def _take_fault(self, method: str, path: str) -> FaultRule | None:
        for rule in self.faults:
            if rule.matches(method, path):
                rule.remaining -= 1
                return rule
        return None

    # -- gateway events ------------------------------------------------------------------------

    @property
    def identify_count(self) -> int:
        return self.gateway.identify_count

    @property
    def resume_count(self) -> int:
        return self.gateway.resume_count

    @property
    def connect_count(self) -> int:
        return self.gateway.connect_count

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _echo(self, event: str, message: StoredMessage) -> None:
        """Discord also tells the bot about its own messages over the gateway."""
        if not self.echo_events or message.ephemeral:
            return
        if event == "MESSAGE_DELETE":
            data: dict[str, Any] = {"id": str(message.id), "channel_id": str(message.channel_id)}
            if message.guild_id is not None:
                data["guild_id"] = str(message.guild_id)
        else:
            data = self.world.message_payload(message, self.base_url, gateway=True)
        self._spawn(self.gateway.dispatch(event, data, guild_id=message.guild_id, required=False))

    def set_gateway_latency(self, seconds: float, shard_id: int | None = None) -> None:
        """Hold heartbeat ACKs ``seconds`` (on one shard, or all): the bot's measured latency."""
        self.gateway.set_latency(seconds, shard_id)

    async def force_reconnect(self, shard_id: int | None = None, *, mode: str = "reconnect") -> int:
        """``reconnect`` sends op 7, ``close`` drops the socket (code 4000), ``invalidate`` sends op 9."""
        return await self.gateway.force_reconnect(shard_id, mode=mode)

    # -- waiting ---------------------------------------------------------------------------------

    async def wait_for(
        self,
        predicate: Callable[[], Any],
        timeout: float = 5.0,  # noqa: ASYNC109
        interval: float = 0.01,
    ) -> Any:
        """Poll ``predicate`` until it returns something truthy (which is returned)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if loop.time() > deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            await asyncio.sleep(interval)

    async def wait_for_response(
        self,
        interaction: int | InteractionRecord,
        *,
        followups: int = 0,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> InteractionRecord:
        """Until the interaction is acknowledged, no longer "thinking", with ``followups`` follow-ups."""
        record = self.interaction_responses(interaction)

        def done() -> bool:
            if record.response_type is None or len(record.followups) < followups:
                return False
            return record.original is None or not record.original.loading

        await self.wait_for(done, timeout)
        return record

    async def wait_for_message(
        self,
        channel_id: int,
        predicate: Callable[[StoredMessage], bool] | None = None,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> StoredMessage:
        """Until the bot has a (matching) message in the channel; returns the newest match."""

        def find() -> StoredMessage | None:
            for message in reversed(self.messages(channel_id)):
                if predicate is None or predicate(message):
                    return message
            return None

        return await self.wait_for(find, timeout)

    async def wait_until_connected(self, shards: int | None = None, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Until ``shards`` (default: ``shard_count``) gateway sessions are live."""
        wanted = shards or self.shard_count
        await self.wait_for(lambda: len(self.gateway.live_sessions()) >= wanted, timeout)
