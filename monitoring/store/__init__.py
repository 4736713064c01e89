"""Storage: the :class:`~monitoring.store.base.Store` protocol and its SQLite implementation.

``monitoring.store.sqlite`` imports aiosqlite; import it only where a real store is needed.
"""

from __future__ import annotations

from .base import *  # noqa: F403
from .base import __all__ as __all__
