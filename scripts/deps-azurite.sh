#!/usr/bin/env bash
# Azurite (the Azure Storage emulator) from the npm registry for tests/test_apply_azure*.py
# (issue #6 §2): `npm ci` installs the version pinned in tests/azurite/package-lock.json
# into tests/azurite/node_modules (gitignored), only when it is missing or the lock
# changed. Without node/npm the Azure apply tests skip with the reason (and fail in CI).
set -euo pipefail
cd "$(dirname "$0")/../tests/azurite"
stamp=node_modules/.package-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -x node_modules/.bin/azurite-blob ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "deps-azurite: npm is missing (install Node.js >= 18): the Azure apply tests will skip" >&2
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
echo "$want" >"$stamp"
node_modules/.bin/azurite-blob --version
