#!/usr/bin/env bash
# Fuzzes each target for SECONDS_PER_TARGET (default 900), JOBS (default 2) at a time, at the
# lowest CPU priority (fork mode: a crash is saved under artifacts/ and fuzzing goes on),
# then merges what was found into the committed corpus (minimized).
# Build first: cd fuzz && cargo +nightly fuzz build -s none -a
# Usage: fuzz/run.sh [TARGET...]   (all targets when none are named)
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_PER_TARGET=${SECONDS_PER_TARGET:-900}
JOBS=${JOBS:-2}
BIN=target/x86_64-unknown-linux-gnu/release
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  TARGETS=(event_batch programme_toml rider_records shop_records gtfs_fares qr_payload gtfs_csv log_codec)
fi
run_one() {
  local t=$1
  mkdir -p "work/$t" "artifacts/$t" logs
  nice -n 19 "$BIN/$t" "work/$t" "corpus/$t" -max_total_time="$SECONDS_PER_TARGET" \
    -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -max_len=4096 -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
    -artifact_prefix="artifacts/$t/" >"logs/$t.log" 2>&1 || true
  # Minimize: a smallest set of inputs with the same edges (greedy set cover, hit counts
  # ignored) becomes the committed corpus.
  rm -rf "merged/$t" && mkdir -p "merged/$t"
  nice -n 19 "$BIN/$t" -set_cover_merge=1 -use_counters=0 -max_len=4096 -timeout=10 \
    "merged/$t" "corpus/$t" "work/$t" \
    >"logs/$t.merge.log" 2>&1 || true
  if [ -n "$(ls -A "merged/$t")" ]; then
    rm -rf "corpus/$t" && mv "merged/$t" "corpus/$t"
  fi
}
export -f run_one
export BIN SECONDS_PER_TARGET
printf '%s\n' "${TARGETS[@]}" | xargs -P "$JOBS" -I{} bash -c 'run_one {}'
