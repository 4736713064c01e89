"""REST handlers for users, gateway, application, application commands and guilds."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .http_support import ApiError, json_response
from .routing import Call, Router

if TYPE_CHECKING:
    from .emulator import DiscordEmulator
    from .models import Guild

__all__ = ["BasicHandlers"]

log = logging.getLogger(__name__)


class BasicHandlers:
    def __init__(self, emulator: DiscordEmulator) -> None:
        self.emu = emulator
        self.world = emulator.world

    def register(self, router: Router) -> None:
        r = router.add
        r("GET", "/users/@me", self.get_me)
        r("POST", "/users/@me/channels", self.create_dm)
        r("GET", "/users/{user_id}", self.get_user)
        r("GET", "/gateway", self.get_gateway, auth=False)
        r("GET", "/gateway/bot", self.get_gateway_bot)
        r("GET", "/oauth2/applications/@me", self.get_application)
        r("GET", "/applications/@me", self.get_application)
        for prefix in (
            "/applications/{application_id}",
            "/applications/{application_id}/guilds/{guild_id}",
        ):
            r("GET", prefix + "/commands", self.get_commands)
            r("PUT", prefix + "/commands", self.put_commands)
            r("POST", prefix + "/commands", self.post_command)
            r("GET", prefix + "/commands/{command_id}", self.get_command)
            r("DELETE", prefix + "/commands/{command_id}", self.delete_command)
        r("GET", "/guilds/{guild_id}", self.get_guild)
        r("GET", "/guilds/{guild_id}/channels", self.get_guild_channels)
        r("GET", "/guilds/{guild_id}/roles", self.get_guild_roles)
        r("GET", "/guilds/{guild_id}/members", self.list_members)
        r("GET", "/guilds/{guild_id}/members/{user_id}", self.get_member)

    # -- users, gateway, application ------------------------------------------------------

    async def get_me(self, call: Call) -> Any:
        return dict(self.world.bot_user.payload(), verified=True, mfa_enabled=False, email=None)

    async def get_user(self, call: Call) -> Any:
        user = self.world.users.get(call.int_param("user_id"))
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return user.payload()

    async def create_dm(self, call: Call) -> Any:
        user_id = int((call.body or {}).get("recipient_id", 0))
        if user_id not in self.world.users:
            raise ApiError(400, 50035, "Invalid Form Body")
        return self.world.channel_payload(self.world.dm_channel(user_id))

    async def get_gateway(self, call: Call) -> Any:
        return {"url": self.emu.gateway_url}

    async def get_gateway_bot(self, call: Call) -> Any:
        return {
            "url": self.emu.gateway_url,
            "shards": self.emu.shard_count,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 14_400_000,
                "max_concurrency": 1,
            },
        }

    async def get_application(self, call: Call) -> Any:
        bot = self.world.bot_user
        return {
            "id": str(self.world.application_id),
            "name": bot.display_name,
            "icon": None,
            "description": "Offline Discord sandbox application",
            "summary": "",
            "type": None,
            "bot_public": False,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": 0,
            "owner": self.world.app_owner.payload(),
            "team": None,
            "bot": bot.payload(),
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "tags": [],
            "approximate_guild_count": len(self.world.guilds),
        }

    # -- application commands -------------------------------------------------------------

    def _scope(self, call: Call) -> int | None:
        if call.int_param("application_id") != self.world.application_id:
            raise ApiError(403, 50001, "Missing Access")
        return call.int_param("guild_id") if "guild_id" in call.params else None

    async def get_commands(self, call: Call) -> Any:
        return self.world.commands.get(self._scope(call))

    async def put_commands(self, call: Call) -> Any:
        return self.world.commands.sync(self._scope(call), list(call.body or []))

    async def post_command(self, call: Call) -> Any:
        command = self.world.commands.upsert(self._scope(call), dict(call.body or {}))
        return json_response(command, status=201)

    async def get_command(self, call: Call) -> Any:
        for command in self.world.commands.get(self._scope(call)):
            if command["id"] == call.params["command_id"]:
                return command
        raise ApiError(404, 10063, "Unknown application command")

    async def delete_command(self, call: Call) -> Any:
        self.world.commands.delete(self._scope(call), call.params["command_id"])
        return None

    # -- guilds -------------------------------------------------------------------------------

    def _guild(self, call: Call) -> Guild:
        guild = self.world.guilds.get(call.int_param("guild_id"))
        if guild is None:
            raise ApiError(404, 10004, "Unknown Guild")
        return guild

    async def get_guild(self, call: Call) -> Any:
        data = self.world.guild_payload(self._guild(call))
        for key in (
            "members",
            "channels",
            "threads",
            "voice_states",
            "presences",
            "joined_at",
            "member_count",
        ):
            data.pop(key, None)
        return data

    async def get_guild_channels(self, call: Call) -> Any:
        return [self.world.channel_payload(c) for c in self._guild(call).channels.values()]

    async def get_guild_roles(self, call: Call) -> Any:
        return [r.payload() for r in self._guild(call).roles.values()]

    async def list_members(self, call: Call) -> Any:
        guild = self._guild(call)
        return [self.world.member_payload(guild, uid) for uid in guild.members]

    async def get_member(self, call: Call) -> Any:
        guild = self._guild(call)
        user_id = call.int_param("user_id")
        if user_id not in guild.members:
            raise ApiError(404, 10007, "Unknown Member")
        return self.world.member_payload(guild, user_id)
