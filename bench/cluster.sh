#!/bin/bash
# The send rate through one Redis against a three-master Redis Cluster
# (issue 15), on this machine: one pushd (Release build in build-bench)
# pinned with its Redis server(s) to one CPU, pushd-bench on the other, a
# closed loop of many small groups (P publishers, W sends in flight each,
# one subscriber per group) so that the sends spread over the bus shards.
#
# Per setup it prints the acknowledged sends per second, pushd's CPU per
# message, and Redis's CPU per message summed over every master (INFO cpu
# and INFO commandstats before and after: the messages are the append
# script's calls), and each master's share. On 2 cores every Redis process
# shares one core with pushd, so the cluster cannot show more throughput
# here; what it shows is the Redis CPU each message costs, which gives the
# paper estimate printed last (one core per master).
#
# The cluster runs twice: with Redis.BusShards at its default (12) and at
# the number of masters (one shard per master: fewer, fuller bus reads).
#
# usage: bench/cluster.sh [--duration S] [--publishers P] [--groups G] [--in-flight W] [--masters M]
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
DURATION=10 PUBLISHERS=10 NGROUPS=100 IN_FLIGHT=16 MASTERS=3
while [ $# -gt 0 ]; do
    case "$1" in
        --duration) DURATION=$2; shift 2 ;;
        --publishers) PUBLISHERS=$2; shift 2 ;;
        --groups) NGROUPS=$2; shift 2 ;;
        --in-flight) IN_FLIGHT=$2; shift 2 ;;
        --masters) MASTERS=$2; shift 2 ;;
        *) echo "usage: $0 [--duration S] [--publishers P] [--groups G] [--in-flight W] [--masters M]" >&2; exit 2 ;;
    esac
