"""Reusable test helpers: Discord spec validation and slash-command testing under dpytest.

- :mod:`tests.helpers.discord_spec` - validate payloads against Discord's OpenAPI spec.
- :mod:`tests.helpers.slash` - run slash commands / button presses and capture replies.
- :mod:`tests.helpers.fixtures` - pytest fixtures (``dpy_bot``, ``slash_recorder``, ...).
"""

from __future__ import annotations
