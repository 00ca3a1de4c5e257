#!/usr/bin/env bash
# bench/run.sh: pushd's reproducible benchmark, side by side with seedref
# (the original architecture in ../shared/peers/seedref). See bench/README.md.
#
# Builds Release binaries (build-bench/), builds seedref in a temporary copy,
# starts a private redis-server, then for each server runs four scenarios,
# each against a freshly started server pinned to CPU 0 with the load
# generator (pushd-bench) pinned to CPU 1:
#   idle    N authenticated idle connections: server RSS per connection
#   fanout  S subscribers in one group, one publisher at R msg/s for D s
#   sweep   the highest rate with zero loss (steps, bisection, then a D s run)
#   closed  S subscribers, one publisher keeping W sends in flight for D s
#   groups  the closed loop with 10,000 subscribers in 100 groups, 10 publishers
#   broadcast  `all` notifications (XADD to notify) to 10,000 connections at
#           B/s (pushd only: seedref has no notifications)
# Prints the table (pushd, seedref, ratios, targets) and writes the JSON to
# bench/results/<date>.json (and the table beside it as .md).
#
# Only processes this script started are stopped, by PID, also on Ctrl-C.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/run.sh [options]
  --quick              small and short (1,000 idle, 200 subscribers, 3 s): a smoke test
  --only NAME          run only pushd or only seedref
  --redis HOST:PORT    use this Redis instead of starting a private one
  --no-build           use the binaries already in the build dir
  --connections N      idle connections            (default 10000)
  --subscribers N      fan-out subscribers         (default 1000)
  --rate R             fan-out rate, messages/s    (default 100)
  --duration S         fan-out window, seconds     (default 10)
  --repeat N           fan-out windows; the median one is reported (default 3)
  --step-duration S    sweep step window, seconds  (default 5)
  --in-flight W        closed loop: sends kept in flight (default 16)
  --scenarios LIST     which of "idle fanout sweep closed groups broadcast" to run (default all)
  --broadcast-rate B   broadcast: notifications/s to all (default 10)
  --pushd-args ARGS    extra pushd arguments (e.g. "--bus-coalesce off")
  --out FILE           results JSON (default bench/results/<date>.json)
  --server-cpu N       CPU for the servers and Redis (default 0)
  --client-cpu N       CPU for the load generator    (default 1)
  --no-presence-off    skip the Groups.Presence off runs (pushd only: idle and
                       fan-out again with presence off; the main runs have it on)
  --no-compression     skip the permessage-deflate comparison (pushd only: idle
                       connections offering it, 1 KiB fan-out both ways)
  --wait-replicas N    pushd with Redis.WaitReplicas N (default 0)
  --replicas R         R replicas of the private Redis, pinned with it (default: N
                       of --wait-replicas; with --redis, attach them yourself)
Environment: BUILD_DIR (default <repo>/build-bench), SEEDREF_DIR (default
<repo>/../shared/peers/seedref), MAX_BUSY (default 0.25: wait while other
processes use more than this fraction of the CPUs before measuring).
EOF
}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build-bench}
SEEDREF_DIR=${SEEDREF_DIR:-$ROOT/../shared/peers/seedref}
MAX_BUSY=${MAX_BUSY:-0.25}
SECRET=bench-secret-0123456789abcdef
CONNECTIONS=10000
SUBSCRIBERS=1000
RATE=100
DURATION=10
STEP_DURATION=5
HOLD=5
REPEAT=3
SWEEP_START=50
SWEEP_FACTOR=1.5
SERVERS="pushd seedref"
REDIS_ADDR=""
DO_BUILD=1
OUT=""
SERVER_CPU=0
CLIENT_CPU=1
COMPRESSION=1
PRESENCE_OFF=1
WAIT_REPLICAS=0
REPLICAS=""
IN_FLIGHT=16
SCENARIOS="idle fanout sweep closed groups broadcast"
BROADCAST_RATE=10
GROUP_SUBSCRIBERS=10000
GROUP_COUNT=100
PUBLISHERS=10
PUSHD_ARGS=""

