"""The vendored Discord spec: its recorded checksum, and the script that refreshes it."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from sandbox import refresh_spec
from sandbox.spec import VENDORED_SPEC, default_spec_path, load_spec

README = VENDORED_SPEC.with_name("README.md")


def test_the_vendored_copy_is_in_the_repository_and_matches_its_record() -> None:
    repo = Path(__file__).resolve().parents[2]
    assert VENDORED_SPEC.is_relative_to(repo)
    assert default_spec_path() == VENDORED_SPEC
    digest = hashlib.sha256(VENDORED_SPEC.read_bytes()).hexdigest()
    assert f"- sha256: `{digest}`" in README.read_text(encoding="utf-8")
    assert refresh_spec.check_spec(load_spec()) == []


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "openapi.json"
    shutil.copy(VENDORED_SPEC, target)
    shutil.copy(README, tmp_path / "README.md")
    return target


def test_refresh_from_a_file_records_commit_and_checksum(tmp_path: Path) -> None:
    target = _copy(tmp_path)
    spec = json.loads(VENDORED_SPEC.read_bytes())
    spec["info"]["version"] = "10-new"
    new = tmp_path / "new.json"
    new.write_text(json.dumps(spec), encoding="utf-8")
    code = refresh_spec.main(
        ["--file", str(new), "--source-commit", "abcdef1", "--target", str(target)]
    )
    assert code == 0
    assert target.read_bytes() == new.read_bytes()
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "- commit: `abcdef1`" in readme
    assert f"- sha256: `{hashlib.sha256(new.read_bytes()).hexdigest()}`" in readme


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not json", "not JSON"),
        (b'{"openapi": "3.0.0"}', "expected 3.1.x"),
        (b'{"openapi": "3.1.0", "components": {"schemas": {}}}', "schema RichEmbed is missing"),
    ],
)
def test_a_wrong_file_is_refused_and_the_copy_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    target = _copy(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    assert refresh_spec.main(["--file", str(bad), "--target", str(target)]) == 1
    assert message in capsys.readouterr().err
    assert target.read_bytes() == VENDORED_SPEC.read_bytes()


def test_bad_options_are_named(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        refresh_spec.main(["--commit", "main; rm -rf /"])
    assert info.value.code == 2
    assert "expected 7 to 40 hex digits" in capsys.readouterr().err
