"""Refresh the vendored copy of Discord's OpenAPI spec.

    python -m sandbox.refresh_spec --commit 74fda0f          # download that commit's spec
    python -m sandbox.refresh_spec --file path/to/openapi.json  # copy a local checkout's spec

The file is ``specs/openapi.json`` of the public repository discord/discord-api-spec. It is checked
(OpenAPI 3.1 with the schemas and operations the project validates against) before it replaces
``sandbox/data/discord-api-spec/openapi.json``, and the README beside it records the new commit and
SHA-256. Run the tests afterwards: a newer spec may tighten a limit.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .spec import VENDORED_SPEC

__all__ = ["REQUIRED_OPERATIONS", "REQUIRED_SCHEMAS", "check_spec", "main", "refresh"]

SOURCE_REPOSITORY = "discord/discord-api-spec"
RAW_URL = "https://raw.githubusercontent.com/{repository}/{commit}/specs/openapi.json"
REQUIRED_SCHEMAS = (
    "RichEmbed",
    "MessageCreateRequest",
    "MessageEditRequestPartial",
    "IncomingWebhookInteractionRequest",
    "CreateMessageInteractionCallbackRequest",
    "SnowflakeType",
)
REQUIRED_OPERATIONS = (
    "create_message",
    "update_message",
    "create_interaction_response",
    "execute_webhook",
    "update_original_webhook_message",
)
_COMMIT = re.compile(r"^[0-9a-f]{7,40}$")


def check_spec(spec: Any) -> list[str]:
    """What is wrong with a candidate spec ([] when it can replace the vendored one)."""
    if not isinstance(spec, dict):
        return ["not a JSON object"]
    problems = []
    if not str(spec.get("openapi", "")).startswith("3.1"):
        problems.append(f"openapi is {spec.get('openapi')!r}, expected 3.1.x")
    schemas = (spec.get("components") or {}).get("schemas") or {}
    problems += [f"schema {name} is missing" for name in REQUIRED_SCHEMAS if name not in schemas]
    operations = {
        op.get("operationId")
        for item in (spec.get("paths") or {}).values()
        if isinstance(item, dict)
        for op in item.values()
        if isinstance(op, dict)
    }
    problems += [f"operation {op} is missing" for op in REQUIRED_OPERATIONS if op not in operations]
    return problems


def _record(readme: Path, commit: str, digest: str) -> None:
    text = readme.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^- commit: .*$", f"- commit: `{commit}`", text)
    text = re.sub(r"(?m)^- sha256: .*$", f"- sha256: `{digest}`", text)
    readme.write_text(text, encoding="utf-8")


def refresh(data: bytes, commit: str, target: Path = VENDORED_SPEC) -> str:
    """Check ``data`` and write it over ``target``; returns its SHA-256."""
    try:
        spec = json.loads(data)
    except ValueError as exc:
        raise ValueError(f"the new spec is not JSON: {exc}") from exc
    problems = check_spec(spec)
    if problems:
        raise ValueError("the new spec cannot replace the vendored one: " + "; ".join(problems))
    digest = hashlib.sha256(data).hexdigest()
    target.write_bytes(data)
    readme = target.with_name("README.md")
    if readme.exists():
        _record(readme, commit, digest)
    return digest


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.refresh_spec", description=__doc__.split("\n\n")[0]
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--commit", help=f"a commit of {SOURCE_REPOSITORY} to download")
    source.add_argument("--file", type=Path, help="a local copy of specs/openapi.json")
    parser.add_argument(
        "--source-commit", help="with --file: the commit that file comes from (for the README)"
    )
    parser.add_argument("--target", type=Path, default=VENDORED_SPEC, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.commit:
        if not _COMMIT.match(args.commit):
            parser.error(f"--commit {args.commit!r}: expected 7 to 40 hex digits")
        url = RAW_URL.format(repository=SOURCE_REPOSITORY, commit=args.commit)
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                data = response.read()
        except OSError as exc:
            print(f"could not download {url}: {exc}", file=sys.stderr)
            return 2
        commit = args.commit
    else:
        try:
            data = args.file.read_bytes()
        except OSError as exc:
            print(f"could not read {args.file}: {exc}", file=sys.stderr)
            return 2
        commit = args.source_commit or "unknown (copied from a local file)"
    try:
        digest = refresh(data, commit, args.target)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"wrote {args.target} (sha256 {digest}, commit {commit})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
