#!/usr/bin/env bash
# bench/scaling.sh - multi-core scaling of server.threads (SPEC §11: delivered msgs/s
# with N threads on N free cores within 80 % of N x the single-thread figure).
#
# Meant for a machine with >= 16 cores; self-contained so that it runs from a folder
# made by bench/pack-portable.sh (binaries + their libraries, no packages needed):
#   bench/pack-portable.sh DIR && (cd DIR && ./scaling.sh)
# Server threads are pinned to cores 0..N-1; N client processes (tickgate-bench, one
# per core, CLIENTS_PER_PROC connections each) to the cores from CLIENT_CPU0 up; one of
# them drives the tcp feed at RATE ticks/s over 100 symbols. Loopback only; every
# process runs under `timeout` and is stopped by its PID. Prints one line per N.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
export PATH="$PATH:$HERE"
if [ -x "$HERE/lib/ld-linux-x86-64.so.2" ]; then # portable folder
    RUN=("$HERE/lib/ld-linux-x86-64.so.2" --library-path "$HERE/lib")
    TG=${TG_BIN:-$HERE/tickgate} BENCH=${BENCH_BIN:-$HERE/tickgate-bench}
else
    RUN=()
    TG=${TG_BIN:-$HERE/../build/tickgate} BENCH=${BENCH_BIN:-$HERE/../build/tickgate-bench}
fi
THREADS=${THREADS:-"1 2 4 8"}
RATE=${RATE:-2000}
CLIENTS_PER_PROC=${CLIENTS_PER_PROC:-1000}
DURATION=${DURATION:-5}
CLIENT_CPU0=${CLIENT_CPU0:-8}
# small boxes: CLIENT_PROCS=1 runs one client process whatever N (default: N of them),
# SERVER_CPU0=1 starts the server's cores at 1; cores wrap modulo nproc, so on 2 cores
# `THREADS="1 2" CLIENT_PROCS=1 CLIENT_CPU0=0 SERVER_CPU0=1` puts the server on core 1
# (one thread) or on cores 1,0 (two threads, the client beside one of them)
CLIENT_PROCS=${CLIENT_PROCS:-}
SERVER_CPU0=${SERVER_CPU0:-0}
NCPU=$(nproc)
SECRET=bench-secret-0123456789abcdef
WORK=$(mktemp -d /tmp/tg-scaling.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    sleep 1
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
}
trap cleanup EXIT
pin() { # cpu-list command...
    if command -v taskset >/dev/null; then taskset -c "$@"; else shift; "$@"; fi
}
num() { # file key -> the first number after "key":
    grep -o "\"$2\":[0-9.]*" "$1" 2>/dev/null | head -1 | cut -d: -f2
}
p99() { grep -o '"latency_us":{[^}]*}' "$1" 2>/dev/null | grep -o '"p99":[0-9.]*' | cut -d: -f2; }

echo "machine: nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(date -u +%FT%TZ)"
command -v taskset >/dev/null || echo "note: no taskset here, nothing is pinned"
port=19000
for n in $THREADS; do
    port=$((port + 10))
    cat >"$WORK/tg-$n.conf" <<EOF
server = { listen = "127.0.0.1:$port"; threads = $n; };
auth = { jwt_secret = "$SECRET"; };
limits = { max_conns_per_ip = 1000000; msgs_per_s = 1000; burst = 1000; };
feeds = ( { name = "bench"; type = "tcp"; listen = "127.0.0.1:$((port + 1))"; } );
log = { level = "warn"; };
EOF
    cpus=$(for i in $(seq 0 $((n - 1))); do echo $(((SERVER_CPU0 + i) % NCPU)); done | paste -sd,)
    procs=${CLIENT_PROCS:-$n}
    pin "$cpus" timeout 120 "${RUN[@]}" "$TG" --config "$WORK/tg-$n.conf" \
        >"$WORK/tg-$n.log" 2>&1 &
    spid=$!
    PIDS+=("$spid")
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
    cpids=()
    for i in $(seq 0 $((procs - 1))); do
        feed=()
        [ "$i" = 0 ] && feed=(--feed "127.0.0.1:$((port + 1))" --feed-rate "$RATE")
        pin "$(((CLIENT_CPU0 + i) % NCPU))" timeout 90 "${RUN[@]}" "$BENCH" --quiet --json \
            --url "ws://127.0.0.1:$port/ws" --secret "$SECRET" --all \
            --connections "$CLIENTS_PER_PROC" --ramp 2 --duration "$DURATION" "${feed[@]}" \
            >"$WORK/b-$n-$i.json" 2>"$WORK/b-$n-$i.err" &
        cpids+=($!)
    done
    PIDS+=("${cpids[@]}")
    for p in "${cpids[@]}"; do wait "$p"; done
    tpid=$(pgrep -f "tg-$n.conf" | sort -n | tail -1)
    cpu=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$tpid/stat" 2>/dev/null)
    kill -TERM "$spid" 2>/dev/null
    wait "$spid" 2>/dev/null
    total=0 worst=0 ready=0
    for i in $(seq 0 $((procs - 1))); do
        f="$WORK/b-$n-$i.json"
        total=$(awk -v a="$total" -v b="$(num "$f" msgs_per_s)" 'BEGIN{print a + (b == "" ? 0 : b)}')
        ready=$((ready + $(num "$f" ready || echo 0)))
        worst=$(awk -v a="$worst" -v b="$(p99 "$f")" 'BEGIN{print (b + 0 > a ? b + 0 : a)}')
    done
    offered=$((RATE * CLIENTS_PER_PROC * procs))
    echo "threads=$n clients=$ready offered=$offered msgs/s delivered=$total msgs/s worst_client_p99_us=$worst server_cpu_s=${cpu:-?}"
done