while [ $# -gt 0 ]; do
    case "$1" in
        --quick) CONNECTIONS=1000; SUBSCRIBERS=200; DURATION=3; STEP_DURATION=2; HOLD=1; REPEAT=1
                 GROUP_SUBSCRIBERS=1000; GROUP_COUNT=10; PUBLISHERS=2 ;;
        --only) SERVERS="$2"; shift ;;
        --redis) REDIS_ADDR="$2"; shift ;;
        --no-build) DO_BUILD=0 ;;
        --connections) CONNECTIONS="$2"; shift ;;
        --subscribers) SUBSCRIBERS="$2"; shift ;;
        --rate) RATE="$2"; shift ;;
        --duration) DURATION="$2"; shift ;;
        --repeat) REPEAT="$2"; shift ;;
        --step-duration) STEP_DURATION="$2"; shift ;;
        --in-flight) IN_FLIGHT="$2"; shift ;;
        --scenarios) SCENARIOS="$2"; shift ;;
        --pushd-args) PUSHD_ARGS="$2"; shift ;;
        --broadcast-rate) BROADCAST_RATE="$2"; shift ;;
        --out) OUT="$2"; shift ;;
        --server-cpu) SERVER_CPU="$2"; shift ;;
        --client-cpu) CLIENT_CPU="$2"; shift ;;
        --no-compression) COMPRESSION=0 ;;
        --no-presence-off) PRESENCE_OFF=0 ;;
        --wait-replicas) WAIT_REPLICAS="$2"; shift ;;
        --replicas) REPLICAS="$2"; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
case " pushd seedref pushd seedref " in *" $SERVERS "*) ;; *) echo "bench: --only pushd|seedref" >&2; exit 2 ;; esac

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/pushd-bench.XXXXXX")
STARTED=""   # PIDs this script started and has not stopped yet
KEEP_TMP=0

# Stops one process we started: SIGTERM, up to 10 s, then SIGKILL.
stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    STARTED=$(printf '%s\n' $STARTED | grep -vx "$pid" | tr '\n' ' ' || true)
}

