"""Validate request bodies against Discord's OpenAPI spec (discord/discord-api-spec).

The spec lives outside the repository at ``../shared/discord-api-spec/openapi.json``; set
``DISCORD_API_SPEC`` to use another file. On top of the schemas, two known gaps are checked here:
the 6,000-character total across all embeds of one message, and ``attachment://`` references that
name no uploaded file. discord.py's integer ``attachments[].id`` (the spec wants a snowflake
string) is normalised before validating.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = [
    "EMBED_TOTAL_LIMIT",
    "SpecValidator",
    "default_spec_path",
    "embed_total_length",
    "get_validator",
    "validate_embeds",
    "validate_request",
]

log = logging.getLogger(__name__)

EMBED_TOTAL_LIMIT = 6000
SPEC_ENV = "DISCORD_API_SPEC"
_SPEC_URI = "https://sandbox.invalid/discord-openapi.json"
_API_PREFIX = re.compile(r"^(?:https?://[^/]+)?(?:/api(?:/v\d+)?)?")
_BODY_METHODS = {"POST", "PUT", "PATCH"}


def default_spec_path() -> Path:
    override = os.environ.get(SPEC_ENV)
    if override:
        return Path(override)
    return (
        Path(__file__).resolve().parents[1].parent / "shared" / "discord-api-spec" / "openapi.json"
    )


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


def _location(error: ValidationError) -> str:
    return "/".join(str(p) for p in error.absolute_path) or "<body>"


def _describe(error: ValidationError) -> str:
    loc = _location(error)
    value = error.instance
    if error.validator == "maxLength" and isinstance(value, str):
        return f"{loc}: length {len(value)} exceeds maxLength {error.validator_value}"
    if error.validator == "minLength" and isinstance(value, str):
        return f"{loc}: length {len(value)} is below minLength {error.validator_value}"
    if error.validator == "maxItems" and isinstance(value, list):
        return f"{loc}: {len(value)} items exceed maxItems {error.validator_value}"
    if error.validator in ("anyOf", "oneOf"):
        expected = [
            str(sub.validator_value)
            for sub in error.context or []
            if sub.validator in ("type", "enum", "const") and not sub.relative_path
        ]
        if expected:
            shown = repr(value)[:60]
            return f"{loc}: {shown} is not valid here (expected {' or '.join(expected)})"
    message = error.message
    if len(message) > 200:
        message = message[:197] + "..."
    return f"{loc}: {message}"


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
    if error.validator in ("anyOf", "oneOf") and error.context:
        branches: dict[Any, list[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        best = min(branches.values(), key=_branch_score)
        if _branch_score(best)[0]:
            return [error]  # no branch fits the value's type: report the union itself
        return [leaf for sub in best for leaf in _leaves(sub)]
    return [error]


def embed_total_length(embeds: Iterable[dict[str, Any]]) -> int:
    """Characters Discord counts towards the 6,000 limit across all embeds of one message."""
    total = 0
    for embed in embeds:
        if not isinstance(embed, dict):
            continue
        total += len(embed.get("title") or "") + len(embed.get("description") or "")
        total += len((embed.get("footer") or {}).get("text") or "")
        total += len((embed.get("author") or {}).get("name") or "")
        for field in embed.get("fields") or []:
            total += len(field.get("name") or "") + len(field.get("value") or "")
    return total


def _message_bodies(body: Any) -> list[dict[str, Any]]:
    """Message-like dicts inside a request body (the body itself, or an interaction's ``data``)."""
    if not isinstance(body, dict):
        return []
    found = [body]
    if isinstance(body.get("data"), dict):
        found.append(body["data"])
    return found


def _normalise(body: Any) -> Any:
    body = copy.deepcopy(body)
    for message in _message_bodies(body):
        for attachment in message.get("attachments") or []:
            if isinstance(attachment, dict) and isinstance(attachment.get("id"), int):
                attachment["id"] = str(attachment["id"])
    return body


def _extra_checks(method: str, body: Any, filenames: Sequence[str] | None) -> list[str]:
    errors = []
    for message in _message_bodies(body):
        embeds = message.get("embeds") or []
        total = embed_total_length(embeds)
        if total > EMBED_TOTAL_LIMIT:
            errors.append(
                f"embeds: {total} characters in total exceed the {EMBED_TOTAL_LIMIT} limit across all embeds"
            )
        if filenames is None and "attachments" not in message:
            continue
        names = set(filenames or [])
        for attachment in message.get("attachments") or []:
            if isinstance(attachment, dict) and attachment.get("filename"):
                names.add(str(attachment["filename"]))
        if method != "POST" and "attachments" not in message and not filenames:
            continue
        for index, embed in enumerate(embeds):
            if not isinstance(embed, dict):
                continue
            for key in ("image", "thumbnail", "author", "footer"):
                part = embed.get(key)
                if not isinstance(part, dict):
                    continue
                for url_key in ("url", "icon_url"):
                    url = part.get(url_key)
                    if not (isinstance(url, str) and url.startswith("attachment://")):
                        continue
                    if url[len("attachment://") :] not in names:
                        errors.append(
                            f"embeds/{index}/{key}/{url_key}: {url} names no uploaded file"
                        )
    return errors


class SpecValidator:
    """Matches requests to OpenAPI operations and validates their bodies with jsonschema."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else default_spec_path()
        with self.path.open(encoding="utf-8") as handle:
            spec = json.load(handle)
        self.schemas: dict[str, Any] = spec["components"]["schemas"]
        schemas = dict(self.schemas)
        # Discord accepts integer snowflakes in JSON bodies (discord.py sends e.g. recipient_id
        # as an int); the spec only allows strings.
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

    def _validator(self, operation: _Operation, content_type: str) -> Draft202012Validator | None:
        key = (operation.operation_id, content_type)
        if key not in self._validators:
            media = operation.content.get(content_type) or operation.content.get("application/json")
            if media is None or "schema" not in media:
                return None
            schema = _rewrite_refs(media["schema"])
            self._validators[key] = Draft202012Validator(schema, registry=self.registry)
        return self._validators[key]

    def validate_schema(self, name: str, instance: Any) -> list[str]:
        """Errors of ``instance`` against ``components/schemas/<name>`` (e.g. ``RichEmbed``)."""
        validator = Draft202012Validator(
            {"$ref": f"{_SPEC_URI}#/components/schemas/{name}"}, registry=self.registry
        )
        return self._errors(validator, instance)

    def validate(
        self,
        method: str,
        path: str,
        body: Any,
        *,
        multipart: bool = False,
        filenames: Sequence[str] | None = None,
    ) -> list[str]:
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
        errors = self._errors(validator, _normalise(body)) if validator else []
        errors += _extra_checks(method.upper(), body, filenames)
        return [f"{operation.operation_id}: {e}" for e in errors]

    @staticmethod
    def _errors(validator: Draft202012Validator, instance: Any) -> list[str]:
        messages: list[str] = []
        for error in validator.iter_errors(instance):
            for leaf in _leaves(error):
                text = _describe(leaf)
                if text not in messages:
                    messages.append(text)
        return messages


@lru_cache(maxsize=4)
def get_validator(path: str | None = None) -> SpecValidator:
    """A cached :class:`SpecValidator` (the spec file is ~1 MB)."""
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


def validate_embeds(embeds: Sequence[dict[str, Any]]) -> list[str]:
    """Errors of embeds as discord.py's ``Embed.to_dict()`` produces them, for unit tests."""
    validator = get_validator()
    errors = []
    for index, embed in enumerate(embeds):
        for error in validator.validate_schema("RichEmbed", embed):
            where, _, message = error.partition(": ")
            prefix = f"embeds/{index}" if where == "<body>" else f"embeds/{index}/{where}"
            errors.append(f"{prefix}: {message}")
    if len(embeds) > 10:
        errors.append(f"embeds: {len(embeds)} embeds exceed the limit of 10")
    total = embed_total_length(embeds)
    if total > EMBED_TOTAL_LIMIT:
        errors.append(
            f"embeds: {total} characters in total exceed the {EMBED_TOTAL_LIMIT} limit across all embeds"
        )
    return errors
