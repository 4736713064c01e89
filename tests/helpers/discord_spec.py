"""Validate outgoing Discord payloads against Discord's own OpenAPI spec.

The spec (``discord/discord-api-spec``, OpenAPI 3.1 / JSON Schema 2020-12) lives at
``/work/shared/discord-api-spec/openapi.json``; override with ``DISCORD_API_SPEC``.
It is loaded once per process. On top of the schema, the limits the spec leaves out
are checked here: the 6,000-character total across all embeds of one message, at most
10 embeds and ``content`` of at most 2,000 characters. discord.py sends some
snowflakes (``attachments[].id`` = ``0``, allowed-mention ids, ...) as integers while
the spec types them as strings; those are normalised before validation.

Every ``validate_*`` function raises :class:`AssertionError` listing every violation
as ``<JSON path>: <message>``.
"""

from __future__ import annotations

import copy
import functools
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = [
    "EMBED_TOTAL_LIMIT",
    "MAX_CONTENT",
    "MAX_EMBEDS",
    "embed_total_length",
    "load_spec",
    "message_violations",
    "schema_violations",
    "spec_path",
    "validate",
    "validate_channel_message",
    "validate_embed",
    "validate_interaction_response",
    "validate_webhook_message",
]

#: Total characters allowed across all embeds of one message (not in the spec).
EMBED_TOTAL_LIMIT = 6000
#: Maximum number of embeds in one message.
MAX_EMBEDS = 10
#: Maximum ``content`` length for bot messages (the spec allows 4000 on create_message).
MAX_CONTENT = 2000

_SPEC_URI = "https://discord.com/openapi.json"
_SCHEMA_PREFIX = f"{_SPEC_URI}#/components/schemas/"
_MAX_MESSAGE = 240

# Interaction callback type -> component schema describing that callback body.
_CALLBACK_SCHEMAS: dict[int, str] = {
    1: "PongInteractionCallbackRequest",
    4: "CreateMessageInteractionCallbackRequest",
    5: "CreateMessageInteractionCallbackRequest",
    6: "UpdateMessageInteractionCallbackRequest",
    7: "UpdateMessageInteractionCallbackRequest",
    8: "ApplicationCommandAutocompleteCallbackRequest",
    9: "ModalInteractionCallbackRequest",
    12: "LaunchActivityInteractionCallbackRequest",
    13: "SocialLayerSKUPurchaseEligibilityInteractionCallbackRequest",
}


def spec_path() -> Path:
    """Return the path of ``openapi.json`` (env ``DISCORD_API_SPEC`` wins)."""
    override = os.environ.get("DISCORD_API_SPEC")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[3] / "shared" / "discord-api-spec" / "openapi.json"


@functools.cache
def load_spec() -> dict[str, Any]:
    """Load and cache the OpenAPI document; fail loudly if it is missing."""
    path = spec_path()
    if not path.is_file():
        raise FileNotFoundError(
            f"Discord OpenAPI spec not found at {path}. Expected specs/openapi.json from "
            "github.com/discord/discord-api-spec there, "
            "or set DISCORD_API_SPEC=/path/to/openapi.json."
        )
    with path.open(encoding="utf-8") as fh:
        spec = json.load(fh)
    if "schemas" not in spec.get("components", {}):
        raise ValueError(f"{path} has no components/schemas; is it Discord's OpenAPI spec?")
    return spec


@functools.cache
def _registry() -> Registry:
    """A ``referencing`` registry whose single resource holds ``components/schemas``."""
    schemas = load_spec()["components"]["schemas"]
    resource = Resource.from_contents(
        {"components": {"schemas": schemas}}, default_specification=DRAFT202012
    )
    return Registry().with_resource(_SPEC_URI, resource)


