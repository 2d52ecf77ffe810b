#!/usr/bin/env bash
# bench/cluster.sh - the hop through the cluster bus (SPEC §14, issue 17).
#
# One Redis, one ingest node (node.role ingest, a tcp feed) and two gateway
# nodes (node.role gateway), all on loopback. tickgate-bench drives the ingest
# node's feed at RATE ticks/s over 100 symbols with CLIENTS clients on the
# ingest node, while a second tickgate-bench holds CLIENTS clients on gateway 1
# for the same window; both measure latency from each quote's `ts` (feed accept
# on the ingest node) to its arrival. The difference at p50/p99 is what the
# hop (publisher -> XADD -> Redis -> XREAD -> gateway) adds.
#
#   bench/cluster.sh                 # RATE=1000 CLIENTS=10 DURATION=15
#   RESULTS=/dev/null bench/cluster.sh   # print only
#
# Appends one line to bench/RESULTS.md ("Cluster"). Bounded: every process runs
# under `timeout`, and is stopped by its own pid at the end.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

RATE=${RATE:-1000}
CLIENTS=${CLIENTS:-10}
DURATION=${DURATION:-15}
PIDS=()

stop_all() {
    for p in "${PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    PIDS=()
}
trap 'stop_all; cleanup' EXIT

command -v redis-server >/dev/null || { log "redis-server not installed"; exit 1; }
RPORT=$(free_port)
timeout 300 redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$WORK" --daemonize no >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
wait_port 127.0.0.1 "$RPORT" 10 || { log "redis did not start"; exit 1; }

start_node() { # name conf-text -> port
    local name=$1 text=$2
    printf '%s' "$text" >"$WORK/$name.conf"
    TICKGATE_AUTH_JWT_SECRET=$SECRET timeout 300 "$TG_BIN" --config "$WORK/$name.conf" \
        >"$WORK/$name.out" 2>"$WORK/$name.log" &
    PIDS+=($!)
}

IPORT=$(free_port); FPORT=$(free_port); G1PORT=$(free_port); G2PORT=$(free_port)
start_node ingest "server = { listen = \"127.0.0.1:$IPORT\"; };
node = { role = \"ingest\"; };
feeds = ( { name = \"in\"; type = \"tcp\"; listen = \"127.0.0.1:$FPORT\";
            breaker = { stale_after_ms = 0; }; } );
redis = { url = \"redis://127.0.0.1:$RPORT\"; };
limits = { max_conns_per_ip = 1000000; };
log = { level = \"warn\"; };
"
wait_port 127.0.0.1 "$IPORT" 10 || { log "ingest did not start"; cat "$WORK/ingest.log" >&2; exit 1; }
for g in 1 2; do
    port=$G1PORT; [ $g = 2 ] && port=$G2PORT
    start_node "gw$g" "server = { listen = \"127.0.0.1:$port\"; };
node = { role = \"gateway\"; };
redis = { url = \"redis://127.0.0.1:$RPORT\"; };
limits = { max_conns_per_ip = 1000000; };
log = { level = \"warn\"; };
"
    wait_port 127.0.0.1 "$port" 10 || { log "gateway $g did not start"; exit 1; }
done

# the gateways are ready once they know the ingest epoch (the first bus entry);
# a first tick makes one
(exec 3<>/dev/tcp/127.0.0.1/"$FPORT"; echo "S000 100 1" >&3) || true
for port in "$G1PORT" "$G2PORT"; do
    for _ in $(seq 100); do
        code=$(/usr/bin/python3 -c "import urllib.request,sys
try: print(urllib.request.urlopen('http://127.0.0.1:$port/health/ready',timeout=2).status)
except Exception as e: print(getattr(e,'code',0))")
        [ "$code" = 200 ] && break
        sleep 0.1
    done
done

log "ingest :$IPORT, gateways :$G1PORT :$G2PORT, redis :$RPORT; $CLIENTS clients each, $RATE ticks/s, ${DURATION}s"
"$BENCH_BIN" --url "ws://127.0.0.1:$G1PORT/ws" --secret "$SECRET" --connections "$CLIENTS" \
    --all --duration "$((DURATION + 2))" --json --quiet >"$WORK/gw.json" &
GWB=$!
sleep 1
"$BENCH_BIN" --url "ws://127.0.0.1:$IPORT/ws" --secret "$SECRET" --connections "$CLIENTS" \
    --all --duration "$DURATION" --feed "127.0.0.1:$FPORT" --feed-rate "$RATE" --json --quiet \
    >"$WORK/ingest.json"
wait "$GWB" || true

summary=$(/usr/bin/python3 - "$WORK/ingest.json" "$WORK/gw.json" <<'EOF'
import json, sys
i = json.load(open(sys.argv[1])); g = json.load(open(sys.argv[2]))
def lat(d, k):
    L = d.get("latency_us") or d.get("latency") or {}
    return float(L.get(k, float("nan")))
def rate(d):
    return d.get("msgs_per_s", float("nan"))
print("ingest p50 %.1f µs p99 %.1f µs (%.0f msgs/s); gateway p50 %.1f µs p99 %.1f µs (%.0f msgs/s); "
      "added p50 **%.1f µs** (goal ≤ 1000: %s), p99 %.1f µs"
      % (lat(i, "p50"), lat(i, "p99"), rate(i), lat(g, "p50"), lat(g, "p99"), rate(g),
         lat(g, "p50") - lat(i, "p50"),
         "met" if lat(g, "p50") - lat(i, "p50") <= 1000 else "NOT met",
         lat(g, "p99") - lat(i, "p99")) +
      "; seq gaps/missing ingest %d/%d, gateway %d/%d"
      % (i["seq"]["gaps"], i["seq"]["missing"], g["seq"]["gaps"], g["seq"]["missing"]))
EOF
)
echo "$summary"
rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")
echo "- $(machine), load average $(cut -d" " -f1-3 /proc/loadavg), $rev — ingest + 2 gateways, $RATE ticks/s, $CLIENTS clients per node, ${DURATION} s: $summary" >>"$RESULTS"
