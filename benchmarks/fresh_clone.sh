#!/usr/bin/env bash
# Times each of the README's two commands on its own fresh clone of this repository's
# HEAD, virtualenv creation and `pip install -e .[dev]` included (pip's download cache,
# if any, is used; Debian packages already present are not reinstalled).
# Prints one line per command: "make <command> <seconds> s (exit <code>)".
# Usage: benchmarks/fresh_clone.sh [--keep]
set -uo pipefail
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
work=$(mktemp -d /tmp/loa-fresh.XXXXXX)
keep=${1:-}
trap '[ "$keep" = --keep ] || rm -rf "$work"' EXIT

time_fresh() {
  local clone="$work/$1/loa" started ended code
  git clone --quiet "$repo" "$clone"
  [ -d "$repo/../shared" ] && ln -s "$(cd "$repo/../shared" && pwd)" "$work/$1/shared"
  started=$(date +%s%N)
  make -C "$clone" "$1" >"$work/$1.log" 2>&1
  code=$?
  ended=$(date +%s%N)
  printf 'make %-5s %d.%d s (exit %d)\n' "$1" $(((ended - started) / 1000000000)) \
    $(((ended - started) / 100000000 % 10)) "$code"
  [ "$code" -eq 0 ] || tail -n 20 "$work/$1.log"
}

time_fresh demo
grep -E "Tổng thời gian" "$work/demo.log" | sed 's/.*\(Tổng thời gian.*\)/  loa demo itself: \1/'
time_fresh test
grep -E "[0-9]+ passed" "$work/test.log" | tail -n 1 | sed "s/^/  /"
