"""The one validator of outgoing Discord payloads, against Discord's own OpenAPI spec.

The spec (``specs/openapi.json`` of the public repository discord/discord-api-spec, MIT) is
vendored at ``sandbox/data/discord-api-spec/openapi.json``; ``python -m sandbox.refresh_spec``
refreshes it and ``DISCORD_API_SPEC`` points at another copy. The emulator validates every request
the bot makes with it, and the test helpers (``tests/helpers/discord_spec.py``) call it for
payloads captured under dpytest.

On top of the schemas, the limits the spec leaves out are checked here: the 6,000 characters
across all embeds of one message, at most 10 embeds, ``content`` of at most 2,000 characters
(``create_message`` allows 4,000, but not for bots), and ``attachment://`` references that name no
uploaded file. Integer snowflakes, which discord.py sends (``attachments[].id`` = ``0``,
allowed-mention ids...) and Discord accepts, are allowed where the spec types them as strings.

Every error reads ``<JSON pointer>: <message>``, e.g. ``embeds/0/title: length 300 exceeds
maxLength 256``; :meth:`SpecValidator.validate` prefixes the operation id.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = [
    "EMBED_TOTAL_LIMIT",
    "MAX_CONTENT",
    "MAX_EMBEDS",
    "SPEC_ENV",
    "SpecValidator",
    "default_spec_path",
    "embed_length",
    "embed_total_length",
    "get_validator",
    "load_spec",
    "message_violations",
    "validate_embeds",
    "validate_request",
]

log = logging.getLogger(__name__)

#: Characters allowed across all embeds of one message (not in the spec).
EMBED_TOTAL_LIMIT = 6000
#: Embeds in one message.
MAX_EMBEDS = 10
#: ``content`` of a bot's message.
MAX_CONTENT = 2000
SPEC_ENV = "DISCORD_API_SPEC"
VENDORED_SPEC = Path(__file__).resolve().parent / "data" / "discord-api-spec" / "openapi.json"
_SPEC_URI = "https://sandbox.invalid/discord-openapi.json"
_API_PREFIX = re.compile(r"^(?:https?://[^/]+)?(?:/api(?:/v\d+)?)?")


def default_spec_path() -> Path:
    """``DISCORD_API_SPEC`` if set, else the copy vendored in this repository."""
    override = os.environ.get(SPEC_ENV)
    return Path(override) if override else VENDORED_SPEC


def load_spec(path: Path | str | None = None) -> dict[str, Any]:
    """Read and check an OpenAPI document (cached); fails loudly when missing or not the spec."""
    return _load(Path(path) if path is not None else default_spec_path())


@lru_cache(maxsize=4)
def _load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(
            f"Discord OpenAPI spec not found at {path}. The repository ships it at "
            f"{VENDORED_SPEC.relative_to(VENDORED_SPEC.parents[3])}; "
            f"unset {SPEC_ENV} or point it at specs/openapi.json of discord/discord-api-spec."
        )
    with path.open(encoding="utf-8") as handle:
        spec = json.load(handle)
    if not isinstance(spec, dict) or "schemas" not in spec.get("components", {}):
        raise ValueError(f"{path} has no components/schemas; is it Discord's OpenAPI spec?")
    return spec


@dataclass
class _Operation:
    method: str
    template: str
    operation_id: str
    pattern: re.Pattern[str]
    content: dict[str, Any]
    required: bool


def _rewrite_refs(node: Any) -> Any:
    """Point local ``#/components/...`` refs of an operation schema at the registered spec resource."""
    if isinstance(node, dict):
        result = {k: _rewrite_refs(v) for k, v in node.items()}
        ref = result.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            result["$ref"] = _SPEC_URI + ref
        return result
    if isinstance(node, list):
        return [_rewrite_refs(v) for v in node]
    return node


# ----------------------------------------------------------------------------------- errors


def _pointer(error: ValidationError, prefix: str = "") -> str:
    parts = [prefix] if prefix else []
    parts += [str(p) for p in error.absolute_path]
    return "/".join(parts) or "<body>"


def _describe(error: ValidationError) -> str:
    value, keyword, limit = error.instance, error.validator, error.validator_value
    if keyword == "maxLength" and isinstance(value, str):
        return f"length {len(value)} exceeds maxLength {limit}"
    if keyword == "minLength" and isinstance(value, str):
        return f"length {len(value)} is below minLength {limit}"
    if keyword == "maxItems" and isinstance(value, list):
        return f"{len(value)} items exceed maxItems {limit}"
    if keyword == "minItems" and isinstance(value, list):
        return f"{len(value)} items are fewer than minItems {limit}"
    if keyword in ("anyOf", "oneOf"):
        expected = [
            str(sub.validator_value)
            for sub in error.context or []
            if sub.validator in ("type", "enum", "const") and not sub.relative_path
        ]
        if expected:
            return f"{repr(value)[:60]} is not valid here (expected {' or '.join(expected)})"
        kinds: set[Any] = set()
        for sub in error.context or []:
            if list(sub.relative_path) == ["type"] and sub.validator in ("enum", "const"):
                allowed = sub.validator_value
                kinds.update(allowed if isinstance(allowed, list) else [allowed])
        if kinds and isinstance(value, dict):
            return f"type {value.get('type')!r} is not one of {sorted(kinds, key=lambda k: (str(type(k)), k))}"
    message = error.message
    return message if len(message) <= 200 else message[:197] + "..."