@functools.cache
def _validator(schema_name: str) -> jsonschema.Draft202012Validator:
    """A cached Draft 2020-12 validator for ``components/schemas/<schema_name>``."""
    if schema_name not in load_spec()["components"]["schemas"]:
        raise KeyError(f"schema {schema_name!r} is not in components/schemas of {spec_path()}")
    return jsonschema.Draft202012Validator(
        {"$ref": _SCHEMA_PREFIX + schema_name},
        registry=_registry(),
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


# --------------------------------------------------------------------------- errors


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _describe(error: ValidationError) -> str:
    """Readable one-line message for a leaf error (long instances are elided)."""
    inst, kw, limit = error.instance, error.validator, error.validator_value
    if kw == "maxLength" and isinstance(inst, str):
        return f"string of length {len(inst)} exceeds maxLength {limit} ({_short(inst)})"
    if kw == "minLength" and isinstance(inst, str):
        return f"string of length {len(inst)} is shorter than minLength {limit}"
    if kw == "maxItems" and isinstance(inst, list):
        return f"{len(inst)} items exceed maxItems {limit}"
    if kw == "minItems" and isinstance(inst, list):
        return f"{len(inst)} items are fewer than minItems {limit}"
    if kw in ("maximum", "minimum"):
        return f"{inst!r} violates {kw} {limit!r}"
    if kw == "type":
        return f"{_short(inst)} is not of type {limit!r}"
    if (
        kw in ("oneOf", "anyOf")
        and error.context
        and all(e.validator == "const" for e in error.context)
    ):
        return f"{_short(inst)} is not one of {[e.validator_value for e in error.context]}"
    message = error.message
    return message if len(message) <= _MAX_MESSAGE else f"{message[: _MAX_MESSAGE - 3]}..."


def _is_discriminator_miss(errors: list[ValidationError]) -> bool:
    """True if a oneOf/anyOf branch failed only because it is the wrong variant."""
    for err in errors:
        path = list(err.relative_path)
        if not path and err.validator == "type":
            return True
        if path == ["type"] and err.validator in ("enum", "const"):
            return True
    return False


def _leaves(error: ValidationError) -> Iterator[ValidationError]:
    """Flatten oneOf/anyOf errors to the errors of the plausible branch(es)."""
    if not error.context or all(
        e.validator == "const" and not e.relative_path for e in error.context
    ):
        yield error
        return
    branches: dict[Any, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(
            sub.relative_schema_path[0] if sub.relative_schema_path else None, []
        ).append(sub)
    plausible = [errs for errs in branches.values() if not _is_discriminator_miss(errs)]
    if not plausible:
        yield error
        return
    for errs in plausible:
        for sub in errs:
            yield from _leaves(sub)


def _join_path(prefix: str, error: ValidationError) -> str:
    path = error.json_path  # "$.a[0].b"
    return prefix + path[1:] if prefix else path


def schema_violations(schema_name: str, payload: Any, *, prefix: str = "") -> list[str]:
    """Return ``"<path>: <message>"`` strings for every schema violation (no raising)."""
    seen: set[str] = set()
    out: list[str] = []
    errors = sorted(
        _validator(schema_name).iter_errors(payload), key=lambda e: list(map(str, e.absolute_path))
    )
    for error in errors:
        for leaf in _leaves(error):
            line = f"{_join_path(prefix, leaf)}: {_describe(leaf)}"
            if line not in seen:
                seen.add(line)
                out.append(line)
    return out


def _merge(schema: list[str], extra: list[str]) -> list[str]:
    """Schema violations plus extra-limit violations for paths the schema did not flag."""
    flagged = {line.split(": ", 1)[0] for line in schema}
    return schema + [line for line in extra if line.split(": ", 1)[0] not in flagged]


def _raise(kind: str, violations: list[str]) -> None:
    if violations:
        listing = "\n".join(f"  - {v}" for v in violations)
        raise AssertionError(
            f"{kind} violates Discord's API spec ({len(violations)} problem(s)):\n{listing}"
        )


# ------------------------------------------------------------------ normalisation


def _to_plain(payload: Any) -> Any:
    """Accept ``discord.Embed`` (anything with ``to_dict``) and deep-copy mappings."""
    if hasattr(payload, "to_dict") and not isinstance(payload, Mapping):
        return payload.to_dict()
    return copy.deepcopy(payload)


def _snowflake(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _normalise_message(body: Any) -> Any:
    """Stringify snowflakes discord.py sends as integers (in place on a copy)."""
    if not isinstance(body, dict):
        return body
    for attachment in body.get("attachments") or []:
        if isinstance(attachment, dict) and "id" in attachment:
            attachment["id"] = _snowflake(attachment["id"])
    mentions = body.get("allowed_mentions")
    if isinstance(mentions, dict):
        for key in ("users", "roles"):
            if isinstance(mentions.get(key), list):
                mentions[key] = [_snowflake(v) for v in mentions[key]]
    reference = body.get("message_reference")
    if isinstance(reference, dict):
        for key in ("message_id", "channel_id", "guild_id"):
            if key in reference:
                reference[key] = _snowflake(reference[key])
    for key in ("sticker_ids", "applied_tags"):
        if isinstance(body.get(key), list):
            body[key] = [_snowflake(v) for v in body[key]]
    embeds = body.get("embeds")
    if isinstance(embeds, list):
        body["embeds"] = [_to_plain(e) for e in embeds]
    return body


# ----------------------------------------------------------------- extra limits


def embed_total_length(embed: Mapping[str, Any]) -> int:
    """Characters that count towards the 6,000 limit for one embed."""

    def length(value: Any) -> int:
        return len(value) if isinstance(value, str) else 0

    total = length(embed.get("title")) + length(embed.get("description"))
    for field in embed.get("fields") or []:
        if isinstance(field, Mapping):
            total += length(field.get("name")) + length(field.get("value"))
    for key, sub in (("footer", "text"), ("author", "name")):
        part = embed.get(key)
        if isinstance(part, Mapping):
            total += length(part.get(sub))
    return total


def _embed_limits(embeds: Iterable[Any], prefix: str) -> list[str]:
    items = [e for e in embeds if isinstance(e, Mapping)]
    total = sum(embed_total_length(e) for e in items)
    if total > EMBED_TOTAL_LIMIT:
        per = ", ".join(str(embed_total_length(e)) for e in items)
        return [
            f"{prefix}: embeds total {total} characters (title + description + "
            "field names/values + "
            f"footer text + author name; per embed: {per}) exceeds {EMBED_TOTAL_LIMIT}"
        ]
    return []


def message_violations(body: Any, *, prefix: str = "$") -> list[str]:
    """Limits outside the spec for one message body: content, embed count, embed total."""
    if not isinstance(body, Mapping):
        return []
    out: list[str] = []
    content = body.get("content")
    if isinstance(content, str) and len(content) > MAX_CONTENT:
        out.append(f"{prefix}.content: string of length {len(content)} exceeds {MAX_CONTENT}")
    embeds = body.get("embeds")
    if isinstance(embeds, list):
        if len(embeds) > MAX_EMBEDS:
            out.append(f"{prefix}.embeds: {len(embeds)} embeds exceed {MAX_EMBEDS}")
        out.extend(_embed_limits(embeds, f"{prefix}.embeds"))
    return out


# ----------------------------------------------------------------------- public


def validate(schema_name: str, payload: Any) -> None:
    """Validate ``payload`` against ``components/schemas/<schema_name>`` only."""
    _raise(schema_name, schema_violations(schema_name, _to_plain(payload)))


def validate_embed(embed_dict: Mapping[str, Any] | Any) -> None:
    """Validate one embed (dict or ``discord.Embed``) against ``RichEmbed`` + the 6,000 total."""
    embed = _to_plain(embed_dict)
    violations = schema_violations("RichEmbed", embed)
    if isinstance(embed, Mapping):
        violations = _merge(violations, _embed_limits([embed], "$"))
    _raise("Embed", violations)


def validate_interaction_response(payload: Mapping[str, Any]) -> None:
    """Validate an interaction callback body (``POST /interactions/{id}/{token}/callback``).

    The schema is picked by callback ``type``: 4/5 ``CreateMessageInteractionCallbackRequest``,
    6/7 ``UpdateMessageInteractionCallbackRequest``, 9 ``ModalInteractionCallbackRequest``...
    """
    body = _to_plain(payload)
    if not isinstance(body, dict):
        _raise("Interaction response", [f"$: expected an object, got {_short(body)}"])
    cb_type = body.get("type")
    schema = _CALLBACK_SCHEMAS.get(cb_type) if isinstance(cb_type, int) else None
    if schema is None:
        known = sorted(_CALLBACK_SCHEMAS)
        _raise(
            "Interaction response", [f"$.type: {_short(cb_type)} is not a callback type {known}"]
        )
        return
    data = body.get("data")
    if isinstance(data, dict):
        _normalise_message(data)
    violations = schema_violations(schema, body)
    if cb_type in (4, 5, 7) and isinstance(data, Mapping):
        violations = _merge(violations, message_violations(data, prefix="$.data"))
    _raise(f"Interaction response ({schema})", violations)


def validate_webhook_message(payload: Mapping[str, Any], *, edit: bool = False) -> None:
    """Validate an interaction follow-up / webhook message body.

    ``edit=False``: ``execute_webhook`` (``IncomingWebhookInteractionRequest``);
    ``edit=True``: ``update_original_webhook_message`` / ``update_webhook_message``
    (``IncomingWebhookUpdateRequestPartial``).
    """
    body = _normalise_message(_to_plain(payload))
    schema = "IncomingWebhookUpdateRequestPartial" if edit else "IncomingWebhookInteractionRequest"
    _raise(
        f"Webhook message ({schema})",
        _merge(schema_violations(schema, body), message_violations(body)),
    )


def validate_channel_message(payload: Mapping[str, Any]) -> None:
    """Validate a ``create_message`` body (``MessageCreateRequest``), e.g. alerts and reports."""
    body = _normalise_message(_to_plain(payload))
    violations = _merge(schema_violations("MessageCreateRequest", body), message_violations(body))
    _raise("Channel message (MessageCreateRequest)", violations)
