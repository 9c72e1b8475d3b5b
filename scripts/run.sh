#!/usr/bin/env bash
# Quick start: installs what is missing, builds, and runs omnitraild in the foreground on the
# default config (config/omnitrail.yaml: SQLite under ./state, HTTP on 127.0.0.1:8080).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh -DOMNITRAIL_TESTS=OFF
mkdir -p state
exec build/daemon/omnitraild --config config/omnitrail.yaml "$@"