done
PUSHD=$BUILD/pushd BENCH=$BUILD/pushd-bench
[ -x "$PUSHD" ] && [ -x "$BENCH" ] || { echo "build first: cmake --build build-bench --target pushd pushd-bench" >&2; exit 2; }
SECRET=cluster-bench-secret-0123456789abcdef
TMP=$(mktemp -d)
STARTED=""
cleanup() {
    for pid in $STARTED; do kill "$pid" 2>/dev/null || true; done
    sleep 0.5
    for pid in $STARTED; do kill -9 "$pid" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT
PIN_SERVER="taskset -c 0" PIN_CLIENT="taskset -c 1"

# A port on 127.0.0.1 that is free, and whose +10000 (a cluster bus) is too.
free_port() {
    python3 - <<'EOF'
import socket
while True:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close()
    if p + 10000 > 65535: continue
    t = socket.socket()
    try:
        t.bind(("127.0.0.1", p + 10000)); t.close(); print(p); break
    except OSError:
        t.close()
EOF
}

wait_ping() { for _ in $(seq 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }

# Starts a redis-server on a free port (extra arguments after), pinned;
# sets REDIS_PORT. (Not through $(...): the server would hold its pipe.)
start_redis() {
    local dir
    REDIS_PORT=$(free_port)
    dir=$TMP/redis-$REDIS_PORT
    mkdir -p "$dir"
    (cd "$dir" && exec $PIN_SERVER redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
        "$@") >"$dir/log" 2>&1 &
    STARTED="$STARTED $!"
    wait_ping "$REDIS_PORT" || { echo "redis-server on $REDIS_PORT did not start" >&2; exit 1; }
}

# Sums over ports: Redis CPU seconds (user + sys) and append-script calls.
redis_totals() {
    local cpu=0 calls=0 p c n
    for p in "$@"; do
        c=$(redis-cli -p "$p" info cpu | awk -F: '/^used_cpu_(user|sys):/ {s += $2} END {printf "%.6f", s}')
        n=$(redis-cli -p "$p" info commandstats | tr -d '\r' |
            awk -F'[:=,]' '/^cmdstat_(evalsha|eval):/ {s += $3} END {print s + 0}')
        cpu=$(awk -v a="$cpu" -v b="$c" 'BEGIN {printf "%.6f", a + b}')
        calls=$((calls + n))
    done
    echo "$cpu $calls"
}

proc_cpu_s() { awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$1/stat"; }

# Runs pushd with the Redis lines given and the closed loop; prints one result row.
run_setup() {
    local label=$1 redis_yaml=$2
    shift 2
    local ports=("$@") port pid out
    port=$(free_port)
    cat >"$TMP/pushd.yaml" <<EOF
Port: $port
Host: 127.0.0.1
Redis: $redis_yaml
Api: {Listen: ""}
Auth: {AccessSecret: "$SECRET"}
Limits: {MaxConnections: 100000, MaxConnectionsPerIp: 100000, MaxSessionsPerUser: 100000, MessagesPerSecond: 1000000, Burst: 10000000, MaxQueueBytes: 16777216}
Log: {Level: warn}
EOF
    $PIN_SERVER "$PUSHD" -f "$TMP/pushd.yaml" >>"$TMP/pushd.log" 2>&1 &
    pid=$!
    STARTED="$STARTED $pid"
    for _ in $(seq 200); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "127.0.0.1:$port/health")" = 200 ] && break
        sleep 0.1
    done
    read -r r0 m0 < <(redis_totals "${ports[@]}")
    local p0
    p0=$(proc_cpu_s "$pid")
    out="$TMP/${label//[ ,]/_}.json"
    $PIN_CLIENT "$BENCH" closed --url "ws://127.0.0.1:$port/ws" --secret "$SECRET" --user-prefix "cb-" \
        --subscribers "$NGROUPS" --groups "$NGROUPS" --publishers "$PUBLISHERS" --in-flight "$IN_FLIGHT" \
        --duration "$DURATION" --server-pid "$pid" >"$out" 2>"$out.log"
    read -r r1 m1 < <(redis_totals "${ports[@]}")
    local p1
    p1=$(proc_cpu_s "$pid")
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    python3 - "$label" "$out" "$r0" "$r1" "$m0" "$m1" "$p0" "$p1" "${#ports[@]}" <<'EOF'
import json, sys
label, out, r0, r1, m0, m1, p0, p1, nodes = sys.argv[1:]
j = json.load(open(out))
msgs = int(m1) - int(m0)
redis_us = (float(r1) - float(r0)) * 1e6 / max(msgs, 1)
pushd_us = (float(p1) - float(p0)) * 1e6 / max(msgs, 1)
rate = j["acked"] / j["duration_s"]
print(f"| {label} | {nodes} | {rate:,.0f} | {j['ack_failed']} | {j['lost']} | {pushd_us:.1f} | {redis_us:.1f} | "
      f"{1e6 / redis_us:,.0f} | {j['latency_us']['p99'] / 1000:.1f} |")
EOF
}

echo "cluster bench $(date -u +%FT%TZ): $PUBLISHERS publishers x $IN_FLIGHT in flight, $NGROUPS groups of 1 subscriber, ${DURATION} s"
echo
echo "| setup | Redis masters | acked sends/s | failed acks | lost | pushd CPU us/msg | Redis CPU us/msg (all masters) | msgs/s one Redis core would carry | delivery p99 ms |"
echo "|---|---|---|---|---|---|---|---|---|"
start_redis
single=$REDIS_PORT
run_setup single "{Host: \"127.0.0.1:$single\"}" "$single"

ports=()
for _ in $(seq "$MASTERS"); do
    start_redis --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000
    ports+=("$REDIS_PORT")
done
addrs=()
for p in "${ports[@]}"; do addrs+=("127.0.0.1:$p"); done
redis-cli --cluster create "${addrs[@]}" --cluster-yes >"$TMP/create.log" 2>&1
for _ in $(seq 100); do
    redis-cli -p "${ports[0]}" cluster info | grep -q cluster_state:ok && break
    sleep 0.1
done
nodes=$(printf '"%s", ' "${addrs[@]}")
run_setup "cluster, 12 shards" "{Mode: cluster, Nodes: [${nodes%, }]}" "${ports[@]}"
run_setup "cluster, $MASTERS shards" "{Mode: cluster, Nodes: [${nodes%, }], BusShards: $MASTERS}" "${ports[@]}"

echo
echo "Each master's share of the cluster's Redis CPU:"
for p in "${ports[@]}"; do
    echo "  127.0.0.1:$p: $(redis-cli -p "$p" info cpu | awk -F: '/^used_cpu_(user|sys):/ {s += $2} END {printf "%.2f s", s}')"
done
