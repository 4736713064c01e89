"""Where the dashboard's page, scripts and styles are on disk.

An installed wheel carries them inside the package (``web/assets``, mapped from the repository's
top-level ``assets/`` folder at build time; see ``setup.py``). A source checkout or an editable
install serves the repository's ``assets/`` folder directly.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

__all__ = ["AssetsMissingError", "assets_dir"]

log = logging.getLogger(__name__)

_REQUIRED = ("index.html", "app.js", "style.css", "vendor/uPlot.iife.min.js")


class AssetsMissingError(RuntimeError):
    """The dashboard's files are not where the package expects them."""


def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in _REQUIRED)


def assets_dir() -> Path:
    """The folder of the dashboard's files: the installed package's, else the repository's."""
    packaged = resources.files(__package__ or "web") / "assets"
    candidates = [Path(str(packaged)), Path(__file__).resolve().parent.parent / "assets"]
    for folder in candidates:
        if _complete(folder):
            return folder
    raise AssetsMissingError(
        "the dashboard's files (index.html, app.js, style.css, vendor/) were found in neither "
        + " nor ".join(str(c) for c in candidates)
        + "; reinstall the package, or run from a complete checkout of the repository"
    )
