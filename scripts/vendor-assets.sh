#!/usr/bin/env bash
# Copy the pinned front-end libraries from node_modules into the git-ignored vendor folder.
set -euo pipefail
cd "$(dirname "$0")/.."
vendor=src/foredeck/console/static/vendor
mkdir -p "$vendor"
if [ ! -s package-lock.json ]; then
  exit 0
fi
npm ci --no-audit --no-fund --silent
while read -r src dest; do
  [ -z "$src" ] && continue
  cp "node_modules/$src" "$vendor/$dest"
done < scripts/vendor-files.txt
