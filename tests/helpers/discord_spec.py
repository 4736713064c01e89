"""Assertions that outgoing Discord payloads are valid, for tests that capture them under dpytest.

A thin layer over :mod:`sandbox.spec`, the project's one validator (Discord's OpenAPI spec vendored
in the repository, plus the limits the spec leaves out). Each ``validate_*`` function checks the
body as the matching REST operation would receive it and raises :class:`AssertionError` listing
every violation as ``<JSON pointer>: <message>``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from sandbox.spec import (
    EMBED_TOTAL_LIMIT,
    MAX_CONTENT,
    MAX_EMBEDS,
    embed_length,
    embed_total_length,
    get_validator,
    load_spec,
    message_violations,
)

__all__ = [
    "EMBED_TOTAL_LIMIT",
    "MAX_CONTENT",
    "MAX_EMBEDS",
    "embed_length",
    "embed_total_length",
    "load_spec",
    "message_violations",
    "request_violations",
    "validate",
    "validate_channel_message",
    "validate_embed",
    "validate_interaction_response",
    "validate_message_edit",
    "validate_webhook_message",
]

# A representative path for each operation (ids and tokens do not matter for validation).
_CREATE_MESSAGE = ("POST", "/channels/1/messages")
_EDIT_MESSAGE = ("PATCH", "/channels/1/messages/2")
_CALLBACK = ("POST", "/interactions/1/token/callback")
_FOLLOWUP = ("POST", "/webhooks/1/token")
_EDIT_ORIGINAL = ("PATCH", "/webhooks/1/token/messages/@original")


def _plain(payload: Any) -> Any:
    """``discord.Embed`` (anything with ``to_dict``) as a dict; embeds inside a body too."""
    if hasattr(payload, "to_dict") and not isinstance(payload, Mapping):
        return payload.to_dict()
    body = copy.deepcopy(payload)
    for message in (body, body.get("data") if isinstance(body, dict) else None):
        if isinstance(message, dict) and isinstance(message.get("embeds"), list):
            message["embeds"] = [_plain(e) for e in message["embeds"]]
    return body


def _raise(kind: str, violations: list[str]) -> None:
    if violations:
        listing = "\n".join(f"  - {v}" for v in violations)
        raise AssertionError(
            f"{kind} violates Discord's API spec ({len(violations)} problem(s)):\n{listing}"
        )


def request_violations(method: str, path: str, payload: Any) -> list[str]:
    """Every violation of a request body, without the operation-id prefix."""
    errors = get_validator().validate(method, path, _plain(payload))
    return [e.split(": ", 1)[1] for e in errors]


def validate(schema_name: str, payload: Any) -> None:
    """Validate ``payload`` against ``components/schemas/<schema_name>`` only."""
    _raise(schema_name, get_validator().validate_schema(schema_name, _plain(payload)))


def validate_embed(embed: Mapping[str, Any] | Any) -> None:
    """One embed (dict or ``discord.Embed``): ``RichEmbed`` and the 6,000-character total."""
    body = {"embeds": [_plain(embed)]}
    violations = get_validator().validate_schema("RichEmbed", body["embeds"][0])
    _raise("Embed", violations + message_violations(body))


def validate_interaction_response(payload: Mapping[str, Any]) -> None:
    """An interaction callback body (``create_interaction_response``)."""
    _raise("Interaction response", request_violations(*_CALLBACK, payload))


def validate_webhook_message(payload: Mapping[str, Any], *, edit: bool = False) -> None:
    """A follow-up (``execute_webhook``) or, with ``edit``, an edit of the original reply."""
    kind = "Webhook edit" if edit else "Webhook message"
    _raise(kind, request_violations(*(_EDIT_ORIGINAL if edit else _FOLLOWUP), payload))


def validate_channel_message(payload: Mapping[str, Any]) -> None:
    """A channel message (``create_message``), e.g. alerts and reports."""
    _raise("Channel message", request_violations(*_CREATE_MESSAGE, payload))


def validate_message_edit(payload: Mapping[str, Any]) -> None:
    """An edit of a channel message (``update_message``), e.g. a resolved alert."""
    _raise("Message edit", request_violations(*_EDIT_MESSAGE, payload))
