"""``python -m monitoring.export``: Prometheus alerting rules and a Grafana dashboard.

::

    python -m monitoring.export prometheus-rules [--out FILE] [--defaults] [--config FILE]
    python -m monitoring.export grafana-dashboard [--out FILE]

``prometheus-rules`` translates the bot's alert rules (built-in ones with the thresholds from the
settings, plus ``[[alert_rules]]`` from the TOML file) into a Prometheus rule file, so a fleet
scraped by Prometheus alerts on the same conditions; ``--defaults`` ignores the environment and
TOML file (that is how ``deploy/prometheus/rules.yml`` is made). ``grafana-dashboard`` writes the
dashboard JSON (``deploy/grafana/dashboard.json``). Without ``--out`` both print to stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .config import Config, ConfigError, load_config

__all__ = ["grafana_json", "main", "prometheus_rules"]

log = logging.getLogger(__name__)


def prometheus_rules(config: Config) -> str:
    """The Prometheus rule file (YAML) for ``config``'s alert rules."""
    from .alerts.rules import parse_rules
    from .promrules import rules_yaml

    return rules_yaml(parse_rules(config))


def grafana_json() -> str:
    """The Grafana dashboard, as indented JSON."""
    from .grafana import dashboard

    return json.dumps(dashboard(), indent=2, ensure_ascii=False) + "\n"


def _write(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    sys.stderr.write(f"wrote {out}\n")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m monitoring.export",
        description="Export the monitoring extension's alert rules to Prometheus and its "
        "dashboard to Grafana.",
    )
    sub = parser.add_subparsers(dest="what", required=True, metavar="{prometheus-rules,"
                                "grafana-dashboard}")  # fmt: skip
    rules = sub.add_parser(
        "prometheus-rules",
        help="Prometheus alerting rules from the bot's alert rules",
        description="Write Prometheus alerting rules (YAML) equivalent to the bot's alert rules: "
        "the built-in ones with thresholds from the settings (environment, MONITOR_CONFIG or "
        "./monitoring.toml) and the [[alert_rules]] of the TOML file.",
    )
    rules.add_argument("--out", type=Path, help="file to write (default: stdout)")
    rules.add_argument(
        "--config",
        type=Path,
        help="TOML settings file (default: MONITOR_CONFIG or ./monitoring.toml)",
    )
    rules.add_argument(
        "--defaults",
        action="store_true",
        help="use the built-in rules with default thresholds; ignore the environment and TOML",
    )
    board = sub.add_parser(
        "grafana-dashboard",
        help="a Grafana dashboard over /metrics",
        description="Write a Grafana dashboard (JSON) with the web dashboard's panels over the "
        "Prometheus series of /metrics, with $cluster and $instance variables.",
    )
    board.add_argument("--out", type=Path, help="file to write (default: stdout)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.what == "prometheus-rules":
            config = Config() if args.defaults else load_config(path=args.config)
            text = prometheus_rules(config)
        else:
            text = grafana_json()
        _write(text, args.out)
    except ConfigError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except OSError as exc:
        sys.stderr.write(f"error: cannot write {args.out}: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
