# bench/lib.sh - shared pieces of bench/run.sh and bench/peers.sh (sourced, not run).
#
# Everything here is loopback only and bounded: every server we start runs
# under `timeout`, is pinned with taskset -c 1 (the bench gets CPU 0), and is
# stopped with SIGTERM by its own pid when the scenario ends (EXIT trap).

ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BUILD=${BUILD:-$ROOT/build}
BENCH_BIN=${BENCH_BIN:-$BUILD/tickgate-bench}
TG_BIN=${TG_BIN:-$BUILD/tickgate}
PEERS_DIR=${PEERS_DIR:-$ROOT/../shared/peers}
RESULTS=${RESULTS:-$ROOT/bench/RESULTS.md}
SECRET=${SECRET:-bench-secret-0123456789abcdef}
SERVER_CPU=${SERVER_CPU:-1}
BENCH_CPU=${BENCH_CPU:-0}
WORK=$(mktemp -d /tmp/tickgate-bench.XXXXXX)
SERVER_PID=""

# Scenario 1 parameters (issue 7): 1,000 clients on all of 100 symbols.
FANOUT_CONNS=${FANOUT_CONNS:-1000}
FANOUT_DURATION=${FANOUT_DURATION:-5}
FANOUT_P99_US=${FANOUT_P99_US:-5000}
# Feed rates (ticks/s) tried in order; a target stops stepping once saturated.
FANOUT_STEPS=${FANOUT_STEPS:-"10 25 50 100 150 200 300 500 1000 1500 2000 3000 4000 6000"}

log() { echo "bench: $*" >&2; }

stop_server() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
}

cleanup() { stop_server; rm -rf "$WORK"; }

# The server process itself (SERVER_PID is the `timeout` wrapper around it).
server_main_pid() { pgrep -P "$SERVER_PID" | head -1 || echo "$SERVER_PID"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() { # host port seconds
    local end=$((SECONDS + $3))
    while [ $SECONDS -lt $end ]; do
        (exec 3<>/dev/tcp/$1/$2) 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

machine() {
    local cpu
    cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), nproc $(nproc), ${cpu:-unknown CPU}, kernel $(uname -r)"
}

# Start a peer server: peer_start node|py RATE PORT
peer_start() {
    local kind=$1 rate=$2 port=$3
    case $kind in
    node)
        [ -d "$WORK/node-ws/node_modules/ws" ] || {
            cp -r "$PEERS_DIR/node-ws" "$WORK/node-ws"
            (cd "$WORK/node-ws" && npm ci --silent >/dev/null 2>&1) || { log "npm ci failed"; return 1; }
        }
        PORT=$port RATE=$rate timeout 300 taskset -c "$SERVER_CPU" node "$WORK/node-ws/server.js" \
            2>>"$WORK/server.log" &
        ;;
    py)
        PORT=$port RATE=$rate timeout 300 taskset -c "$SERVER_CPU" /usr/bin/python3 \
            "$PEERS_DIR/py-websockets/server.py" 2>>"$WORK/server.log" &
        ;;
    esac
    SERVER_PID=$!
    wait_port 127.0.0.1 "$port" 10
}

# Start tickgate with a tcp feed: tg_start PORT FEED_PORT [extra config lines]
tg_start() {
    local port=$1 fport=$2 extra=${3:-${TG_EXTRA:-}}
    [ -x "$TG_BIN" ] || { log "$TG_BIN not built"; return 1; }
    cat >"$WORK/tickgate.conf" <<EOF
server = { listen = "127.0.0.1:$port"; };
auth = { jwt_secret = "$SECRET"; };
limits = { max_conns_per_ip = 1000000; msgs_per_s = 1000; burst = 1000; $extra };
feeds = ( { name = "bench"; type = "tcp"; listen = "127.0.0.1:$fport"; } );
log = { level = "warn"; };
EOF
    timeout 600 taskset -c "$SERVER_CPU" "$TG_BIN" --config "$WORK/tickgate.conf" \
        >>"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    wait_port 127.0.0.1 "$port" 15 && wait_port 127.0.0.1 "$fport" 5
}

# Run the bench pinned to its CPU, JSON to stdout; extra args are passed on.
bench_json() {
    timeout 300 taskset -c "$BENCH_CPU" "$BENCH_BIN" --quiet --json "$@" || true
}

# jq shortcut with a default: j FILE FILTER
j() { jq -r "$2 // \"-\"" "$1" 2>/dev/null || echo -; }

