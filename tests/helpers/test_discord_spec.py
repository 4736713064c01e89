"""Tests for :mod:`tests.helpers.discord_spec`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import discord
import pytest

from tests.helpers import discord_spec
from tests.helpers.discord_spec import (
    validate_channel_message,
    validate_embed,
    validate_interaction_response,
    validate_webhook_message,
)


def good_embed() -> dict[str, Any]:
    embed = discord.Embed(
        title="CPU", description="All good", colour=0x2ECC71, url="https://example.com"
    )
    embed.add_field(name="load", value="0.42")
    embed.set_footer(text="monitoring")
    embed.set_author(name="bot")
    return dict(embed.to_dict())


def test_the_vendored_spec_is_used() -> None:
    assert discord_spec.load_spec()["openapi"].startswith("3.1")


def test_missing_spec_fails_clearly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DISCORD_API_SPEC", str(tmp_path / "nope.json"))
    with pytest.raises(FileNotFoundError, match="DISCORD_API_SPEC"):
        discord_spec.load_spec()
    monkeypatch.delenv("DISCORD_API_SPEC")
    assert discord_spec.load_spec()


def test_good_embed_passes() -> None:
    validate_embed(good_embed())
    validate_embed(discord.Embed(title="object form"))


def test_title_257_chars_fails() -> None:
    embed = good_embed() | {"title": "x" * 257}
    with pytest.raises(AssertionError, match="title: length 257 exceeds maxLength 256"):
        validate_embed(embed)


def test_26_fields_fail() -> None:
    embed = good_embed() | {"fields": [{"name": f"f{i}", "value": "v"} for i in range(26)]}
    with pytest.raises(AssertionError, match="fields: 26 items exceed maxItems 25"):
        validate_embed(embed)


def test_color_too_large_fails() -> None:
    with pytest.raises(
        AssertionError, match="color: 16777216 is greater than the maximum of 16777215"
    ):
        validate_embed(good_embed() | {"color": 0x1000000})


def test_every_violation_is_listed() -> None:
    embed = {"title": "t" * 300, "color": -1, "fields": [{"name": "n" * 300, "value": "v"}]}
    with pytest.raises(AssertionError) as info:
        validate_embed(embed)
    text = str(info.value)
    assert "3 problem(s)" in text
    assert "- title:" in text and "- color:" in text and "- fields/0/name:" in text


def test_6001_chars_across_two_embeds_fails() -> None:
    first = {"title": "a" * 256, "description": "b" * 4000}
    second = {"description": "c" * 1000, "fields": [{"name": "n" * 245, "value": "v" * 500}]}
    assert discord_spec.embed_total_length([first, second]) == 6001
    validate_embed(first)
    validate_embed(second)
    for check in (validate_channel_message, validate_webhook_message):
        with pytest.raises(
            AssertionError, match="embeds: 6001 characters in total exceed the 6000 limit"
        ):
            check({"embeds": [first, second]})
    with pytest.raises(AssertionError, match="data/embeds: 6001 characters in total"):
        validate_interaction_response({"type": 4, "data": {"embeds": [first, second]}})


def test_exactly_6000_chars_passes() -> None:
    validate_channel_message({"embeds": [{"description": "a" * 4000}, {"description": "b" * 2000}]})


def test_attachment_id_int_zero_is_normalised() -> None:
    validate_channel_message({"content": "graph", "attachments": [{"id": 0, "filename": "x.png"}]})
    validate_interaction_response(
        {"type": 4, "data": {"attachments": [{"id": 0, "filename": "x.png"}]}}
    )
    validate_webhook_message({"attachments": [{"id": 0, "filename": "x.png"}]}, edit=True)


def test_content_and_embed_count_limits() -> None:
    with pytest.raises(AssertionError, match="- content: length 2001 exceeds maxLength 2000"):
        validate_channel_message({"content": "x" * 2001})
    with pytest.raises(AssertionError, match="embeds: 11 items exceed maxItems 10"):
        validate_webhook_message({"embeds": [{"title": "t"}] * 11})


def test_interaction_callbacks_type_4_and_5() -> None:
    validate_interaction_response(
        {"type": 4, "data": {"content": "hi", "embeds": [good_embed()], "flags": 64}}
    )
    validate_interaction_response({"type": 5})
    validate_interaction_response({"type": 5, "data": {"flags": 64}})
    with pytest.raises(
        AssertionError, match=r"<body>: type 3 is not one of \[1, 4, 5, 6, 7, 8, 9, 12, 13\]"
    ):
        validate_interaction_response({"type": 3})
    with pytest.raises(AssertionError, match="data/embeds/0/title: length 300"):
        validate_interaction_response({"type": 4, "data": {"embeds": [{"title": "x" * 300}]}})
