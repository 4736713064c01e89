"""Request validation against Discord's OpenAPI spec (sandbox.spec)."""

from __future__ import annotations

from pathlib import Path

import discord

from sandbox import DiscordEmulator, validate_embeds, validate_request
from sandbox.spec import default_spec_path, embed_total_length, get_validator

CHANNEL = "/channels/123/messages"
CALLBACK = "/interactions/1/tok/callback"


def test_spec_is_found_and_operations_match():
    assert default_spec_path().name == "openapi.json" and default_spec_path().exists()
    validator = get_validator()
    cases = {
        ("POST", "/api/v10/channels/1/messages?x=1"): "create_message",
        ("PATCH", "/channels/1/messages/2"): "update_message",
        ("POST", "/interactions/1/abc/callback"): "create_interaction_response",
        ("POST", "/webhooks/1/abc"): "execute_webhook",
        ("PATCH", "/webhooks/1/abc/messages/@original"): "update_original_webhook_message",
        ("PATCH", "/webhooks/1/abc/messages/55"): "update_webhook_message",
    }
    for (method, path), operation_id in cases.items():
        assert validator.find_operation(method, path).operation_id == operation_id
    assert validator.find_operation("GET", "/nope") is None


def test_env_override(monkeypatch, tmp_path):
    monkeypatch.setenv("DISCORD_API_SPEC", str(tmp_path / "spec.json"))
    assert default_spec_path() == Path(tmp_path / "spec.json")


def test_valid_bodies_pass():
    embed = discord.Embed(title="ok", description="fine", color=0xFFFFFF).to_dict()
    assert validate_request("POST", CHANNEL, {"content": "hi", "embeds": [embed]}) == []
    assert validate_request("POST", CALLBACK, {"type": 4, "data": {"embeds": [embed]}}) == []
    assert validate_request("POST", CALLBACK, {"type": 5, "data": {"flags": 64}}) == []
    assert validate_request("GET", CHANNEL, None) == []
    assert validate_request("POST", "/unknown/route", {"anything": 1}) == []


def test_title_of_300_characters_is_reported():
    body = {"embeds": [{"title": "t" * 300}]}
    errors = validate_request("POST", CHANNEL, body)
    assert errors == ["create_message: embeds/0/title: length 300 exceeds maxLength 256"]
    callback = validate_request("POST", CALLBACK, {"type": 4, "data": body})
    assert callback == [
        "create_interaction_response: data/embeds/0/title: length 300 exceeds maxLength 256"
    ]


def test_6001_characters_across_embeds_are_reported():
    embeds = [{"description": "a" * 4000}, {"title": "b" * 1, "description": "c" * 2000}]
    assert embed_total_length(embeds) == 6001
    errors = validate_request("POST", CHANNEL, {"embeds": embeds})
    assert errors == [
        "create_message: embeds: 6001 characters in total exceed the 6000 limit across all embeds"
    ]
    followup = validate_request("POST", "/webhooks/1/tok", {"embeds": embeds})
    assert len(followup) == 1 and followup[0].startswith("execute_webhook: embeds: 6001")
    embeds[1]["title"] = ""
    assert validate_request("POST", CHANNEL, {"embeds": embeds}) == []  # exactly 6000 is fine


def test_fields_footer_and_author_count_towards_the_total():
    embed = discord.Embed(title="t" * 200)
    embed.set_author(name="a" * 200)
    embed.set_footer(text="f" * 1850)
    for _ in range(25):
        embed.add_field(name="n" * 100, value="v" * 50)
    assert embed_total_length([embed.to_dict()]) == 200 + 200 + 1850 + 25 * 150 == 6000
    assert len(embed) == embed_total_length([embed.to_dict()])  # same count as discord.py
    assert validate_embeds([embed.to_dict()]) == []
    embed.add_field(name="one", value="too many")
    errors = validate_embeds([embed.to_dict()])
    assert errors == [
        "embeds/0/fields: 26 items exceed maxItems 25",
        "embeds: 6011 characters in total exceed the 6000 limit across all embeds",
    ]


def test_other_limits():
    assert validate_embeds([{"color": 0x1000000}]) == [
        "embeds/0/color: 16777216 is greater than the maximum of 16777215"
    ]
    assert validate_embeds([{"fields": [{"name": "n", "value": "v" * 1025}]}]) == [
        "embeds/0/fields/0/value: length 1025 exceeds maxLength 1024"
    ]
    errors = validate_request("POST", CALLBACK, {"type": 4, "data": {"content": "x" * 2001}})
    assert errors == [
        "create_interaction_response: data/content: length 2001 exceeds maxLength 2000"
    ]
    errors = validate_request("POST", CHANNEL, {"embeds": [{}] * 11})
    assert errors == ["create_message: embeds: 11 items exceed maxItems 10"]


def test_attachment_ids_are_normalised_and_references_checked():
    body = {
        "embeds": [{"image": {"url": "attachment://chart.png"}}],
        "attachments": [{"id": 0, "filename": "chart.png"}],
    }
    assert validate_request("POST", CHANNEL, body, multipart=True, filenames=["chart.png"]) == []
    wrong = dict(body, embeds=[{"image": {"url": "attachment://other.png"}}])
    errors = validate_request("POST", CHANNEL, wrong, multipart=True, filenames=["chart.png"])
    assert errors == [
        "create_message: embeds/0/image/url: attachment://other.png names no uploaded file"
    ]
    bad_id = dict(body, attachments=[{"id": "abc", "filename": "chart.png"}])
    errors = validate_request("POST", CHANNEL, bad_id, multipart=True, filenames=["chart.png"])
    assert len(errors) == 1 and "attachments/0/id" in errors[0]


async def test_invalid_interaction_reply_is_reported_by_the_emulator(make_bot):
    async with DiscordEmulator() as emu:
        bot = make_bot()

        @bot.tree.command(name="big", description="too much text")
        async def big(interaction: discord.Interaction) -> None:
            embeds = [discord.Embed(description="d" * 3000), discord.Embed(description="e" * 3001)]
            await interaction.response.send_message(embeds=embeds)

        async with emu.run_bot(bot):
            await bot.tree.sync()
            record = await emu.slash_command(
                emu.guild(0).id, emu.channel_id(), emu.member_user.id, "big"
            )
            await emu.wait_for_response(record)
        errors = emu.validation_errors()
    assert len(errors) == 1
    assert errors[0].startswith(f"POST /interactions/{record.id}/")
    assert errors[0].endswith(
        "create_interaction_response: data/embeds: 6001 characters in total exceed the 6000 limit across all embeds"
    )
