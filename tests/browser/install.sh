#!/usr/bin/env bash
# Installs the browser tests' Node dependencies (playwright-core only, pinned in package-lock.json)
# into tests/browser/node_modules. Idempotent: does nothing when they are already installed.
# Never downloads a browser: the tests drive the system Chromium (/usr/bin/chromium, Debian package
# `chromium`; scripts/setup.sh --test installs it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "install.sh: node and npm are required (scripts/setup.sh --test, or apt-get install nodejs npm)" >&2
  exit 1
fi

export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

want=$(node -p 'require("./package.json").dependencies["playwright-core"]')
have=$(node -p 'try { require("./node_modules/playwright-core/package.json").version } catch (e) { "" }')
if [[ -n "$have" && "$have" == "$want" ]]; then
  echo "install.sh: playwright-core $have already installed"
  exit 0
fi

if [[ -f package-lock.json ]]; then
  npm ci --no-audit --no-fund
else
  npm install --no-audit --no-fund
fi
echo "install.sh: installed playwright-core $(node -p 'require("./node_modules/playwright-core/package.json").version')"
