#!/bin/bash
# One fan-out window at a fixed rate against a given pushd binary, with the
# server's system calls counted by perf's syscall tracepoints (low overhead,
# unlike strace): how many sends, epoll_wait and epoll_ctl a write path costs.
#
#   bench/syscalls.sh PUSHD_BINARY RATE [SUBSCRIBERS]
#
# Needs redis-server, perf (linux-perf) and build-bench/pushd-bench (bench/run.sh
# builds it). Server and Redis on CPU 0, the generator on CPU 1, 8 s window,
# syscalls counted over 4 s in its middle. Prints one line of results and the
# counts. Everything it starts is stopped by PID.
set -u
BIN=${1:?usage: bench/syscalls.sh PUSHD_BINARY RATE [SUBSCRIBERS]}
RATE=${2:?usage: bench/syscalls.sh PUSHD_BINARY RATE [SUBSCRIBERS]}
SUBS=${3:-1000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/build-bench/pushd-bench
SECRET=bench-secret-0123456789abcdef
TMP=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RP=$(free_port); PP=$(free_port)
taskset -c 0 redis-server --port "$RP" --bind 127.0.0.1 --save "" --appendonly no --dir "$TMP" --daemonize no \
    --logfile "$TMP/redis.log" &
RPID=$!
cat >"$TMP/pushd.yaml" <<Y
Port: $PP
Host: 127.0.0.1
Redis: {Host: "127.0.0.1:$RP"}
Auth: {AccessSecret: "$SECRET"}
Limits: {MaxConnections: 100000, MaxConnectionsPerIp: 100000, MaxSessionsPerUser: 100000, MessagesPerSecond: 1000000, Burst: 10000000, MaxQueueBytes: 16777216}
Log: {Level: warn}
Y
for _ in $(seq 50); do redis-cli -p "$RP" ping >/dev/null 2>&1 && break; sleep 0.1; done
taskset -c 0 "$BIN" -f "$TMP/pushd.yaml" >"$TMP/pushd.log" 2>&1 &
PID=$!
cleanup() { kill "$PID" "$RPID" 2>/dev/null; wait "$PID" "$RPID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PP/health" && break; sleep 0.1; done
(sleep 4; perf stat -e syscalls:sys_enter_sendto,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_ctl \
    -p "$PID" -o "$TMP/perf.txt" -- sleep 4 >/dev/null 2>&1) &
PERF=$!
taskset -c 1 "$BENCH" fanout --url "ws://127.0.0.1:$PP/ws" --secret "$SECRET" --subscribers "$SUBS" \
    --rate "$RATE" --duration 8 --server-pid "$PID" >"$TMP/out.json" 2>/dev/null
wait "$PERF"
python3 - "$TMP/out.json" <<'P'
import json, sys
d = json.load(open(sys.argv[1]))
print("rate %s/s: %.0f deliveries/s, lost %d, p99 %.1f ms, server %.2f us/delivery, %.1f messages per client read"
      % (d["rate"], d["deliveries_per_s"], d["lost"], d["latency_us"]["p99"] / 1000, d["cpu_us_per_delivery"],
         d["client"]["messages_per_read"]))
P
grep syscalls "$TMP/perf.txt"
