"""Application commands the bot synced (global and per guild), with stable ids."""

from __future__ import annotations

import logging
from typing import Any

from .models import SnowflakeFactory

__all__ = ["CommandRegistry"]

log = logging.getLogger(__name__)


class CommandRegistry:
    """What ``PUT /applications/{id}[/guilds/{gid}]/commands`` stored, keyed by scope."""

    def __init__(self, snowflakes: SnowflakeFactory, application_id: int) -> None:
        self._snowflakes = snowflakes
        self._application_id = application_id
        self.by_scope: dict[int | None, list[dict[str, Any]]] = {}  # None = global
        self._ids: dict[tuple[int | None, str, int], int] = {}

    def get(self, guild_id: int | None) -> list[dict[str, Any]]:
        return self.by_scope.get(guild_id, [])

    def sync(self, guild_id: int | None, payload: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Replace a scope's commands (bulk overwrite); a command keeps its id across syncs."""
        stored = []
        for command in payload:
            ctype = int(command.get("type", 1))
            cid = self._ids.setdefault((guild_id, command["name"], ctype), self._snowflakes.next())
            data = dict(command)
            data.update(
                {
                    "id": str(cid),
                    "application_id": str(self._application_id),
                    "type": ctype,
                    "version": str(self._snowflakes.next()),
                    "description": command.get("description", ""),
                    "default_member_permissions": command.get("default_member_permissions"),
                    "nsfw": command.get("nsfw", False),
                }
            )
            if guild_id is not None:
                data["guild_id"] = str(guild_id)
            stored.append(data)
        self.by_scope[guild_id] = stored
        log.debug("synced %d command(s) for scope %s", len(stored), guild_id)
        return stored

    def upsert(self, guild_id: int | None, command: dict[str, Any]) -> dict[str, Any]:
        others = [c for c in self.get(guild_id) if c["name"] != command.get("name")]
        return self.sync(guild_id, [*others, command])[-1]

    def delete(self, guild_id: int | None, command_id: str) -> None:
        self.by_scope[guild_id] = [c for c in self.get(guild_id) if c["id"] != command_id]

    def find(self, name: str, guild_id: int | None, ctype: int = 1) -> dict[str, Any] | None:
        """The command a user in ``guild_id`` would see (guild commands first, then global)."""
        scopes: list[int | None] = [guild_id, None] if guild_id is not None else [None]
        for scope in scopes:
            for command in self.get(scope):
                if command["name"] == name and int(command.get("type", 1)) == ctype:
                    return command
        return None
