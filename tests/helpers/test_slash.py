"""Tests for :mod:`tests.helpers.slash` using a toy cog."""

from __future__ import annotations

import io
import pathlib
from typing import Literal

import discord
import discord.ext.test as dpytest
import pytest
import pytest_asyncio
from discord import app_commands
from discord.ext import commands

from tests.helpers.fixtures import DpyEnv
from tests.helpers.slash import (
    ChannelMessageRecorder,
    DefaultPermissionsDenied,
    RecordingWebhookAdapter,
    current_recorder,
    recording_webhooks,
)

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
    b"\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
)


class AckView(discord.ui.View):
    """A persistent view with one button."""

    def __init__(self, pressed: list[int]) -> None:
        super().__init__(timeout=None)
        self.pressed = pressed

    @discord.ui.button(label="Ack", custom_id="toy:ack", style=discord.ButtonStyle.primary)
    async def ack(
        self, interaction: discord.Interaction, button: discord.ui.Button[AckView]
    ) -> None:
        self.pressed.append(interaction.user.id)
        await interaction.response.send_message(
            f"acknowledged by {interaction.user.id}", ephemeral=True
        )

    @discord.ui.button(label="Boom", custom_id="toy:boom", style=discord.ButtonStyle.danger)
    async def boom(
        self, interaction: discord.Interaction, button: discord.ui.Button[AckView]
    ) -> None:
        raise RuntimeError("button exploded")


class VoteView(discord.ui.View):
    """A non-persistent view sent with an interaction response."""

    def __init__(self) -> None:
        super().__init__(timeout=60)
        self.votes = 0

    @discord.ui.button(label="+1", custom_id="toy:vote")
    async def vote(
        self, interaction: discord.Interaction, button: discord.ui.Button[VoteView]
    ) -> None:
        self.votes += 1
        await interaction.response.edit_message(content=f"votes: {self.votes}", view=self)


