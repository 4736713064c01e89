"""The sandbox view: a Discord-like page showing what the bot posted, plus its JSON API."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import web

from .http_support import json_response
from .models import StoredMessage

if TYPE_CHECKING:
    from .emulator import DiscordEmulator

__all__ = ["CSP", "setup_viewer"]

log = logging.getLogger(__name__)

VIEW_DIR = Path(__file__).resolve().parent / "view"
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'none'"
)
_ATTACHMENT_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
_STATIC = {
    "app.js": "text/javascript",
    "style.css": "text/css",
    "favicon.svg": "image/svg+xml",
}
_INLINE_IMAGES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


def _secure(response: web.StreamResponse, csp: str = CSP) -> web.StreamResponse:
    response.headers["Content-Security-Policy"] = csp
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-store"
    return response


class _Viewer:
    def __init__(self, emulator: DiscordEmulator) -> None:
        self.emu = emulator
        self.world = emulator.world

    async def index(self, request: web.Request) -> web.StreamResponse:
        body = (VIEW_DIR / "index.html").read_bytes()
        return _secure(web.Response(body=body, content_type="text/html", charset="utf-8"))

    async def static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in _STATIC:
            raise web.HTTPNotFound()
        body = (VIEW_DIR / name).read_bytes()
        return _secure(web.Response(body=body, content_type=_STATIC[name], charset="utf-8"))

    async def channels(self, request: web.Request) -> web.StreamResponse:
        world = self.world

        def count(channel_id: int) -> int:
            return sum(1 for m in world.channel_messages.get(channel_id, []) if not m.deleted)

        guilds = []
        for guild in world.guilds.values():
            channels = [
                {"id": str(c.id), "name": c.name, "type": c.type, "message_count": count(c.id)}
                for c in sorted(guild.channels.values(), key=lambda c: (c.type == 2, c.position))
                if c.is_text
            ]
            guilds.append({"id": str(guild.id), "name": guild.name, "channels": channels})
        dms = [
            {
                "id": str(c.id),
                "name": world.users[uid].display_name,
                "type": 1,
                "message_count": count(c.id),
            }
            for uid, c in world.dm_channels.items()
        ]
        roles = {
            str(r.id): {"name": r.name, "color": r.color}
            for g in world.guilds.values()
            for r in g.roles.values()
        }
        names = {str(c.id): c.name for g in world.guilds.values() for c in g.channels.values()}
        data = {
            "bot": {"id": str(world.bot_user.id), "name": world.bot_user.display_name},
            "guilds": guilds,
            "dms": dms,
            "users": {str(u.id): u.display_name for u in world.users.values()},
            "roles": roles,
            "channel_names": names,
        }
        return _secure(json_response(data))

    def _message(self, message: StoredMessage) -> dict[str, Any]:
        world = self.world
        author = world.users.get(message.author_id)
        record = world.interactions.get(message.interaction_id or 0)
        interaction = None
        if record is not None and record.original is message and record.type == 2:
            interaction = {"name": record.name, "user": world.users[record.user_id].display_name}
        counts: dict[str, int] = {}
        for emoji in message.reactions:
            counts[emoji] = counts.get(emoji, 0) + 1
        # like Discord, files shown inside an embed (attachment://name) are not listed again
        shown_in_embeds = {
            url[len("attachment://") :]
            for embed in message.embeds
            for part in (embed.get("image"), embed.get("thumbnail"))
            if isinstance(part, dict)
            for url in [part.get("url")]
            if isinstance(url, str) and url.startswith("attachment://")
        }
        return {
            "id": str(message.id),
            "author": {
                "id": str(message.author_id),
                "name": author.display_name if author else "unknown",
                "bot": bool(author and author.bot),
            },
            "content": message.content,
            "timestamp": message.created_at.isoformat(),
            "edited_timestamp": message.edited_at.isoformat() if message.edited_at else None,
            "edit_count": message.edit_count,
            "ephemeral": message.ephemeral,
            "loading": message.loading,
            "suppress_embeds": bool(message.flags & 4),
            "embeds": [world.resolve_embed(e, message, "") for e in message.embeds],
            "attachments": [
                {
                    "id": str(a.id),
                    "filename": a.filename,
                    "url": f"/sandbox/attachments/{a.id}/{a.filename}",
                    "content_type": a.content_type,
                    "size": a.size,
                    "is_image": a.content_type in _INLINE_IMAGES,
                    "description": a.description,
                }
                for a in message.attachments
                if a.filename not in shown_in_embeds
            ],
            "components": message.components,
            "reactions": [{"emoji": k, "count": v} for k, v in counts.items()],
            "interaction": interaction,
        }

    async def messages(self, request: web.Request) -> web.StreamResponse:
        try:
            channel_id = int(request.query.get("channel", ""))
        except ValueError:
            return _secure(
                json_response({"message": "channel query parameter required"}, status=400)
            )
        channel = self.world.channel(channel_id)
        if channel is None:
            return _secure(json_response({"message": "Unknown Channel"}, status=404))
        messages = [
            self._message(m)
            for m in self.world.channel_messages.get(channel_id, [])
            if not m.deleted
        ]
        data = {
            "channel": {"id": str(channel.id), "name": channel.name, "type": channel.type},
            "messages": messages,
        }
        return _secure(json_response(data))

    async def attachment(self, request: web.Request) -> web.StreamResponse:
        try:
            attachment = self.world.attachment(int(request.match_info["id"]))
        except ValueError:
            attachment = None
        if attachment is None or attachment.filename != request.match_info["filename"]:
            raise web.HTTPNotFound()
        inline = attachment.content_type in _INLINE_IMAGES
        response = web.Response(body=attachment.data)
        response.headers["Content-Type"] = (
            attachment.content_type if inline else "application/octet-stream"
        )
        disposition = "inline" if inline else "attachment"
        response.headers["Content-Disposition"] = (
            f"{disposition}; filename*=UTF-8''{quote(attachment.filename)}"
        )
        return _secure(response, _ATTACHMENT_CSP)


def setup_viewer(app: web.Application, emulator: DiscordEmulator) -> None:
    viewer = _Viewer(emulator)
    app.router.add_get("/", viewer.index)
    app.router.add_get("/sandbox/static/{name}", viewer.static)
    app.router.add_get("/sandbox/api/channels", viewer.channels)
    app.router.add_get("/sandbox/api/messages", viewer.messages)
    app.router.add_get("/sandbox/attachments/{id}/{filename}", viewer.attachment)