cleanup() {
    local status=$? pid
    trap - EXIT INT TERM
    for pid in $STARTED; do stop_pid "$pid"; done
    if [ "$status" -ne 0 ] || [ "$KEEP_TMP" -eq 1 ]; then
        say "logs kept in $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

# Pinning: only with taskset and at least two CPUs.
NCPU=$(nproc 2>/dev/null || echo 1)
if command -v taskset >/dev/null 2>&1 && [ "$NCPU" -ge 2 ]; then
    PIN_SERVER="taskset -c $SERVER_CPU"
    PIN_CLIENT="taskset -c $CLIENT_CPU"
else
    PIN_SERVER=""
    PIN_CLIENT=""
    say "warning: no taskset or fewer than 2 CPUs: server and generator are not pinned; figures are not comparable"
fi

# Descriptors: as many as allowed (the generator holds one per connection).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
if [ "$NOFILE" != unlimited ] && [ "$NOFILE" -lt $((CONNECTIONS + 100)) ]; then
    die "ulimit -n is $NOFILE: too few descriptors for $CONNECTIONS connections (use --connections)"
fi

# A TCP port on 127.0.0.1 nobody listens on, below the ephemeral range.
free_port() {
    local p i
    for i in $(seq 1 200); do
        p=$((20000 + RANDOM % 12000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# Waits (up to 10 s) until PORT accepts connections while PID lives.
wait_port() {
    local port=$1 pid=$2 i
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || return 1
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    return 1
}

# Fraction of all CPUs busy over 2 s, from /proc/stat (nothing of ours runs then).
cpu_busy() {
    local a b
    a=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)
    sleep 2
    b=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)
    echo "$a $b" | awk '{busy=$3-$1; idle=$4-$2; t=busy+idle; printf "%.2f", (t > 0 ? busy / t : 0)}'
}

# Waits up to 60 s for the machine to be quiet; prints the last busy fraction.
wait_quiet() {
    local busy i
    for i in 1 2 3 4 5 6; do
        busy=$(cpu_busy)
        if awk -v b="$busy" -v m="$MAX_BUSY" 'BEGIN{exit !(b <= m)}'; then echo "$busy"; return 0; fi
        say "machine busy ($busy of the CPUs used by other processes); waiting (${i}/6)"
        sleep 8
    done
    say "warning: the machine stayed busy ($busy); measuring anyway, figures may be pessimistic"
    echo "$busy"
}

# ---- build -----------------------------------------------------------------
if [ "$DO_BUILD" -eq 1 ]; then
    say "building Release binaries in $BUILD_DIR"
    cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >"$TMP/cmake.log" 2>&1 || { cat "$TMP/cmake.log" >&2; die "cmake configure failed"; }
    cmake --build "$BUILD_DIR" -j "$NCPU" --target pushd pushd-bench >>"$TMP/cmake.log" 2>&1 || { tail -30 "$TMP/cmake.log" >&2; die "build failed"; }
fi
PUSHD="$BUILD_DIR/pushd"
BENCH="$BUILD_DIR/pushd-bench"
[ -x "$PUSHD" ] && [ -x "$BENCH" ] || die "no $PUSHD or $BENCH (drop --no-build)"

SEEDREF_BIN=""
SEEDREF_SKIP=""
case " $SERVERS " in *" seedref "*)
    if ! command -v go >/dev/null 2>&1; then
        SEEDREF_SKIP="Go is not installed (apt-get install golang-go golang-github-gorilla-websocket-dev golang-github-golang-jwt-jwt-dev golang-github-gomodule-redigo-dev)"
    elif [ ! -f "$SEEDREF_DIR/build.sh" ]; then
        SEEDREF_SKIP="no seedref at $SEEDREF_DIR (set SEEDREF_DIR)"
    else
        say "building seedref from $SEEDREF_DIR (in a temporary copy)"
        cp -R "$SEEDREF_DIR" "$TMP/seedref"
        chmod -R u+w "$TMP/seedref"
        if [ -z "${GOCACHE:-}" ] && [ -z "${HOME:-}" ] && [ -z "${XDG_CACHE_HOME:-}" ]; then export GOCACHE="$TMP/go-cache"; fi
        if sh "$TMP/seedref/build.sh" >"$TMP/seedref-build.log" 2>&1 && [ -x "$TMP/seedref/seedref" ]; then
            SEEDREF_BIN="$TMP/seedref/seedref"
        else
            SEEDREF_SKIP="seedref did not build: $(tail -1 "$TMP/seedref-build.log")"
        fi
    fi
    [ -n "$SEEDREF_SKIP" ] && say "skipping seedref: $SEEDREF_SKIP"
    ;;
esac

# ---- Redis -----------------------------------------------------------------
REDIS_PID=""
if [ -n "$REDIS_ADDR" ]; then
    say "using Redis at $REDIS_ADDR"
elif command -v redis-server >/dev/null 2>&1; then
    RPORT=$(free_port) || die "no free port for Redis"
    $PIN_SERVER redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$TMP" --logfile "$TMP/redis.log" --daemonize no &
    REDIS_PID=$!
    STARTED="$STARTED $REDIS_PID"
    wait_port "$RPORT" "$REDIS_PID" || die "redis-server did not start (see $TMP/redis.log)"
    REDIS_ADDR="127.0.0.1:$RPORT"
    say "private redis-server pid $REDIS_PID on $REDIS_ADDR"
    REPLICAS=${REPLICAS:-$WAIT_REPLICAS}
    for i in $(seq 1 "$REPLICAS"); do
        port=$(free_port) || die "no free port for a replica"
        mkdir -p "$TMP/replica$i"
        $PIN_SERVER redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$TMP/replica$i" \
            --logfile "$TMP/replica$i.log" --daemonize no --replicaof 127.0.0.1 "$RPORT" &
        STARTED="$STARTED $!"
        wait_port "$port" "$!" || die "replica $i did not start (see $TMP/replica$i.log)"
    done
    for i in $(seq 1 100); do
        online=$(redis-cli -p "$RPORT" info replication | grep -c 'state=online' || true)
        [ "$online" -ge "$REPLICAS" ] && break
        sleep 0.1
    done
    [ "$REPLICAS" -eq 0 ] || say "$online replica(s) online"
else
    REDIS_ADDR="127.0.0.1:6379"
    if [ -n "$SEEDREF_BIN" ]; then SEEDREF_BIN=""; SEEDREF_SKIP="no redis-server to run it with"; say "skipping seedref: $SEEDREF_SKIP"; fi
fi
REDIS_PID_ARGS=()
[ -n "$REDIS_PID" ] && REDIS_PID_ARGS=(--redis-pid "$REDIS_PID")
PREFIX="bench$$"

# ---- servers ---------------------------------------------------------------
SERVER_PID=""
SERVER_PORT=""

# Starts server NAME on a free port, pinned; sets SERVER_PID and SERVER_PORT.
start_server() {
    local name=$1 port
    port=$(free_port) || die "no free port"
    case "$name" in
        pushd)
            cat >"$TMP/pushd.yaml" <<EOF
Port: $port
Host: 127.0.0.1
Redis: {Host: "$REDIS_ADDR", KeyPrefix: "$PREFIX:", WaitReplicas: $WAIT_REPLICAS}
Auth: {AccessSecret: "$SECRET"}
Limits: {MaxConnections: 100000, MaxConnectionsPerIp: 100000, MaxSessionsPerUser: 100000, MessagesPerSecond: 1000000, Burst: 10000000, MaxQueueBytes: 16777216}
Groups: {Presence: ${PRESENCE_SETTING:-true}}
Log: {Level: warn}
EOF
            # shellcheck disable=SC2086 # PUSHD_ARGS: words on purpose
            $PIN_SERVER "$PUSHD" -f "$TMP/pushd.yaml" $PUSHD_ARGS >>"$TMP/pushd.log" 2>&1 &
            ;;
        seedref)
            $PIN_SERVER "$SEEDREF_BIN" -host 127.0.0.1 -port "$port" -redis "$REDIS_ADDR" \
                -stream "$PREFIX:seedref" -secret "$SECRET" >>"$TMP/seedref.log" 2>&1 &
            ;;
    esac
    SERVER_PID=$!
    SERVER_PORT=$port
    STARTED="$STARTED $SERVER_PID"
    wait_port "$port" "$SERVER_PID" || die "$name did not start (see $TMP/$name.log)"
}

