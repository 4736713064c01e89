"""Expose the shared fixtures to the helper tests themselves."""

from __future__ import annotations

from tests.helpers.fixtures import *  # noqa: F403
