#!/bin/sh
# `make run`: serve with the given configuration on its port (8889 by
# default). When the configured Redis does not answer, start a private
# redis-server for this development run (data under build/dev-redis/, kept
# between runs) and stop it again when pushd exits.
set -u
PUSHD=$1
CONFIG=$2

"$PUSHD" --check -f "$CONFIG" >/dev/null || exit 2

redis_addr=$("$PUSHD" --print-config -f "$CONFIG" | sed -n 's/^Redis\.Host=//p')
redis_host=${redis_addr%:*}
redis_port=${redis_addr##*:}

reachable() {
    # A password-protected Redis answers NOAUTH: it is there all the same.
    redis-cli -h "$1" -p "$2" ping 2>&1 | grep -qE 'PONG|NOAUTH'
}

redis_pid=""
cleanup() {
    if [ -n "$redis_pid" ]; then
        kill "$redis_pid" 2>/dev/null
        wait "$redis_pid" 2>/dev/null
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! reachable "$redis_host" "$redis_port"; then
    case "$redis_host" in
        127.*|localhost|::1|\[::1\]) private_port=$redis_port ;;
        *) private_port=6399 ;;
    esac
    data_dir=$(pwd)/build/dev-redis
    mkdir -p "$data_dir"
    echo "make run: Redis at $redis_addr is not reachable; starting a private redis-server" \
         "on 127.0.0.1:$private_port for this development run (data in $data_dir)"
    redis-server --port "$private_port" --bind 127.0.0.1 --dir "$data_dir" \
        --appendonly yes --save "" --daemonize no --logfile "$data_dir/redis.log" &
    redis_pid=$!
    tries=0
    until reachable 127.0.0.1 "$private_port"; do
        tries=$((tries + 1))
        if [ $tries -gt 100 ] || ! kill -0 "$redis_pid" 2>/dev/null; then
            echo "make run: the private redis-server did not start; see $data_dir/redis.log" >&2
            exit 1
        fi
        sleep 0.05
    done
    PUSHD_REDIS_HOST=127.0.0.1:$private_port
    export PUSHD_REDIS_HOST
fi

echo "make run: pushd -f $CONFIG (Ctrl-C stops it)"
"$PUSHD" -f "$CONFIG"
