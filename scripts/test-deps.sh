#!/usr/bin/env bash
# Everything the test suite needs beyond Python packages and PostgreSQL (scripts/pg.sh):
# each scripts/deps-*.sh installs one thing (an emulator from npm, a browser from
# Debian's packages) when it is missing, so a clean CI machine gets them from here.
set -euo pipefail
cd "$(dirname "$0")/.."
for step in scripts/deps-*.sh; do
  [ -e "$step" ] || continue
  bash "$step"
done
