#!/usr/bin/env bash
# bench/peers.sh - tickgate against uWebSockets.js side by side (issue 12, SPEC §11):
# the same neutral client (tickgate-bench, pinned to CPU $BENCH_CPU) and the same
# generator pacing (a 1 ms timer emitting the ticks due, S000..S099 round-robin,
# excess skipped past 100 ms late: tickgate's synthetic feed and the peers' do
# the same), 1,000 clients on all 100 symbols, server on CPU $SERVER_CPU, 5 s per step.
# For each step: delivered msgs/s, p50/p99 (tick ts to client), and server CPU
# ns per delivered message (utime+stime from /proc over the measurement window
# divided by the messages delivered in it). `make bench-peers`.
#   PEER_STEPS="100 1000 2000 4000"  TARGETS="tickgate uws"  (also: node py)
#   TG_EXTRA='server = { threads = 2; };' to try other tickgate settings
set -euo pipefail
source "$(dirname "$0")/lib.sh"

TARGETS=${TARGETS:-"tickgate uws"}
PEER_STEPS=${PEER_STEPS:-"100 1000 2000 4000"}
[ -x "$BENCH_BIN" ] || { log "$BENCH_BIN not built (make build)"; exit 1; }
command -v jq >/dev/null || { log "jq missing (scripts/bootstrap.sh)"; exit 1; }
MACHINE=$(machine)
# Server CPU: the scheduler's exact run time (ns) of every thread, from
# /proc/PID/task/*/schedstat. utime+stime from /proc/PID/stat are sampled at
# the timer tick and charge a whole tick to whatever runs at it: both servers
# wake every 1 ms (their tick generators), so at light load both read ~100 %.
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f", s}'; }

uws_start() { # rate port
    [ -d "$WORK/uws/node_modules/@trufflesuite" ] || {
        cp -r "$PEERS_DIR/uws" "$WORK/uws"
        (cd "$WORK/uws" && npm ci --silent >/dev/null 2>&1) || { log "npm ci (uws) failed"; return 1; }
    }
    PORT=$2 RATE=$1 timeout 300 taskset -c "$SERVER_CPU" node "$WORK/uws/server.js" \
        2>>"$WORK/server.log" &
    SERVER_PID=$!
    wait_port 127.0.0.1 "$2" 15
}

tg_synth_start() { # rate port
    local syms
    syms=$(for i in $(seq 0 99); do printf '"S%03d",' "$i"; done | sed 's/,$//')
    cat >"$WORK/tickgate.conf" <<CONF
server = { listen = "127.0.0.1:$2"; };
auth = { jwt_secret = "$SECRET"; };
limits = { max_conns_per_ip = 1000000; msgs_per_s = 1000; burst = 1000; };
feeds = ( { name = "syn"; type = "synthetic"; rate = $1; symbols = [ $syms ]; } );
log = { level = "warn"; };
${TG_EXTRA:-}
CONF
    timeout 600 taskset -c "$SERVER_CPU" "$TG_BIN" --config "$WORK/tickgate.conf" \
        >>"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    wait_port 127.0.0.1 "$2" 15
}

# step KIND RATE -> prints "msgs_per_s p50_us p99_us ns_per_msg delivered_pct"
step() {
    local kind=$1 rate=$2 port out cpuf ok=0 auth
    port=$(free_port)
    out="$WORK/peer-$kind-$rate.json"
    cpuf="$WORK/cpu-$kind-$rate"
    rm -f "$cpuf"
    case $kind in
    tickgate) tg_synth_start "$rate" "$port" && ok=1; auth=(--secret "$SECRET") ;;
    uws) uws_start "$rate" "$port" && ok=1; auth=(--token peer) ;;
    node|py) peer_start "$kind" "$rate" "$port" && ok=1; auth=(--token peer) ;;
    esac
    if [ $ok = 1 ]; then
        local spid
        spid=$(server_main_pid)
        # the server's CPU time over exactly the measurement window: sampled when
        # the client says the window opens, and FANOUT_DURATION seconds later
        timeout 300 taskset -c "$BENCH_CPU" "$BENCH_BIN" --json --url "ws://127.0.0.1:$port/ws" \
            "${auth[@]}" --all --connections "$FANOUT_CONNS" --ramp 1 \
            --duration "$FANOUT_DURATION" >"$out" \
            2> >(while IFS= read -r line; do
                     case $line in
                     *"measuring for"*)
                         c0=$(cpu_ns "$spid"); sleep "$FANOUT_DURATION"
                         echo "$c0 $(cpu_ns "$spid")" >"$cpuf" ;;
                     esac
                 done) || true
        for _ in $(seq 50); do [ -s "$cpuf" ] && break; sleep 0.1; done
    fi
    stop_server
    local mps p50 p99 cpu ns pct
    mps=$(j "$out" '.msgs_per_s'); p50=$(j "$out" '.latency_us.p50'); p99=$(j "$out" '.latency_us.p99')
    cpu=$(cat "$cpuf" 2>/dev/null || echo "0 0")
    ns=$(awk -v c="$cpu" -v m="$mps" -v d="$FANOUT_DURATION" 'BEGIN{
        split(c, a, " "); t = a[2] - a[1]; n = m * d;
        if (n > 0 && t > 0) printf "%.0f", t / n; else printf "-" }')
    pct=$(awk -v m="$mps" -v r="$rate" -v c="$FANOUT_CONNS" 'BEGIN{
        if (m ~ /^[0-9.]+$/) printf "%.1f", 100 * m / (r * c); else printf "-" }')
    echo "$mps $p50 $p99 $ns $pct"
}

ms() { awk -v u="$1" 'BEGIN{ if (u ~ /^[0-9.]+$/) printf "%.2f", u / 1000; else printf "-" }'; }

ROWS=()
for rate in $PEER_STEPS; do
    for t in $TARGETS; do
        if [ "$t" = tickgate ] && [ ! -x "$TG_BIN" ]; then log "skipping tickgate: not built"; continue; fi
        read -r mps p50 p99 ns pct < <(step "$t" "$rate")
        log "$t rate=$rate delivered=$mps msgs/s ($pct %) p50=$(ms "$p50") ms p99=$(ms "$p99") ms cpu=$ns ns/msg"
        ROWS+=("| $rate × $FANOUT_CONNS | $t | $mps | $pct % | $(ms "$p50") | $(ms "$p99") | $ns |")
    done
done

TABLE="| ticks/s × clients | server | delivered msgs/s | delivered | p50 ms | p99 ms | server CPU ns/msg |"$'\n'"|---|---|---|---|---|---|---|"
for r in "${ROWS[@]}"; do TABLE+=$'\n'"$r"; done
echo "$TABLE"
record peers-issue12 "- $MACHINE — \`make bench-peers\` (server on CPU $SERVER_CPU, tickgate-bench on CPU $BENCH_CPU, $FANOUT_DURATION s per step${TG_EXTRA:+, tickgate: $TG_EXTRA}):"
record peers-issue12 " "
while IFS= read -r line; do record peers-issue12 "$line" >/dev/null; done <<<"$TABLE"
