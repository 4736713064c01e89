"""REST handlers for interaction callbacks, interaction webhooks and channel messages."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from .http_support import ApiError
from .models import InteractionRecord, MessageFlag, StoredMessage
from .routing import (
    UNKNOWN_CHANNEL,
    UNKNOWN_INTERACTION,
    UNKNOWN_MESSAGE,
    UNKNOWN_WEBHOOK,
    Call,
    Router,
)

if TYPE_CHECKING:
    from .emulator import DiscordEmulator

__all__ = ["MessageHandlers"]

log = logging.getLogger(__name__)


class MessageHandlers:
    def __init__(self, emulator: DiscordEmulator) -> None:
        self.emu = emulator
        self.world = emulator.world

    def register(self, router: Router) -> None:
        r = router.add
        r(
            "POST",
            "/interactions/{interaction_id}/{interaction_token}/callback",
            self.callback,
            auth=False,
        )
        r("POST", "/webhooks/{webhook_id}/{webhook_token}", self.followup, auth=False)
        r(
            "GET",
            "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
            self.get_webhook_msg,
            auth=False,
        )
        r(
            "PATCH",
            "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
            self.edit_webhook_msg,
            auth=False,
        )
        r(
            "DELETE",
            "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
            self.del_webhook_msg,
            auth=False,
        )
        r("GET", "/channels/{channel_id}", self.get_channel)
        r("GET", "/channels/{channel_id}/messages", self.list_messages)
        r("POST", "/channels/{channel_id}/messages", self.create_message)
        r("GET", "/channels/{channel_id}/messages/{message_id}", self.get_message)
        r("PATCH", "/channels/{channel_id}/messages/{message_id}", self.edit_message)
        r("DELETE", "/channels/{channel_id}/messages/{message_id}", self.delete_message)
        r(
            "PUT",
            "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
            self.add_reaction,
        )
        r("POST", "/channels/{channel_id}/typing", self.typing)

    # -- helpers ----------------------------------------------------------------------------

    def _payload(self, message: StoredMessage) -> dict[str, Any]:
        return self.world.message_payload(message, self.emu.base_url)

    def _message_in(self, channel_id: int, message_id: int) -> StoredMessage:
        message = self.world.messages_by_id.get(message_id)
        if message is None or message.deleted or message.channel_id != channel_id:
            raise ApiError(*UNKNOWN_MESSAGE)
        return message

    def _interaction(self, call: Call) -> InteractionRecord:
        if call.int_param("webhook_id") != self.world.application_id:
            raise ApiError(*UNKNOWN_WEBHOOK)
        record = self.world.interaction_by_token(call.params["webhook_token"])
        if record is None:
            raise ApiError(*UNKNOWN_WEBHOOK)
        return record

    # -- interactions -------------------------------------------------------------------------

    async def callback(self, call: Call) -> Any:
        record = self.world.interactions.get(call.int_param("interaction_id"))
        if record is None or record.token != call.params["interaction_token"]:
            raise ApiError(*UNKNOWN_INTERACTION)
        timeout = self.emu.interaction_timeout
        if (
            record.response_type is None
            and timeout is not None
            and time.monotonic() - record.created_at > timeout
        ):
            record.expired = True
            log.warning("interaction %s answered after %.1fs; expired", record.id, timeout)
            raise ApiError(*UNKNOWN_INTERACTION)
        if record.response_type is not None:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        body = call.body or {}
        cb_type = int(body.get("type", 0))
        data = body.get("data") or {}
        record.response_type = cb_type
        record.response_data = data
        record.history.append(("callback", body))
        message: StoredMessage | None = None
        if cb_type in (4, 5):
            extra = MessageFlag.LOADING if cb_type == 5 else 0
            extra |= int(data.get("flags") or 0) & MessageFlag.EPHEMERAL
            msg_type = 20 if record.type == 2 else 0
            message = self.world.create_message(
                record.channel_id,
                self.world.bot_user.id,
                data if cb_type == 4 else {},
                call.files,
                message_type=msg_type,
                webhook_id=self.world.application_id,
                interaction_id=record.id,
                extra_flags=extra,
            )
            record.original = message
            self.emu._echo("MESSAGE_CREATE", message)
        elif cb_type in (6, 7) and record.source_message_id is not None:
            message = self.world.messages_by_id.get(record.source_message_id)
            if message is not None:
                record.original = message
                if cb_type == 7:
                    self.world.edit_message(message, data, call.files)
                    self.emu._echo("MESSAGE_UPDATE", message)
        interaction: dict[str, Any] = {
            "id": str(record.id),
            "type": record.type,
            "response_message_loading": cb_type == 5,
            "response_message_ephemeral": bool(message and message.ephemeral),
        }
        result: dict[str, Any] = {"interaction": interaction}
        if message is not None:
            interaction["response_message_id"] = str(message.id)
            result["resource"] = {"type": cb_type, "message": self._payload(message)}
        elif cb_type != 6:
            result["resource"] = {"type": cb_type}
        return result

    async def followup(self, call: Call) -> Any:
        record = self._interaction(call)
        body = call.body or {}
        record.history.append(("followup", body))
        original = record.original
        if original is not None and original.loading:
            # the first follow-up after a deferred reply replaces the "thinking" message
            self.world.edit_message(original, body, call.files)
            original.flags &= ~MessageFlag.LOADING
            record.followups.append(original)
            self.emu._echo("MESSAGE_UPDATE", original)
            return self._payload(original)
        ephemeral = int(body.get("flags") or 0) & MessageFlag.EPHEMERAL
        message = self.world.create_message(
            record.channel_id,
            self.world.bot_user.id,
            body,
            call.files,
            webhook_id=self.world.application_id,
            interaction_id=record.id,
            extra_flags=ephemeral,
        )
        record.followups.append(message)
        self.emu._echo("MESSAGE_CREATE", message)
        if call.record.query.get("wait") in ("1", "true", "True"):
            return self._payload(message)
        return None

    def _webhook_message(self, call: Call, record: InteractionRecord) -> StoredMessage:
        ident = call.params["message_id"]
        if ident == "@original":
            if record.original is None or record.original.deleted:
                raise ApiError(*UNKNOWN_MESSAGE)
            return record.original
        try:
            message = self.world.messages_by_id.get(int(ident))
        except ValueError:
            raise ApiError(*UNKNOWN_MESSAGE) from None
        if message is None or message.deleted or message.interaction_id != record.id:
            raise ApiError(*UNKNOWN_MESSAGE)
        return message

    async def get_webhook_msg(self, call: Call) -> Any:
        record = self._interaction(call)
        return self._payload(self._webhook_message(call, record))

    async def edit_webhook_msg(self, call: Call) -> Any:
        record = self._interaction(call)
        message = self._webhook_message(call, record)
        action = "edit_original" if call.params["message_id"] == "@original" else "edit_message"
        record.history.append((action, call.body))
        self.world.edit_message(message, call.body, call.files)
        message.flags &= ~MessageFlag.LOADING
        self.emu._echo("MESSAGE_UPDATE", message)
        return self._payload(message)

    async def del_webhook_msg(self, call: Call) -> Any:
        record = self._interaction(call)
        message = self._webhook_message(call, record)
        action = "delete_original" if call.params["message_id"] == "@original" else "delete_message"
        record.history.append((action, None))
        message.deleted = True
        self.emu._echo("MESSAGE_DELETE", message)
        return None

    # -- channels and messages ----------------------------------------------------------------

    def _channel(self, call: Call) -> int:
        channel_id = call.int_param("channel_id")
        if self.world.channel(channel_id) is None:
            raise ApiError(*UNKNOWN_CHANNEL)
        return channel_id

    async def get_channel(self, call: Call) -> Any:
        channel = self.world.channel(call.int_param("channel_id"))
        if channel is None:
            raise ApiError(*UNKNOWN_CHANNEL)
        return self.world.channel_payload(channel)

    async def list_messages(self, call: Call) -> Any:
        channel_id = self._channel(call)
        query = call.record.query
        limit = min(int(query.get("limit", 50)), 100)
        messages = [
            m
            for m in self.world.channel_messages.get(channel_id, [])
            if not m.deleted and not m.ephemeral
        ]
        if "before" in query:
            messages = [m for m in messages if m.id < int(query["before"])]
        if "after" in query:
            messages = [m for m in messages if m.id > int(query["after"])][:limit]
        messages = list(reversed(messages))[:limit]
        return [self._payload(m) for m in messages]

    async def create_message(self, call: Call) -> Any:
        channel_id = self._channel(call)
        body = call.body if isinstance(call.body, dict) else {}
        if not (
            body.get("content")
            or body.get("embeds")
            or body.get("components")
            or call.files
            or body.get("poll")
        ):
            raise ApiError(400, 50006, "Cannot send an empty message")
        message = self.world.create_message(channel_id, self.world.bot_user.id, body, call.files)
        self.emu._echo("MESSAGE_CREATE", message)
        return self._payload(message)

    async def get_message(self, call: Call) -> Any:
        return self._payload(self._message_in(self._channel(call), call.int_param("message_id")))

    async def edit_message(self, call: Call) -> Any:
        message = self._message_in(self._channel(call), call.int_param("message_id"))
        if message.author_id != self.world.bot_user.id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        self.world.edit_message(
            message, call.body if isinstance(call.body, dict) else {}, call.files
        )
        self.emu._echo("MESSAGE_UPDATE", message)
        return self._payload(message)

    async def delete_message(self, call: Call) -> Any:
        message = self._message_in(self._channel(call), call.int_param("message_id"))
        message.deleted = True
        self.emu._echo("MESSAGE_DELETE", message)
        return None

    async def add_reaction(self, call: Call) -> Any:
        message = self._message_in(self._channel(call), call.int_param("message_id"))
        message.reactions.append(call.params["emoji"])
        return None

    async def typing(self, call: Call) -> Any:
        self._channel(call)
        return None