class ToyCog(commands.Cog):
    """Slash commands covering options, files, defers, permissions and views."""

    config = app_commands.Group(name="config", description="Configure the toy")

    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot
        self.pressed: list[int] = []

    async def cog_load(self) -> None:
        self.bot.add_view(AckView(self.pressed))

    @app_commands.command(name="graph", description="Plot a metric")
    @app_commands.describe(metric="Which metric", hours="How far back", private="Only you see it")
    async def graph(
        self,
        interaction: discord.Interaction,
        metric: Literal["cpu", "memory"],
        hours: app_commands.Range[int, 1, 48] = 24,
        private: bool = False,
    ) -> None:
        embed = discord.Embed(title=f"{metric} over {hours}h", colour=0x3498DB)
        embed.add_field(name="metric", value=metric).set_image(url="attachment://graph.png")
        file = discord.File(io.BytesIO(PNG), filename="graph.png")
        await interaction.response.send_message(embed=embed, file=file, ephemeral=private)

    @app_commands.command(name="report", description="Slow report")
    async def report(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        sent = await interaction.followup.send(
            "report ready", embed=discord.Embed(title="Report"), wait=True
        )
        original = await interaction.original_response()
        assert original.id == sent.id
        edited = await interaction.edit_original_response(content=f"report ready ({sent.id})")
        assert edited.content.endswith(f"({sent.id})")
        await interaction.followup.send("extra details", ephemeral=True)

    @app_commands.command(name="purge", description="Admin only")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def purge(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message("purged")

    @app_commands.command(name="panel", description="Post the ack panel")
    async def panel(self, interaction: discord.Interaction) -> None:
        assert isinstance(interaction.channel, discord.TextChannel)
        await interaction.channel.send("Press to acknowledge", view=AckView(self.pressed))
        await interaction.response.send_message("panel posted", ephemeral=True)

    @app_commands.command(name="vote", description="Start a vote")
    async def vote(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message("votes: 0", view=VoteView())

    @app_commands.command(name="whois", description="Describe a member")
    async def whois(
        self,
        interaction: discord.Interaction,
        who: discord.Member,
        role: discord.Role | None = None,
        proof: discord.Attachment | None = None,
    ) -> None:
        parts = [f"{who.id}:{who.display_name}"]
        if role is not None:
            parts.append(f"role={role.name}")
        if proof is not None:
            parts.append(f"proof={proof.filename}:{len(await proof.read())}")
        await interaction.response.send_message(" ".join(parts))

    @app_commands.command(name="badembed", description="Sends an embed Discord would reject")
    async def badembed(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(embed=discord.Embed(title="x" * 300))

    @app_commands.command(name="crash", description="Raises")
    async def crash(self, interaction: discord.Interaction) -> None:
        raise RuntimeError("kaboom")

    @config.command(name="set", description="Set the alert channel")
    async def config_set(
        self, interaction: discord.Interaction, channel: discord.TextChannel, threshold: float
    ) -> None:
        await interaction.response.send_message(f"alerts -> {channel.mention} at {threshold:.1f}")

    @commands.command()
    async def ping(self, ctx: commands.Context[commands.Bot]) -> None:
        await ctx.send("pong")

    async def cog_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        if isinstance(error, app_commands.MissingPermissions):
            missing = ", ".join(error.missing_permissions)
            await interaction.response.send_message(
                f"You need {missing} to do that.", ephemeral=True
            )


@pytest_asyncio.fixture
async def toy(dpy_bot: commands.Bot) -> ToyCog:
    cog = ToyCog(dpy_bot)
    await dpy_bot.add_cog(cog)
    return cog


@pytest.mark.asyncio
async def test_options_embed_and_file(
    toy: ToyCog, dpy_env: DpyEnv, slash_recorder: RecordingWebhookAdapter
) -> None:
    result = await dpy_env.slash("graph", options={"metric": "memory", "hours": 6})
    assert result.errors == []
    assert [r.callback_type for r in result.responses] == [4]
    assert result.embeds[0].title == "memory over 6h"
    assert result.embeds[0].image.url == "attachment://graph.png"
    assert result.files == [("graph.png", PNG)]
    assert result.ephemeral is False
    option_types = {o["name"]: o["type"] for o in result.payload["data"]["options"]}
    assert option_types == {"metric": 3, "hours": 4}
    assert result.response is not None and result.response.json is not None
    assert result.response.json["data"]["attachments"] == [{"id": 0, "filename": "graph.png"}]
    assert slash_recorder.requests == result.requests

    private = await dpy_env.slash("graph", options={"metric": "cpu", "private": True})
    assert private.ephemeral is True
    assert private.embeds[0].title == "cpu over 24h"
    assert {o["name"]: o["type"] for o in private.payload["data"]["options"]}["private"] == 5


@pytest.mark.asyncio
async def test_invalid_choice_range_and_missing_option_are_rejected(
    toy: ToyCog, dpy_env: DpyEnv
) -> None:
    with pytest.raises(ValueError, match="not one of the choices"):
        await dpy_env.slash("graph", options={"metric": "disk"})
    with pytest.raises(ValueError, match="outside"):
        await dpy_env.slash("graph", options={"metric": "cpu", "hours": 49})
    with pytest.raises(ValueError, match="required"):
        await dpy_env.slash("graph")
    with pytest.raises(LookupError, match="no slash command"):
        await dpy_env.slash("nope")


@pytest.mark.asyncio
async def test_defer_followup_and_edit(toy: ToyCog, dpy_env: DpyEnv) -> None:
    result = await dpy_env.slash("report")
    assert result.errors == []
    assert result.deferred
    assert [r.callback_type for r in result.responses] == [5]
    assert len(result.followups) == 2 and len(result.edits) == 1
    assert result.embeds[0].title == "Report"
    assert "report ready" in result.content and "extra details" in result.content
    assert result.followups[1].ephemeral and not result.ephemeral
    assert [r.method for r in result.requests] == ["POST", "POST", "GET", "PATCH", "POST"]


@pytest.mark.asyncio
async def test_permissions_check_refuses_member_and_accepts_owner(
    toy: ToyCog, dpy_env: DpyEnv
) -> None:
    refused = await dpy_env.slash("purge")
    assert refused.content == "You need manage_guild to do that."
    assert refused.ephemeral and refused.command_failed
    assert isinstance(refused.errors[0], app_commands.MissingPermissions)
    manage_guild = discord.Permissions(manage_guild=True).value
    assert not int(refused.payload["member"]["permissions"]) & manage_guild

    accepted = await dpy_env.slash("purge", member=dpy_env.owner)
    assert accepted.content == "purged" and not accepted.command_failed and accepted.errors == []

    # Discord itself hides the command from members lacking default_member_permissions.
    with pytest.raises(DefaultPermissionsDenied, match="manage_guild"):
        await dpy_env.slash("purge", enforce_default_permissions=True)
    ok = await dpy_env.slash("purge", member=dpy_env.owner, enforce_default_permissions=True)
    assert ok.content == "purged"


@pytest.mark.asyncio
async def test_persistent_view_button(toy: ToyCog, dpy_env: DpyEnv) -> None:
    posted = await dpy_env.slash("panel")
    assert posted.content == "panel posted"
    panel = dpytest.get_message()
    assert panel.content == "Press to acknowledge"

    pressed = await dpy_env.press(panel, "toy:ack")
    assert toy.pressed == [dpy_env.member.id]
    assert pressed.content == f"acknowledged by {dpy_env.member.id}" and pressed.ephemeral
    assert pressed.payload["type"] == 3

    # After a restart only the persistent registration (message_id=None) exists.
    again = await dpy_env.press(1234567890123, "toy:ack", member=dpy_env.owner)
    assert again.responses and toy.pressed == [dpy_env.member.id, dpy_env.owner.id]

    boom = await dpy_env.press(panel, "toy:boom")
    assert isinstance(boom.errors[0], RuntimeError) and boom.requests == []


@pytest.mark.asyncio
async def test_subcommand_with_channel_and_number(toy: ToyCog, dpy_env: DpyEnv) -> None:
    options = {"channel": dpy_env.channel, "threshold": 0.75}
    result = await dpy_env.slash("config", subcommand="set", options=options)
    assert result.content == f"alerts -> {dpy_env.channel.mention} at 0.8"
    sub = result.payload["data"]["options"][0]
    assert sub["type"] == 1 and [o["type"] for o in sub["options"]] == [7, 10]
    same = await dpy_env.slash("config set", options=options)
    assert same.content == result.content


@pytest.mark.asyncio
async def test_spec_violations_fail_the_test(toy: ToyCog, dpy_env: DpyEnv) -> None:
    with pytest.raises(AssertionError, match="data/embeds/0/title: length 300"):
        await dpy_env.slash("badembed")
    unchecked = await dpy_env.slash("badembed", validate=False)
    assert len(unchecked.embeds[0].title or "") == 300


@pytest.mark.asyncio
async def test_unhandled_errors_are_collected(toy: ToyCog, dpy_env: DpyEnv) -> None:
    result = await dpy_env.slash("crash")
    assert result.requests == [] and result.command_failed
    assert isinstance(result.errors[0], app_commands.CommandInvokeError)
    assert isinstance(result.errors[0].original, RuntimeError)


@pytest.mark.asyncio
async def test_prefix_command_still_works(
    toy: ToyCog, dpy_bot: commands.Bot, channel_messages: ChannelMessageRecorder
) -> None:
    await dpytest.message("!ping")
    assert dpytest.verify().message().content("pong")
    assert channel_messages.requests[-1].json["content"] == "pong"  # type: ignore[index]


@pytest.mark.asyncio
async def test_channel_messages_are_validated(
    dpy_env: DpyEnv, channel_messages: ChannelMessageRecorder
) -> None:
    file = discord.File(io.BytesIO(PNG), filename="chart.png")
    await dpy_env.channel.send("daily report", file=file, embed=discord.Embed(title="ok"))
    sent = channel_messages.requests[-1]
    assert sent.files == [("chart.png", PNG)] and sent.violations == []
    assert dpytest.get_message().attachments[0].filename == "chart.png"

    await dpy_env.channel.send(embed=discord.Embed(title="t" * 300))
    with pytest.raises(AssertionError, match="- embeds/0/title: length"):
        channel_messages.assert_valid()
    channel_messages.clear()


@pytest.mark.asyncio
async def test_view_sent_with_response_and_update_message(toy: ToyCog, dpy_env: DpyEnv) -> None:
    started = await dpy_env.slash("vote")
    message = started.last_message()
    assert message["components"][0]["components"][0]["custom_id"] == "toy:vote"

    first = await dpy_env.press(message, "toy:vote")
    assert first.response is not None and first.response.callback_type == 7
    assert first.content == "votes: 1"
    second = await dpy_env.press(first.last_message(), "toy:vote", member=dpy_env.owner)
    assert second.content == "votes: 2"


@pytest.mark.asyncio
async def test_user_role_and_attachment_options(
    toy: ToyCog, dpy_env: DpyEnv, tmp_path: pathlib.Path
) -> None:
    role = dpytest.backend.make_role("Ops", dpy_env.guild)
    proof = tmp_path / "proof.txt"
    proof.write_bytes(b"12345")
    result = await dpy_env.slash(
        "whois", options={"who": dpy_env.owner, "role": role, "proof": proof}
    )
    owner = dpy_env.owner
    assert result.content == f"{owner.id}:{owner.display_name} role=Ops proof=proof.txt:5"
    types = [o["type"] for o in result.payload["data"]["options"]]
    assert types == [6, 8, 11]
    assert set(result.payload["data"]["resolved"]) == {"users", "members", "roles", "attachments"}


def test_recorder_install_is_restored() -> None:
    original = discord.webhook.async_.async_context
    with recording_webhooks() as outer:
        assert discord.interactions.async_context.get() is outer
        with recording_webhooks(validate=False) as inner:
            assert discord.webhook.async_.async_context.get() is inner
            assert current_recorder() is inner
        assert discord.webhook.async_.async_context.get() is outer
    assert discord.webhook.async_.async_context is original
    assert discord.interactions.async_context is original
    assert current_recorder() is None
