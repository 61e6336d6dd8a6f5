#!/usr/bin/env bash
# Headless Chromium from Debian's packages for tests/test_report_browser.py (issue #6 §5):
# installed only when /usr/bin/chromium is missing and we are root; otherwise the browser
# test skips with the reason (and fails in CI, where this script has run).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "deps-chromium: /usr/bin/chromium is missing and we are not root: the browser test will skip" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
/usr/bin/chromium --version
