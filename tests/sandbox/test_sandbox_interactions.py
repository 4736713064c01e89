"""Slash commands, deferred replies, follow-ups, buttons and modals through the emulator."""

from __future__ import annotations

import asyncio
import io

import discord
import pytest
from discord import app_commands

from sandbox import DiscordEmulator, validate_request
from tests.sandbox.sandbox_helpers import tiny_png


def add_commands(bot) -> dict[str, list]:
    """Registers a few app commands on ``bot.tree``; returns what their callbacks saw."""
    calls: dict[str, list] = {"report": [], "slow": [], "pick": [], "buttons": [], "form": []}

    @bot.tree.command(name="report", description="Post a report with a chart")
    @app_commands.describe(hours="Window in hours", scope="What to report on")
    @app_commands.choices(
        scope=[
            app_commands.Choice(name="All", value="all"),
            app_commands.Choice(name="Errors", value="errors"),
        ]
    )
    async def report(
        interaction: discord.Interaction,
        hours: int,
        scope: app_commands.Choice[str],
        who: discord.Member | None = None,
    ) -> None:
        calls["report"].append((hours, scope.value, who))
        embed = discord.Embed(title="Report", description=f"last {hours} h", color=0x5865F2)
        embed.add_field(name="Scope", value=scope.name, inline=True)
        embed.add_field(name="Requested by", value=interaction.user.mention, inline=True)
        embed.set_image(url="attachment://chart.png")
        embed.set_footer(text="sandbox")
        file = discord.File(io.BytesIO(tiny_png()), filename="chart.png")
        await interaction.response.send_message(embed=embed, file=file)

    @bot.tree.command(name="slow", description="Defers, then follows up")
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await asyncio.sleep(0.05)
        message = await interaction.followup.send("done", wait=True)
        calls["slow"].append(message.id)
        await interaction.followup.send("and one more", ephemeral=True)
        await interaction.edit_original_response(content="done (edited)")

    class Confirm(discord.ui.View):
        @discord.ui.button(label="Acknowledge", style=discord.ButtonStyle.success, custom_id="ack")
        async def ack(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
            calls["buttons"].append(interaction.user.id)
            button.disabled = True
            button.label = "Acknowledged"
            await interaction.response.edit_message(content="acknowledged", view=self)

    @bot.tree.command(name="alert", description="Posts an alert with a button")
    async def alert(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("CPU high", view=Confirm(timeout=None))

    group = app_commands.Group(name="monitor", description="Monitoring")

    @group.command(name="pick", description="subcommand")
    async def pick(interaction: discord.Interaction, ratio: float, verbose: bool = False) -> None:
        calls["pick"].append((ratio, verbose))
        await interaction.response.send_message(f"{ratio} {verbose}", ephemeral=True)

    bot.tree.add_command(group)

    class Form(discord.ui.Modal, title="Threshold"):
        value = discord.ui.TextInput(label="CPU %", custom_id="cpu")

        async def on_submit(self, interaction: discord.Interaction) -> None:
            calls["form"].append(self.value.value)
            await interaction.response.send_message(f"set to {self.value.value}")

    @bot.tree.command(name="configure", description="Opens a modal")
    async def configure(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(Form())

    return calls


async def test_synced_slash_command_reply_with_embed_and_file(emulator, make_bot):
    bot = make_bot()
    calls = add_commands(bot)
    async with emulator.run_bot(bot):
        synced = await bot.tree.sync()
        assert {c.name for c in synced} >= {"report", "slow", "monitor"}
        assert {c["name"] for c in emulator.synced_commands()} == {c.name for c in synced}
        guild = emulator.guild(0)
        channel_id = guild.channel_named("reports").id
        record = await emulator.slash_command(
            guild.id,
            channel_id,
            emulator.guild_owner.id,
            "report",
            {"hours": "24", "scope": "Errors", "who": emulator.member_user.id},
        )
        assert record.payload["data"]["id"] == next(str(c.id) for c in synced if c.name == "report")
        options = {o["name"]: o for o in record.payload["data"]["options"]}
        assert options["hours"] == {"name": "hours", "type": 4, "value": 24}
        assert options["scope"]["value"] == "errors"
        assert options["who"]["type"] == 6
        await emulator.wait_for_response(record)

    hours, scope, who = calls["report"][0]
    assert (hours, scope) == (24, "errors") and who.id == emulator.member_user.id
    reply = emulator.interaction_responses(record.id)
    assert reply.response_type == 4 and not reply.deferred
    message = reply.original
    assert message is not None and message.channel_id == channel_id
    assert message.embeds[0]["title"] == "Report"
    assert message.embeds[0]["image"]["url"] == "attachment://chart.png"
    assert message.attachment("chart.png").data == tiny_png()
    assert message.attachment("chart.png").content_type == "image/png"
    assert emulator.messages(channel_id) == [message]
    callback = emulator.requests_matching("/callback")[0]
    assert callback.multipart and callback.files[0].filename == "chart.png"
    assert emulator.validation_errors() == []
    assert (
        validate_request(
            "POST",
            callback.path,
            callback.json,
            multipart=True,
            filenames=["chart.png"],
        )
        == []
    )


async def test_deferred_reply_then_followups_and_edit(emulator, make_bot):
    bot = make_bot()
    calls = add_commands(bot)
    async with emulator.run_bot(bot):
        await bot.tree.sync()
        channel_id = emulator.channel_id("general")
        record = await emulator.slash_command(
            emulator.guild(0).id, channel_id, emulator.member_user.id, "slow"
        )
        await emulator.wait_for(lambda: record.history and record.history[-1][0] == "edit_original")
    reply = emulator.interaction_responses(record)
    assert reply.deferred and reply.response_type == 5
    assert [action for action, _ in reply.history] == [
        "callback",
        "followup",
        "followup",
        "edit_original",
    ]
    # the first follow-up replaced the "thinking" message
    assert reply.original is not None and not reply.original.loading
    assert calls["slow"] == [reply.original.id]
    assert reply.original.content == "done (edited)" and reply.original.edit_count == 2
    assert reply.followups[1].content == "and one more" and reply.followups[1].ephemeral
    assert [m.content for m in emulator.messages(channel_id)] == ["done (edited)", "and one more"]
    assert emulator.validation_errors() == []


async def test_button_press_runs_view_callback(emulator, make_bot):
    bot = make_bot()
    calls = add_commands(bot)
    async with emulator.run_bot(bot):
        await bot.tree.sync()
        guild = emulator.guild(0)
        channel_id = guild.channel_named("alerts").id
        record = await emulator.slash_command(
            guild.id, channel_id, emulator.guild_owner.id, "alert"
        )
        await emulator.wait_for_response(record)
        alert = record.original
        assert alert.components[0]["components"][0]["custom_id"] == "ack"
        press = await emulator.press_button(alert.id, "ack", emulator.member_user.id)
        await emulator.wait_for_response(press)
        with pytest.raises(ValueError, match="disabled"):
            await emulator.press_button(alert.id, "ack", emulator.member_user.id)
        with pytest.raises(ValueError, match="no component"):
            await emulator.press_button(alert.id, "nope", emulator.member_user.id)
    assert calls["buttons"] == [emulator.member_user.id]
    assert press.response_type == 7 and press.original is alert
    assert alert.content == "acknowledged" and alert.edit_count == 1
    button = alert.components[0]["components"][0]
    assert button["disabled"] is True and button["label"] == "Acknowledged"
    assert emulator.validation_errors() == []


async def test_subcommand_options_are_typed(emulator, make_bot):
    bot = make_bot()
    calls = add_commands(bot)
    async with emulator.run_bot(bot):
        await bot.tree.sync()
        guild = emulator.guild(0)
        record = await emulator.slash_command(
            guild.id,
            emulator.channel_id(),
            emulator.member_user.id,
            "monitor pick",
            {"ratio": 0.5, "verbose": True},
        )
        await emulator.wait_for_response(record)
        with pytest.raises(ValueError, match="unknown option"):
            await emulator.slash_command(
                guild.id, emulator.channel_id(), emulator.member_user.id, "monitor pick", {"x": 1}
            )
    assert calls["pick"] == [(0.5, True)]
    assert record.original.ephemeral
    assert emulator.messages(emulator.channel_id()) == [record.original]


async def test_modal_submit(emulator, make_bot):
    bot = make_bot()
    calls = add_commands(bot)
    async with emulator.run_bot(bot):
        await bot.tree.sync()
        guild = emulator.guild(0)
        opened = await emulator.slash_command(
            guild.id, emulator.channel_id(), emulator.guild_owner.id, "configure"
        )
        await emulator.wait_for_response(opened)
        assert opened.response_type == 9
        submitted = await emulator.submit_modal(opened, {"cpu": "85"})
        await emulator.wait_for_response(submitted)
    assert calls["form"] == ["85"]
    assert submitted.original.content == "set to 85"


async def test_unsynced_command_gets_fake_id_and_late_answer_expires(make_bot):
    async with DiscordEmulator(interaction_timeout=0.2) as emu:
        bot = make_bot()
        failures: list[Exception] = []

        @bot.tree.command(name="sleepy", description="answers too late")
        async def sleepy(interaction: discord.Interaction) -> None:
            await asyncio.sleep(0.3)
            try:
                await interaction.response.send_message("too late")
            except discord.NotFound as exc:
                failures.append(exc)

        async with emu.run_bot(bot):
            record = await emu.slash_command(
                emu.guild(0).id, emu.channel_id(), emu.member_user.id, "sleepy"
            )
            await emu.wait_for(lambda: failures)
        assert record.expired and not record.acknowledged
        assert failures[0].code == 10062


async def test_autocomplete_and_dm_command(emulator, make_bot):
    bot = make_bot()
    hosts = ["db-1", "db-2", "web-1"]

    @bot.tree.command(name="host", description="Show a host")
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    async def host(interaction: discord.Interaction, name: str) -> None:
        where = "dm" if interaction.guild is None else "guild"
        await interaction.response.send_message(f"{name} ({where})")

    @host.autocomplete("name")
    async def host_names(interaction: discord.Interaction, current: str):
        return [app_commands.Choice(name=h, value=h) for h in hosts if h.startswith(current)]

    async with emulator.run_bot(bot):
        await bot.tree.sync()
        guild = emulator.guild(0)
        typing = await emulator.autocomplete(
            guild.id, emulator.channel_id(), emulator.member_user.id, "host", "name", {"name": "db"}
        )
        await emulator.wait_for_response(typing)
        assert typing.payload["data"]["options"] == [
            {"name": "name", "type": 3, "value": "db", "focused": True}
        ]
        dm = emulator.world.dm_channel(emulator.app_owner.id)
        record = await emulator.slash_command(
            None, dm.id, emulator.app_owner.id, "host", {"name": "db-2"}
        )
        await emulator.wait_for_response(record)
    assert typing.response_type == 8
    assert [c["value"] for c in typing.response_data["choices"]] == ["db-1", "db-2"]
    assert record.original.content == "db-2 (dm)"
    assert emulator.dm_messages(emulator.app_owner.id) == [record.original]
    assert emulator.validation_errors() == []