stop_server() {
    [ -n "$SERVER_PID" ] && stop_pid "$SERVER_PID"
    SERVER_PID=""
}

# Runs one scenario against a fresh server; writes its JSON to $TMP/NAME-SCEN.json.
# LABEL=... names the output file when one scenario runs in several ways.
scenario() {
    local name=$1 scen=$2 out="$TMP/$1-${LABEL:-$2}.json" status=0
    shift 2
    start_server "$name"
    say "$name ($SERVER_PID, port $SERVER_PORT): $scen"
    # In the background with `wait`, so that Ctrl-C/SIGTERM reach the trap at
    # once (bash defers traps while a foreground command runs).
    $PIN_CLIENT "$BENCH" "$scen" --url "ws://127.0.0.1:$SERVER_PORT/ws" --secret "$SECRET" \
        --user-prefix "$PREFIX-" --server-pid "$SERVER_PID" "$@" >"$out" &
    local gen=$!
    STARTED="$STARTED $gen"
    wait "$gen" || status=$?
    STARTED=$(printf '%s\n' $STARTED | grep -vx "$gen" | tr '\n' ' ' || true)
    stop_server
    if [ "$status" -ne 0 ]; then say "warning: $name $scen exited with $status"; KEEP_TMP=1; fi
    [ -s "$out" ] || echo 'null' >"$out"
}