def _branch_score(errors: Sequence[ValidationError]) -> tuple[int, int]:
    """Rank anyOf/oneOf branches: a branch whose discriminator (``type``) or root type is wrong
    is almost certainly not the one the sender meant."""
    mismatch = 0
    for error in errors:
        rel = list(error.relative_path)
        if not rel and error.validator == "type":
            mismatch = 1
        if rel == ["type"] and error.validator in ("enum", "const"):
            mismatch = 1
    return mismatch, len(errors)


def _leaves(error: ValidationError) -> list[ValidationError]:
    """The errors of the branch the sender most plausibly meant, or the union itself."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        branches: dict[Any, list[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        best = min(branches.values(), key=_branch_score)
        if _branch_score(best)[0]:
            return [error]  # no branch fits the value's type: report the union itself
        return [leaf for sub in best for leaf in _leaves(sub)]
    return [error]


def _errors(validator: Draft202012Validator, instance: Any, prefix: str = "") -> list[str]:
    messages: list[str] = []
    ordered = sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.path])
    for error in ordered:
        for leaf in _leaves(error):
            text = f"{_pointer(leaf, prefix)}: {_describe(leaf)}"
            if text not in messages:
                messages.append(text)
    return messages


# ----------------------------------------------------------------------- limits not in the spec


def embed_length(embed: Mapping[str, Any]) -> int:
    """Characters of one embed that count towards the 6,000 limit (as discord.py's ``len``)."""

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


def embed_total_length(embeds: Iterable[Any]) -> int:
    """Characters Discord counts towards the 6,000 limit across all embeds of one message."""
    return sum(embed_length(e) for e in embeds if isinstance(e, Mapping))


def _message_bodies(body: Any) -> list[tuple[str, dict[str, Any]]]:
    """Message-like dicts in a request body (the body, or an interaction callback's ``data``)."""
    if not isinstance(body, dict):
        return []
    found = [("", body)]
    if isinstance(body.get("data"), dict):
        found.append(("data", body["data"]))
    return found


def message_violations(body: Any, filenames: Sequence[str] | None = None) -> list[str]:
    """Limits outside the spec for a message body: content, embed count and total, and
    ``attachment://`` references (checked when the upload's file names are known)."""
    errors: list[str] = []
    for prefix, message in _message_bodies(body):
        at = f"{prefix}/" if prefix else ""
        content = message.get("content")
        if isinstance(content, str) and len(content) > MAX_CONTENT:
            errors.append(f"{at}content: length {len(content)} exceeds maxLength {MAX_CONTENT}")
        embeds = message.get("embeds")
        embeds = embeds if isinstance(embeds, list) else []
        if len(embeds) > MAX_EMBEDS:
            errors.append(f"{at}embeds: {len(embeds)} items exceed maxItems {MAX_EMBEDS}")
        total = embed_total_length(embeds)
        if total > EMBED_TOTAL_LIMIT:
            errors.append(
                f"{at}embeds: {total} characters in total exceed the {EMBED_TOTAL_LIMIT} limit "
                "across all embeds"
            )
        if filenames is None and "attachments" not in message:
            continue
        names = set(filenames or [])
        for attachment in message.get("attachments") or []:
            if isinstance(attachment, dict) and attachment.get("filename"):
                names.add(str(attachment["filename"]))
        for index, embed in enumerate(embeds):
            for key in ("image", "thumbnail", "author", "footer"):
                part = embed.get(key) if isinstance(embed, dict) else None
                for url_key in ("url", "icon_url"):
                    url = part.get(url_key) if isinstance(part, dict) else None
                    if not (isinstance(url, str) and url.startswith("attachment://")):
                        continue
                    if url[len("attachment://") :] not in names:
                        errors.append(
                            f"{at}embeds/{index}/{key}/{url_key}: {url} names no uploaded file"
                        )
    return errors


def _merge(schema: list[str], extra: list[str]) -> list[str]:
    """Schema errors, plus the extra limits for places the schema did not flag already."""
    flagged = {line.split(": ", 1)[0] for line in schema}
    return schema + [line for line in extra if line.split(": ", 1)[0] not in flagged]


# -------------------------------------------------------------------------------- validator


class SpecValidator:
    """Matches requests to OpenAPI operations and validates their bodies with jsonschema."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else default_spec_path()
        spec = load_spec(self.path)
        self.schemas: dict[str, Any] = spec["components"]["schemas"]
        schemas = dict(self.schemas)
        # Discord accepts integer snowflakes in JSON bodies (discord.py sends attachment id 0,
        # allowed-mention and recipient ids as ints); the spec only allows strings.
        schemas["SnowflakeType"] = {
            "anyOf": [self.schemas["SnowflakeType"], {"type": "integer", "minimum": 0}]
        }
        resource = Resource.from_contents(
            {"components": {"schemas": schemas}}, default_specification=DRAFT202012
        )
        self.registry: Registry = Registry().with_resource(_SPEC_URI, resource)
        self.operations: list[_Operation] = []
        for template, item in spec["paths"].items():
            for method, operation in item.items():
                if not isinstance(operation, dict) or "operationId" not in operation:
                    continue
                request_body = operation.get("requestBody") or {}
                regex = re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template))
                self.operations.append(
                    _Operation(
                        method=method.upper(),
                        template=template,
                        operation_id=operation["operationId"],
                        pattern=re.compile(f"^{regex}$"),
                        content=request_body.get("content") or {},
                        required=bool(request_body.get("required")),
                    )
                )
        # literal segments beat parameters ("/messages/@original" before "/messages/{message_id}")
        self.operations.sort(key=lambda op: op.template.count("{"))
        self._validators: dict[tuple[str, str], Draft202012Validator] = {}

    def find_operation(self, method: str, path: str) -> _Operation | None:
        path = _API_PREFIX.sub("", path.split("?", 1)[0]) or "/"
        for operation in self.operations:
            if operation.method == method.upper() and operation.pattern.match(path):
                return operation
        return None

    def operation(self, operation_id: str) -> _Operation:
        for operation in self.operations:
            if operation.operation_id == operation_id:
                return operation
        raise KeyError(operation_id)

    def _make(self, schema: Any) -> Draft202012Validator:
        return Draft202012Validator(
            schema, registry=self.registry, format_checker=Draft202012Validator.FORMAT_CHECKER
        )

    def _validator(self, operation: _Operation, content_type: str) -> Draft202012Validator | None:
        key = (operation.operation_id, content_type)
        if key not in self._validators:
            media = operation.content.get(content_type) or operation.content.get("application/json")
            if media is None or "schema" not in media:
                return None
            self._validators[key] = self._make(_rewrite_refs(media["schema"]))
        return self._validators[key]

    def validate_schema(self, name: str, instance: Any, *, prefix: str = "") -> list[str]:
        """Errors of ``instance`` against ``components/schemas/<name>`` (e.g. ``RichEmbed``)."""
        if name not in self.schemas:
            raise KeyError(f"schema {name!r} is not in components/schemas of {self.path}")
        key = ("#schema", name)
        if key not in self._validators:
            self._validators[key] = self._make({"$ref": f"{_SPEC_URI}#/components/schemas/{name}"})
        return _errors(self._validators[key], instance, prefix)

    def validate(
        self,
        method: str,
        path: str,
        body: Any,
        *,
        multipart: bool = False,
        filenames: Sequence[str] | None = None,
    ) -> list[str]:
        """Errors of a request body against its operation, as ``"<operation id>: <error>"``
        ([] when valid, or when the spec has no such operation or no body for it)."""
        operation = self.find_operation(method, path)
        if operation is None:
            log.debug("no spec operation for %s %s", method, path)
            return []
        if not operation.content:
            return []
        if body is None:
            if operation.required and not multipart:
                return [f"{operation.operation_id}: request body is required"]
            return []
        content_type = "multipart/form-data" if multipart else "application/json"
        validator = self._validator(operation, content_type)
        errors = _errors(validator, body) if validator else []
        errors = _merge(errors, message_violations(body, filenames))
        return [f"{operation.operation_id}: {e}" for e in errors]


def get_validator(path: str | Path | None = None) -> SpecValidator:
    """A cached :class:`SpecValidator` (the spec file is ~1 MB) for ``path`` or the default."""
    return _validator_for(Path(path) if path is not None else default_spec_path())


@lru_cache(maxsize=4)
def _validator_for(path: Path) -> SpecValidator:
    return SpecValidator(path)


def validate_request(
    method: str,
    path: str,
    body: Any,
    *,
    multipart: bool = False,
    filenames: Sequence[str] | None = None,
) -> list[str]:
    """Errors of a request body against the matching spec operation ([] when valid or unknown)."""
    return get_validator().validate(method, path, body, multipart=multipart, filenames=filenames)


def validate_embeds(embeds: Sequence[Mapping[str, Any]]) -> list[str]:
    """Errors of embeds as discord.py's ``Embed.to_dict()`` produces them, for unit tests."""
    validator = get_validator()
    errors: list[str] = []
    for index, embed in enumerate(embeds):
        errors += validator.validate_schema("RichEmbed", embed, prefix=f"embeds/{index}")
    return _merge(errors, message_violations({"embeds": list(embeds)}))
