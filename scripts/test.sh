#!/usr/bin/env bash
# The whole test suite: installs what is missing (build + test peers), builds with -Werror,
# runs every ctest test (unit, integration, system), then builds the libFuzzer targets with
# clang and runs each one for a bounded time on its corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
jobs=$(nproc 2>/dev/null || echo 2)

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOMNITRAIL_WERROR=ON -DOMNITRAIL_TESTS=ON >/dev/null
cmake --build build -j "$jobs"

tests/browser/install.sh  # playwright-core for the console test (pinned, no browser download)

status=0
(cd build && ctest --output-on-failure -j "$jobs" --timeout 600) || status=1

# Fuzzing: a separate clang build of the parsers only (sanitizers + libFuzzer).
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DOMNITRAIL_FUZZ=ON -DOMNITRAIL_TESTS=OFF -DOMNITRAIL_WERROR=ON >/dev/null
cmake --build build-fuzz -j "$jobs" --target fuzzers
(cd build-fuzz && ctest --output-on-failure -L fuzz) || status=1
exit $status