# True when scenario $1 is in --scenarios.
wanted() { case " $SCENARIOS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

BUSY_JSON=""
for name in $SERVERS; do
    if [ "$name" = seedref ] && [ -z "$SEEDREF_BIN" ]; then continue; fi
    busy=$(wait_quiet)
    BUSY_JSON="$BUSY_JSON${BUSY_JSON:+,}\"$name\":$busy"
    if wanted idle; then scenario "$name" idle --connections "$CONNECTIONS" --hold "$HOLD"; fi
    if wanted fanout; then
        scenario "$name" fanout --subscribers "$SUBSCRIBERS" --rate "$RATE" --duration "$DURATION" \
            --repeat "$REPEAT" "${REDIS_PID_ARGS[@]}"
    fi
    if wanted sweep; then
        scenario "$name" sweep --subscribers "$SUBSCRIBERS" --start "$SWEEP_START" --factor "$SWEEP_FACTOR" \
            --step-duration "$STEP_DURATION" --duration "$DURATION" "${REDIS_PID_ARGS[@]}"
    fi
    # The closed loop counts acks: seedref acks each send once stored, as pushd does.
    if wanted closed; then
        scenario "$name" closed --subscribers "$SUBSCRIBERS" --in-flight "$IN_FLIGHT" \
            --duration "$DURATION" --repeat "$REPEAT" "${REDIS_PID_ARGS[@]}"
    fi
    if wanted groups; then
        LABEL=groups scenario "$name" closed --subscribers "$GROUP_SUBSCRIBERS" --groups "$GROUP_COUNT" \
            --publishers "$PUBLISHERS" --in-flight "$IN_FLIGHT" --duration "$DURATION" --repeat 1 "${REDIS_PID_ARGS[@]}"
    fi
    if wanted broadcast; then
        if [ "$name" = seedref ]; then
            say "seedref: broadcast skipped (it has no notifications: no notify stream, no 'all' target)"
            echo '{"skipped":"seedref has no notifications (no notify stream, no all target)"}' >"$TMP/seedref-broadcast.json"
        else
            scenario "$name" broadcast --connections "$CONNECTIONS" --rate "$BROADCAST_RATE" --duration "$DURATION" \
                --redis "$REDIS_ADDR" --key-prefix "$PREFIX:" "${REDIS_PID_ARGS[@]}"
        fi
    fi
done

# p99 at equal load: pushd at seedref's highest zero-loss rate (each
# server's own ceiling is a different load, so their p99 there do not
# compare).
EQUAL_JSON='{"skipped":"needs both servers"}'
case " $SERVERS " in *" pushd "*)
    # (no seedref-sweep.json with --only pushd: grep fails, which is no error)
    SEEDREF_BEST=$(grep -o '"best_rate":[0-9.]*' "$TMP/seedref-sweep.json" 2>/dev/null | head -1 | cut -d: -f2 || true)
    if [ -n "$SEEDREF_BIN" ] && [ -n "$SEEDREF_BEST" ] && [ "${SEEDREF_BEST%.*}" -gt 0 ] 2>/dev/null; then
        wait_quiet >/dev/null
        LABEL=fanout-equal scenario pushd fanout --subscribers "$SUBSCRIBERS" --rate "$SEEDREF_BEST" \
            --duration "$DURATION" --repeat 1 "${REDIS_PID_ARGS[@]}"
        EQUAL_JSON=$(cat "$TMP/pushd-fanout-equal.json")
    fi
    ;;
esac

# permessage-deflate, pushd only: what offering it costs an idle connection,
# and CPU per delivery of a 1 KiB text message without and with it.
COMPRESSION_JSON='{"skipped":"not requested"}'
case " $SERVERS " in *" pushd "*)
    if [ "$COMPRESSION" = 1 ]; then
        wait_quiet >/dev/null
        LABEL=idle-deflate scenario pushd idle --connections "$CONNECTIONS" --hold "$HOLD" --deflate
        for mode in plain deflate; do
            flag=""; [ "$mode" = deflate ] && flag=--deflate
            LABEL="fanout-1k-$mode" scenario pushd fanout --subscribers "$SUBSCRIBERS" --rate "$RATE" --duration "$DURATION" \
                --repeat 1 --content-bytes 1024 $flag "${REDIS_PID_ARGS[@]}"
        done
        COMPRESSION_JSON=$(printf '{"idle_deflate":%s,"fanout_1k_plain":%s,"fanout_1k_deflate":%s}' \
            "$(cat "$TMP/pushd-idle-deflate.json")" "$(cat "$TMP/pushd-fanout-1k-plain.json")" \
            "$(cat "$TMP/pushd-fanout-1k-deflate.json")")
    fi
    ;;
