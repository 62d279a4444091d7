#!/usr/bin/env bash
# Times the README's two commands on a fresh clone of this repository's HEAD:
# venv creation and `pip install -e .[dev]` included (pip's cache, if any, is used).
# Prints one line per command: "<command> <seconds> s (exit <code>)".
# Usage: benchmarks/fresh_clone.sh [--keep]
set -uo pipefail
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
work=$(mktemp -d /tmp/loa-fresh.XXXXXX)
trap '[ "${1:-}" = --keep ] || rm -rf "$work"' EXIT
git clone --quiet "$repo" "$work/loa"
[ -d "$repo/../shared" ] && ln -s "$(cd "$repo/../shared" && pwd)" "$work/shared"
cd "$work/loa" || exit 1

time_command() {
  local started ended code
  started=$(date +%s%N)
  make "$1" >"$work/$1.log" 2>&1
  code=$?
  ended=$(date +%s%N)
  printf 'make %-5s %d.%d s (exit %d)\n' "$1" $(((ended - started) / 1000000000)) \
    $(((ended - started) / 100000000 % 10)) "$code"
  [ "$code" -eq 0 ] || tail -n 20 "$work/$1.log"
}

# The demo first on a truly fresh clone: it includes the virtualenv install.
time_command demo
grep -E "Tổng thời gian|wall" "$work/demo.log" | tail -n 1
time_command test
tail -n 1 "$work/test.log"