# One step of scenario 1 against a target; prints the bench JSON file path.
# fanout_step tickgate|node|py RATE [extra bench args]
fanout_step() {
    local kind=$1 rate=$2
    shift 2
    local port out
    port=$(free_port)
    out="$WORK/fanout-$kind-$rate-$RANDOM.json"
    if [ "$kind" = tickgate ]; then
        local fport
        fport=$(free_port)
        tg_start "$port" "$fport" || { stop_server; echo '{}' >"$out"; echo "$out"; return; }
        bench_json --url "ws://127.0.0.1:$port/ws" --secret "$SECRET" --all \
            --connections "$FANOUT_CONNS" --ramp 1 --duration "$FANOUT_DURATION" \
            --feed "127.0.0.1:$fport" --feed-rate "$rate" "$@" >"$out"
    else
        peer_start "$kind" "$rate" "$port" || { stop_server; echo '{}' >"$out"; echo "$out"; return; }
        bench_json --url "ws://127.0.0.1:$port/ws" --token peer --all \
            --connections "$FANOUT_CONNS" --ramp 1 --duration "$FANOUT_DURATION" "$@" >"$out"
    fi
    stop_server
    echo "$out"
}

# Step the feed rate up for one target. Sets FANOUT_BEST (msgs/s at p99 <= limit),
# FANOUT_BEST_P99, FANOUT_BEST_RATE, FANOUT_BEST_MPF, FANOUT_MAX (highest delivered at all),
# and appends each step to $WORK/steps-<kind>.txt.
fanout_sweep() {
    local kind=$1
    shift
    FANOUT_BEST=0 FANOUT_BEST_P99=- FANOUT_BEST_RATE=- FANOUT_BEST_MPF=- FANOUT_MAX=0
    local bad=0 f mps p99 mpf ready
    for rate in $FANOUT_STEPS; do
        f=$(fanout_step "$kind" "$rate" "$@")
        mps=$(j "$f" '.msgs_per_s')
        p99=$(j "$f" '.latency_us.p99')
        mpf=$(j "$f" '.msgs_per_frame')
        ready=$(j "$f" '.ready')
        log "$kind rate=$rate ready=$ready msgs/s=$mps p99=${p99}us msgs/frame=$mpf"
        echo "rate=$rate ready=$ready msgs_per_s=$mps p99_us=$p99 p999_us=$(j "$f" '.latency_us.p999') msgs_per_frame=$mpf" \
            >>"$WORK/steps-$kind.txt"
        [ "$mps" = - ] && break
        if awk -v m="$mps" -v b="$FANOUT_MAX" 'BEGIN{exit !(m>b)}'; then FANOUT_MAX=$mps; fi
        local expected=$((rate * FANOUT_CONNS))
        if awk -v p="$p99" -v l="$FANOUT_P99_US" 'BEGIN{exit !(p<=l)}'; then
            if awk -v m="$mps" -v b="$FANOUT_BEST" 'BEGIN{exit !(m>b)}'; then
                FANOUT_BEST=$mps FANOUT_BEST_P99=$p99 FANOUT_BEST_RATE=$rate FANOUT_BEST_MPF=$mpf
            fi
        fi
        # saturated: < 90 % of the offered load delivered, twice in a row; a p99
        # over the limit alone does not stop the sweep, so the peers' highest
        # delivered rate (their throughput) is found too
        if awk -v m="$mps" -v e="$expected" 'BEGIN{exit !(m<0.9*e)}'; then
            bad=$((bad + 1))
            [ $bad -ge 2 ] && break
        else
            bad=0
        fi
    done
}

# Append a line to RESULTS.md under a section heading (created when missing).
record() { # section line
    local section=$1 line=$2
    [ -f "$RESULTS" ] || printf '# tickgate benchmark results\n\nAppended by bench/run.sh and bench/peers.sh; newest last in each section.\n' >"$RESULTS"
    grep -qxF "## $section" "$RESULTS" || printf '\n## %s\n\n' "$section" >>"$RESULTS"
    # insert at the end of that section
    /usr/bin/python3 - "$RESULTS" "## $section" "$line" <<'PY'
import sys
path, head, line = sys.argv[1:]
lines = open(path).read().split("\n")
i = lines.index(head) + 1
while i < len(lines) and not lines[i].startswith("## "):
    i += 1
while i > 0 and lines[i - 1] == "":
    i -= 1
lines.insert(i, line)
open(path, "w").write("\n".join(lines).rstrip("\n") + "\n")
PY
    echo "$line"
}