esac

# Groups.Presence, pushd only: the runs above have it on (the default);
# connect rate (idle: connections / setup_s) and fan-out CPU with it off.
PRESENCE_JSON='{"skipped":"not requested"}'
case " $SERVERS " in *" pushd "*)
    if [ "$PRESENCE_OFF" = 1 ]; then
        wait_quiet >/dev/null
        PRESENCE_SETTING=false LABEL=idle-presence-off scenario pushd idle --connections "$CONNECTIONS" --hold "$HOLD"
        PRESENCE_SETTING=false LABEL=fanout-presence-off scenario pushd fanout --subscribers "$SUBSCRIBERS" \
            --rate "$RATE" --duration "$DURATION" --repeat "$REPEAT" "${REDIS_PID_ARGS[@]}"
        PRESENCE_JSON=$(printf '{"idle_off":%s,"fanout_off":%s}' "$(cat "$TMP/pushd-idle-presence-off.json")" \
            "$(cat "$TMP/pushd-fanout-presence-off.json")")
    fi
    ;;
esac

# ---- results ---------------------------------------------------------------
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
if [ -z "$OUT" ]; then
    mkdir -p "$ROOT/bench/results"
    OUT="$ROOT/bench/results/$(date -u +%Y-%m-%d-%H%M%S).json"
fi
json_str() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }
server_json() {
    local name=$1
    if [ "$name" = seedref ] && [ -z "$SEEDREF_BIN" ]; then
        printf '{"skipped":%s}' "$(json_str "${SEEDREF_SKIP:-not requested}")"
        return
    fi
    case " $SERVERS " in *" $name "*) ;; *) printf '{"skipped":"not requested"}'; return ;; esac
    local scen out=""
    for scen in idle fanout sweep closed groups broadcast; do
        if [ -s "$TMP/$name-$scen.json" ]; then out="$out${out:+,}\"$scen\":$(cat "$TMP/$name-$scen.json")"; fi
    done
    printf '{%s}' "$out"
}
MODEL=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
GIT=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
{
    printf '{"date":"%s","git":%s,' "$DATE" "$(json_str "$GIT")"
    printf '"machine":{"cpus":%s,"model":%s,"kernel":%s},' "$NCPU" "$(json_str "$MODEL")" "$(json_str "$(uname -r)")"
    printf '"pinning":{"server_cpu":%s,"client_cpu":%s,"pinned":%s},' "$SERVER_CPU" "$CLIENT_CPU" "$([ -n "$PIN_SERVER" ] && echo true || echo false)"
    printf '"settings":{"connections":%s,"subscribers":%s,"rate":%s,"duration_s":%s,"repeat":%s,"step_duration_s":%s,"sweep_start":%s,"sweep_factor":%s,"in_flight":%s,"scenarios":%s,"pushd_args":%s,"redis":%s},' \
        "$CONNECTIONS" "$SUBSCRIBERS" "$RATE" "$DURATION" "$REPEAT" "$STEP_DURATION" "$SWEEP_START" "$SWEEP_FACTOR" \
        "$IN_FLIGHT" "$(json_str "$SCENARIOS")" "$(json_str "$PUSHD_ARGS")" "$(json_str "$REDIS_ADDR")"
    printf '"cpu_busy_before":{%s},' "$BUSY_JSON"
    printf '"pushd":%s,"seedref":%s,"pushd_at_seedref_rate":%s,"compression":%s,"presence":%s}\n' \
    "$(server_json pushd)" "$(server_json seedref)" "$EQUAL_JSON" "$COMPRESSION_JSON" "$PRESENCE_JSON"
} >"$OUT"

"$BENCH" report "$OUT" >"${OUT%.json}.md"
say "results: $OUT"
echo
echo "pushd benchmark $DATE ($NCPU CPUs: $MODEL; server on CPU $SERVER_CPU, generator on CPU $CLIENT_CPU)"
echo
cat "${OUT%.json}.md"
