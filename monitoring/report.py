"""``python -m monitoring.report --days 7 --out reports/ [--format json]``: see
:mod:`monitoring.reports.cli`."""

from __future__ import annotations

import sys

from .reports.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
