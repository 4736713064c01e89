"""Offline Discord gateway + REST emulator for end-to-end tests and the offline demo.

Typical use from a test::

    async with DiscordEmulator() as emu, emu.run_bot(bot):
        record = await emu.slash_command(guild.id, channel.id, user.id, "status")
        await emu.wait_for_response(record)
        assert not emu.validation_errors()
"""

from __future__ import annotations

import logging

from .emulator import DiscordEmulator
from .harness import patch_discord, run_bot
from .models import (
    Channel,
    Guild,
    InteractionRecord,
    Member,
    RecordedFile,
    RecordedRequest,
    Role,
    StoredAttachment,
    StoredMessage,
    User,
)
from .spec import SpecValidator, embed_total_length, validate_embeds, validate_request

__all__ = [
    "Channel",
    "DiscordEmulator",
    "Guild",
    "InteractionRecord",
    "Member",
    "RecordedFile",
    "RecordedRequest",
    "Role",
    "SpecValidator",
    "StoredAttachment",
    "StoredMessage",
    "User",
    "embed_total_length",
    "patch_discord",
    "run_bot",
    "validate_embeds",
    "validate_request",
]

log = logging.getLogger(__name__)
