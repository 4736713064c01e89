"""Redaction: a corpus of secret shapes that must never survive, and ordinary tracebacks that
must come through unchanged."""

from __future__ import annotations

import traceback

import pytest

from monitoring import FakeClock
from monitoring.errors import ErrorTracker, short_traceback
from monitoring.redaction import REDACTED, redact, secrets_from_environment

DISCORD = "MTA5ODc2NTQzMjEwOTg3NjU0MzI.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB"
# (text as it appears in a traceback or message, the secret part that must disappear)
CORPUS: list[tuple[str, str]] = [
    (f"discord.errors.LoginFailure: bad token {DISCORD}", DISCORD),
    ("requests.get(url, params={'access_token=abcd1234efgh5678'})", "abcd1234efgh5678"),
    ("POST /oauth2/token client_secret=Zx9yW8vU7tS6rQ5p&grant=x", "Zx9yW8vU7tS6rQ5p"),
    ("OPENAI_API_KEY=sk-proj-AbCdEfGhIjKlMnOpQrStUvWx1234", "sk-proj-AbCdEfGhIjKlMnOpQrStUvWx1234"),
    (
        "openai.AuthenticationError: Incorrect API key sk-AbCdEfGhIjKlMnOpQrStUv12",
        "sk-AbCdEfGhIjKlMnOpQrStUv12",
    ),
    ("ValueError: {'token': 'q1w2e3r4t5y6u7i8'}", "q1w2e3r4t5y6u7i8"),
    ('ValueError: {"token": "q1w2e3r4t5y6u7i8"}', "q1w2e3r4t5y6u7i8"),
    ("headers={'Authorization': 'Basic dXNlcjpwYXNzd29yZA=='}", "dXNlcjpwYXNzd29yZA=="),
    ("Authorization: Bearer abcdefghijklmnop1234", "abcdefghijklmnop1234"),
    ("Authorization: Bot abcdefghijklmnop1234", "abcdefghijklmnop1234"),
    ("Authorization: rawcredential12345678", "rawcredential12345678"),
    ("OperationalError: could not connect to postgres://bot:hunter2pass@db:5432/x", "hunter2pass"),
    ("redis://:s3cretRedisPw@cache:6379/0 refused", "s3cretRedisPw"),
    ("mysql+pymysql://admin:Pa55w0rd!@10.0.0.1/db", "Pa55w0rd!"),
    (
        "POST https://discord.com/api/webhooks/123456789012345678/AbCdEfGhIjKlMnOpQrStUvWxYz-_0123456789 404",
        "AbCdEfGhIjKlMnOpQrStUvWxYz-_0123456789",
    ),
    (
        "https://discordapp.com/api/v10/webhooks/1/AbCdEfGhIjKlMnOpQrStUvWx",
        "AbCdEfGhIjKlMnOpQrStUvWx",
    ),
    ("GET https://maps.example.com/api?key=AIzaNotReallyAKey123&q=x", "AIzaNotReallyAKey123"),
    ("GET https://api.example.com/v1?token=tok_9f8e7d6c5b4a", "tok_9f8e7d6c5b4a"),
    ("https://s3.example.com/obj?X-Amz-Signature=abcdef0123456789&a=1", "abcdef0123456789"),
    ("https://cdn.example.com/f.png?sig=0a1b2c3d4e5f&exp=1", "0a1b2c3d4e5f"),
    ("password=correct-horse-battery-staple", "correct-horse-battery-staple"),
    ("db_password: 'S0me:Pass;word'", "S0me:Pass;word"),
    ("api-key: 0123456789abcdef0123", "0123456789abcdef0123"),
    ("x-api-key=0123456789abcdef0123", "0123456789abcdef0123"),
    (
        "GITHUB_TOKEN ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    ),
    ("slack error for xoxb-1234567890-abcdefghij", "xoxb-1234567890-abcdefghij"),
    ("AWS key AKIAABCDEFGHIJKLMNOP rejected", "AKIAABCDEFGHIJKLMNOP"),
    (
        "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    (
        "google AIzaSyA1234567890abcdefghijklmnopqrstuv bad",
        "AIzaSyA1234567890abcdefghijklmnopqrstuv",
    ),
    (
        "stripe.error.AuthenticationError: sk_live_abcdefghijklmnop1234",
        "sk_live_abcdefghijklmnop1234",
    ),
    (
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ),
    ("hf_abcdefghijklmnopqrstuvwxyzABCDEF expired", "hf_abcdefghijklmnopqrstuvwxyzABCDEF"),
    (
        "npm_abcdefghijklmnopqrstuvwxyz0123456789 invalid",
        "npm_abcdefghijklmnopqrstuvwxyz0123456789",
    ),
    (
        "SG.abcdefghijklmnopqrstuv.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    ),
    (
        "telegram 123456789:AAabcdefghijklmnopqrstuvwxyz0123456789",
        "AAabcdefghijklmnopqrstuvwxyz0123456789",
    ),
    (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
        "MIIEowIBAAKCAQEA",
    ),
    (
        "anthropic key sk-ant-api03-abcdefghijklmnopqrstuvwxyz",
        "sk-ant-api03-abcdefghijklmnopqrstuvwxyz",
    ),
    ("Cookie: session_id=9f8e7d6c5b4a39281706", "9f8e7d6c5b4a39281706"),
    ("'refresh_token': 'r3fr3sh-t0k3n-value'", "r3fr3sh-t0k3n-value"),
    ('secret="with spaces inside 123"', "with spaces inside 123"),
]


def test_the_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 30


@pytest.mark.parametrize(("text", "secret"), CORPUS, ids=[str(i) for i in range(len(CORPUS))])
def test_no_secret_survives(text: str, secret: str) -> None:
    scrubbed = redact(text)
    assert secret not in scrubbed, scrubbed
    assert "redacted" in scrubbed


def test_the_scheme_word_is_kept_and_the_credential_dropped() -> None:
    assert (
        redact("token client_secret=Zx9yW8vU7tS6rQ5p&x=1") == f"token client_secret={REDACTED}&x=1"
    )
    assert redact("Authorization: Basic dXNlcjpwYXNzd29yZA==") == f"Authorization: Basic {REDACTED}"
    assert redact("postgres://bot:pw123456@db/x") == f"postgres://bot:{REDACTED}@db/x"
    hook = "https://discord.com/api/webhooks/123/AbCdEfGhIjKlMnOpQrStUvWx"
    assert redact(hook) == f"https://discord.com/api/webhooks/123/{REDACTED}"


def test_known_values_from_the_environment() -> None:
    environ = {
        "ANALYTICS_API_KEY": "dashboard-key-0123456789",
        "MONITOR_METRICS_TOKEN": "scrape-token-0123456789",
        "MONITOR_DB_KEY": "database-key-0123456789",
        "MY_SERVICE_PASSWORD": "plainwordsonly",
        "SPOTIFY_CLIENT_SECRET": "abcdefabcdefabcd",
        "HOME": "/root",
        "SHORT_KEY": "abc",
    }
    known = secrets_from_environment(environ)
    assert set(known) == {
        "dashboard-key-0123456789", "scrape-token-0123456789", "database-key-0123456789",
        "plainwordsonly", "abcdefabcdefabcd",
    }  # fmt: skip
    text = "failed: spotify said plainwordsonly for abcdefabcdefabcd at /root"
    assert redact(text, known) == f"failed: spotify said {REDACTED} for {REDACTED} at /root"


def _traceback_of(fn: object) -> str:
    try:
        fn()  # type: ignore[operator]
    except Exception as exc:
        return "".join(traceback.format_exception(exc))
    raise AssertionError("no exception")


class _Http:
    token = None

    def get_token(self) -> str:
        token = self.token
        secret = compute_secret_name()  # noqa: F841
        return token.upper()  # type: ignore[attr-defined]


def compute_secret_name() -> str:
    return "name"


def _lookup() -> None:
    settings = {"token_ttl": 30}
    password_rules = settings["password_rules"]  # noqa: F841


def test_ordinary_tracebacks_come_through_unchanged() -> None:
    samples = [
        _traceback_of(_Http().get_token),
        _traceback_of(_lookup),
        _traceback_of(lambda: int("not a number")),
        _traceback_of(lambda: {}["api_key_missing"]),
        "discord.app_commands.errors.CommandInvokeError: Command 'play' raised an exception: "
        "TimeoutError: token bucket exhausted after 30 tries",
        "aiohttp.client_exceptions.ClientConnectorError: Cannot connect to host "
        "discord.com:443 ssl:default [Connection refused]",
        'File "/srv/bot/cogs/music.py", line 88, in refresh_token\n'
        "    token = await self.oauth.refresh(session_id)",
        "KeyError: 'secret_sauce' while reading config.token_url = https://example.com/oauth",
    ]
    for text in samples:
        assert redact(text) == text, text


def test_stored_and_posted_tracebacks_are_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_API_KEY", "llm-key-0123456789abcdef")
    tracker = ErrorTracker(clock=FakeClock(0.0), secrets=secrets_from_environment())
    tracker.add_secrets(DISCORD)

    def fail() -> None:
        raise RuntimeError(f"LLM said 401 for llm-key-0123456789abcdef with {DISCORD}")

    try:
        fail()
    except RuntimeError as exc:
        group = tracker.record(exc, where="test")
        text = short_traceback(exc, secrets=tracker.secrets)
    for kept in (group.message, group.traceback, text):
        assert "llm-key-0123456789abcdef" not in kept and DISCORD not in kept
