#!/bin/bash
# The idle-GC experiment behind the "tried and not adopted" `--min-semi-space-size=16` (docs/architecture.md,
# "Node flags"): for each flag set, a fresh crm-media (pinned to CPU 0) gets 5 s of c=1 1 MiB photo uploads, 6 s of 16 concurrent 8 MiB
# attachment uploads, IDLE seconds of nothing (default 150), then c=1 uploads again; the client runs on CPU 1.
# Prints req/s after the idle period and the number of major GCs, for the shipped flags and with the floor added.
#   npm run build && bench/idle-gc/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
IDLE=${IDLE:-150}
PORT=${PORT:-8899}
run() {
  local flags=$1 dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/crm-media-idle-gc.XXXX")
  CRM_MEDIA_DEV_TOKEN=tok CRM_MEDIA_LOG_LEVEL=warn CRM_MEDIA_SWEEP_INTERVAL_MS=0 \
    taskset -c 0 node $flags --trace-gc dist/cli.js --data "$dir" serve --port "$PORT" > "$dir/server.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.2; done
  taskset -c 1 node bench/idle-gc/upload-c1.mjs "http://127.0.0.1:$PORT" 5 > /dev/null
  taskset -c 1 node bench/idle-gc/attachments-c16.mjs "http://127.0.0.1:$PORT" 6 > /dev/null
  sync
  sleep "$IDLE"
  local before after
  before=$(grep -c Mark-Compact "$dir/server.log" || true)
  after=$(taskset -c 1 node bench/idle-gc/upload-c1.mjs "http://127.0.0.1:$PORT" 10)
  local majors=$(( $(grep -c Mark-Compact "$dir/server.log" || true) - before ))
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
  echo "$flags | after ${IDLE}s idle: $after | major GCs in those 10 s: $majors"
}
run "--no-memory-reducer --max-semi-space-size=32 --initial-old-space-size=64"
run "--no-memory-reducer --max-semi-space-size=32 --initial-old-space-size=64 --min-semi-space-size=16"
