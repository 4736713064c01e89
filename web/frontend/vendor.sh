#!/usr/bin/env bash
# Vendor the dashboard's chart library from npm into assets/vendor/ (reproducible: npm ci
# installs exactly what package-lock.json pins, integrity-checked). Run it after changing the
# pinned version in package.json (then `npm install --package-lock-only` here) and commit the
# result: tests and users never need npm. Needs node and npm (Debian: apt-get install npm).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
dest="$root/assets/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cp "$here/package.json" "$here/package-lock.json" "$work/"
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)

pkg="$work/node_modules/uplot"
version="$(node -p "require('$pkg/package.json').version")"
mkdir -p "$dest"
cp "$pkg/dist/uPlot.iife.min.js" "$dest/uPlot.iife.min.js"
cp "$pkg/dist/uPlot.min.css" "$dest/uPlot.min.css"
cp "$pkg/LICENSE" "$dest/uPlot.LICENSE"

{
  echo "# Vendored by web/frontend/vendor.sh from npm (package-lock.json); do not edit by hand."
  echo "# package version file sha256"
  for f in uPlot.iife.min.js uPlot.min.css uPlot.LICENSE; do
    echo "uplot $version $f $(sha256sum "$dest/$f" | cut -d' ' -f1)"
  done
} > "$dest/VERSIONS.txt"
echo "vendored uplot $version into ${dest#"$root"/}"
