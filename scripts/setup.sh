#!/usr/bin/env bash
# Installs the Debian 12 packages Omnitrail needs, and only those that are missing (idempotent).
#   scripts/setup.sh          build dependencies
#   scripts/setup.sh --test   build dependencies + what the test suite starts (peers, clang for fuzzing)
#   scripts/setup.sh --bench  --test + the benchmark load generator (wrk), used by bench/run.sh
set -euo pipefail

build_packages=(
  build-essential cmake ninja-build pkg-config ccache git python3
  libboost-dev libboost-system-dev libssl-dev libcurl4-openssl-dev libyaml-cpp-dev
  libsqlite3-dev sqlite3 catch2 libsystemd-dev libphonenumber-dev libgmime-3.0-dev nlohmann-json3-dev
)
test_packages=(
  clang libclang-rt-14-dev systemd openssl curl chromium nodejs
  dovecot-imapd python3-aiosmtpd kannel kannel-extras
)
bench_packages=(
  wrk
)

wanted=("${build_packages[@]}")
mode="${1:-}"
if [[ -n "$mode" && "$mode" != "--test" && "$mode" != "--bench" ]]; then
  echo "usage: scripts/setup.sh [--test|--bench]" >&2
  exit 2
fi
if [[ "$mode" == "--test" || "$mode" == "--bench" ]]; then
  wanted+=("${test_packages[@]}")
fi
if [[ "$mode" == "--bench" ]]; then
  wanted+=("${bench_packages[@]}")
fi

missing=()
for pkg in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

# npm: Debian's nodejs needs the separate `npm` package; a NodeSource nodejs bundles npm (and
# conflicts with Debian's npm), so ask for the package only when no npm command exists.
if [[ "$mode" == "--test" || "$mode" == "--bench" ]] && ! command -v npm >/dev/null 2>&1; then
  if ! dpkg-query -W -f='${Status}' npm 2>/dev/null | grep -q "install ok installed"; then
    missing+=(npm)
  fi
fi

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#wanted[@]} packages present"
  exit 0
fi

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then sudo_cmd=(sudo); else
    echo "setup: missing packages (${missing[*]}) and not root; run as root or install them" >&2
    exit 1
  fi
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
