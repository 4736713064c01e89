"""Scrub secrets from text the product keeps or posts (tracebacks, error messages).

Three layers, applied in order:

1. **Known values**: the bot token, ``ANALYTICS_API_KEY``, ``MONITOR_METRICS_TOKEN``,
   ``MONITOR_DB_KEY`` and every environment value whose variable name contains TOKEN, SECRET, KEY
   or PASSWORD (:func:`secrets_from_environment`), replaced wherever they appear.
2. **Shapes** that are secrets whatever surrounds them: Discord bot tokens and webhook URLs,
   credentials in URLs (``postgres://user:pass@host``), private-key blocks, JWTs and the token
   formats of common providers (OpenAI, Anthropic, GitHub, Slack, AWS, Google, Stripe, Hugging
   Face, npm, SendGrid, Telegram).
3. **Names**: the value after a secret-sounding name (``access_token=``, ``client_secret: ``,
   ``{'token': '...'}``, ``Authorization: Basic ...``, ``?key=...``). A Python source line such as
   ``token = self.http.token`` is left alone: an unquoted value that is an expression (a dotted
   name or a call) is code, not a secret.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

__all__ = ["REDACTED", "redact", "secrets_from_environment"]

REDACTED = "[redacted]"
_MIN_SECRET = 8
_SECRET_NAME_WORDS = ("TOKEN", "SECRET", "KEY", "PASSWORD", "PASSWD")
_NAMED_SETTINGS = ("ANALYTICS_API_KEY", "MONITOR_METRICS_TOKEN", "MONITOR_DB_KEY", "DISCORD_TOKEN")

_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    # -----BEGIN ... PRIVATE KEY----- blocks (PEM, OpenSSH)
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
     "[redacted-private-key]"),
    # Discord webhook URLs: keep the id, drop the token
    (re.compile(r"(discord(?:app)?\.com/api(?:/v\d+)?/webhooks/\d+/)[\w-]{20,}"),
     rf"\1{REDACTED}"),
    # credentials in URLs: scheme://user:password@host
    (re.compile(r"\b([a-z][a-z0-9+.-]*://[^\s:/@'\"]*:)[^\s@/'\"]+@"), rf"\1{REDACTED}@"),
    # Discord bot tokens
    (re.compile(r"\b[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,}"),
     "[redacted-token]"),
    # JSON Web Tokens
    (re.compile(r"\beyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,}"), "[redacted-token]"),
    # provider token formats
    (re.compile(r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}"), "[redacted-token]"),
    (re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_\w{30,})"), "[redacted-token]"),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), "[redacted-token]"),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), "[redacted-token]"),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}"), "[redacted-token]"),
    (re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{16,}"), "[redacted-token]"),
    (re.compile(r"\bhf_[A-Za-z0-9]{30,}"), "[redacted-token]"),
    (re.compile(r"\bnpm_[A-Za-z0-9]{36}"), "[redacted-token]"),
    (re.compile(r"\bSG\.[\w-]{16,}\.[\w-]{30,}"), "[redacted-token]"),
    (re.compile(r"\b\d{8,10}:AA[\w-]{30,}"), "[redacted-token]"),
)  # fmt: skip

# Authorization headers and scheme-prefixed credentials: keep the scheme word, drop the rest.
_SCHEME = re.compile(r"(?i)\b(bearer|basic|bot|digest)(\s+)[A-Za-z0-9._~+/=-]{8,}")
_AUTH_HEADER = re.compile(
    r"(?i)\b((?:proxy-)?authorization['\"]?\s*[:=]\s*['\"]?)(?!(?:bearer|basic|bot|token|digest)\s)"
    r"[^\s'\",}]{8,}"
)
# URL query parameters that carry credentials whatever the rest of the URL is.
_QUERY = re.compile(
    r"(?i)([?&](?:key|api_?key|token|access_token|auth|sig|[\w-]*signature|code|secret|password)=)"
    r"[^&#\s'\"]+"
)
# name <sep> value, for names that sound secret (OPENAI_API_KEY, client_secret, 'token', ...)
_NAME = (
    r"[\w.-]*?(?:token|secret|passw(?:or)?d|pwd|api[_-]?key|apikey|access[_-]?key|private[_-]?key"
    r"|auth[_-]?key|credentials?|session[_-]?id|cookie)[\w-]*"
)
_KEY_VALUE = re.compile(
    rf"(?i)(?<![\w.])(['\"]?{_NAME}['\"]?)(\s*[=:]\s*)(?:(['\"])(.*?)\3|([^\s'\",;&)}}\]]+))"
)
_CODE = re.compile(r"[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)+(?:\(.*)?|[A-Za-z_]\w*\(.*|None|True|False")


def _key_value(match: re.Match[str]) -> str:
    name, separator, quote, quoted, bare = match.groups()
    if quote:
        if not quoted or quoted == REDACTED or quoted.startswith("[redacted"):
            return match.group(0)
        return f"{name}{separator}{quote}{REDACTED}{quote}"
    if bare is None or bare.startswith("[redacted") or _CODE.fullmatch(bare):
        return match.group(0)  # code (token = self.http.token), not a value
    if " " in separator and "=" in separator and not any(c.isdigit() for c in bare):
        return match.group(0)  # `secret = compute` in a source line
    return f"{name}{separator}{REDACTED}"


def redact(text: str, known: Iterable[str] = ()) -> str:
    """``text`` with known secret values, secret shapes and named secrets replaced."""
    for secret in sorted({s for s in known if s and len(s) >= _MIN_SECRET}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    for pattern, replacement in _SHAPES:
        text = pattern.sub(replacement, text)
    text = _SCHEME.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    text = _QUERY.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return _KEY_VALUE.sub(_key_value, text)


def secrets_from_environment(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Values of the product's secret settings and of every variable named like a secret."""
    environ = os.environ if environ is None else environ
    found = []
    for name, value in environ.items():
        upper = name.upper()
        secret_name = upper in _NAMED_SETTINGS or any(w in upper for w in _SECRET_NAME_WORDS)
        if secret_name and len(value) >= _MIN_SECRET:
            found.append(value)
    return tuple(found)
