#!/bin/bash
# The test suite N times (default 10) beside a release build of the crate
# looping in a second clone, as issue 18 asks: a timing-sensitive test
# shows up here. Usage, from the project root:
#   benches/soak_suite.sh [N] [SECOND_CLONE]   (default: 10, ../soak-clone)
# Prints one line per run: pass/FAIL, seconds, load, binaries ok.
set -u
n=${1:-10}
clone=${2:-../soak-clone}
[ -d "$clone" ] || git clone -q . "$clone"
done_flag=$(mktemp -u)
( cd "$clone" && while [ ! -e "$done_flag" ]; do
    touch src/lib.rs; nice -n 5 cargo build --release --example hello >/dev/null 2>&1
  done ) &
cargo test --tests --no-run >/dev/null 2>&1
for i in $(seq 1 "$n"); do
  start=$(date +%s)
  log=$(mktemp)
  if cargo test --tests --no-fail-fast >"$log" 2>&1; then r=pass; else r=FAIL; fi
  echo "run $i: $r in $(( $(date +%s) - start )) s, load $(cut -d' ' -f1 /proc/loadavg)," \
       "$(grep -c '^test result: ok' "$log") binaries ok"
  [ "$r" = FAIL ] && grep -E "FAILED|panicked" "$log" | head -5
  rm -f "$log"
done
touch "$done_flag"
wait
