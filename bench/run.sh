#!/usr/bin/env bash
# bench/run.sh - the end-to-end scenarios of issue 7 against build/tickgate (`make bench`).
#
# Each scenario prints one result line and appends it, with the machine, to
# bench/RESULTS.md. Loopback only; tickgate pinned to CPU 1 (taskset -c 1), the
# bench to CPU 0; every process is bounded by `timeout` and stopped at the end.
# The whole run stays under 10 minutes (scenario 1 stops stepping once saturated).
#   SCENARIOS="1 2" bench/run.sh      # a subset
set -euo pipefail
source "$(dirname "$0")/lib.sh"

SCENARIOS=${SCENARIOS:-"micro 1 2 3 4 5"}
[ -x "$BENCH_BIN" ] || { log "$BENCH_BIN not built (make build)"; exit 1; }
[ -x "$TG_BIN" ] || { log "$TG_BIN not built (make build)"; exit 1; }
MACHINE=$(machine)
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
want() { [[ " $SCENARIOS " == *" $1 "* ]]; }
ok() { awk "BEGIN{exit !($1)}" && echo met || echo "NOT met"; }

# micro-benchmarks (issue 3 and the encoders): ring, engine, encode, journal
if want micro; then
    for b in ring_bench engine_bench encode_bench journal_bench; do
        exe="$(dirname "$TG_BIN")/$b"
        [ -x "$exe" ] || { log "$exe not built"; continue; }
        out=$(cd "$WORK" && timeout 300 "$exe" 2>/dev/null || true)
        line=$(printf '%s\n' "$out" | grep '^RESULT' | tail -1 || true)
        # no machine-readable line: its last summary lines, joined
        [ -n "$line" ] || line="RESULT $(printf '%s\n' "$out" | grep -v '^ *$' | tail -4 |
                                        sed 's/  */ /g' | paste -sd ';')"
        log "$b: ${line:-no RESULT line}"
        record "micro-benchmarks" "- $MACHINE, $REV — \`$b\`: ${line#RESULT }"
    done
fi

S1_RATE=""
if want 1; then
    fanout_sweep tickgate
    S1_RATE=$FANOUT_BEST_RATE S1_BEST=$FANOUT_BEST
    # no step met p99 <= 5 ms: later scenarios start from a mid-range rate
    [[ "$S1_RATE" =~ ^[0-9]+$ ]] || S1_RATE=1000
    record "scenario 1: fan-out" "- $MACHINE, $REV — ${FANOUT_CONNS} clients × 100 symbols (json): best **$FANOUT_BEST msgs/s** at p99 ≤ 5 ms (feed $FANOUT_BEST_RATE ticks/s, p99 $FANOUT_BEST_P99 µs, $FANOUT_BEST_MPF msgs/frame); highest delivered $FANOUT_MAX; goal ≥ 1,500,000 $(ok "$FANOUT_BEST >= 1500000"), stretch 3,000,000 $(ok "$FANOUT_BEST >= 3000000"); steps {$(tr '\n' ';' <"$WORK/steps-tickgate.txt" | sed 's/;$//')}"
fi

if want 2; then
    port=$(free_port) fport=$(free_port)
    if tg_start "$port" "$fport"; then
        f="$WORK/s2.json"
        bench_json --url "ws://127.0.0.1:$port/ws" --secret "$SECRET" --all --connections 100 \
            --duration 10 --feed "127.0.0.1:$fport" --feed-rate 1000 >"$f"
        p50=$(j "$f" .latency_us.p50) p99=$(j "$f" .latency_us.p99) p999=$(j "$f" .latency_us.p999)
        record "scenario 2: latency at light load" "- $MACHINE, $REV — 100 clients, 1,000 ticks/s: $(j "$f" .msgs_per_s) msgs/s, p50 **$p50 µs** (goal ≤ 250 $(ok "$p50 <= 250")), p99 **$p99 µs** (goal ≤ 1000 $(ok "$p99 <= 1000")), p99.9 $p999 µs, max $(j "$f" .latency_us.max) µs, $(j "$f" .msgs_per_frame) msgs/frame, failed $(j "$f" .failed)"
    else
        log "scenario 2: tickgate did not start (see $WORK/server.log)"
    fi
    stop_server
fi

if want 3; then
    port=$(free_port) fport=$(free_port)
    if tg_start "$port" "$fport"; then
        sleep 1
        spid=$(server_main_pid)
        base=$(awk '/^VmRSS/{print $2}' "/proc/$spid/status")
        f="$WORK/s3.json"
        # idle subscribed clients: no feed; spread over 4 source addresses anyway
        bench_json --url "ws://127.0.0.1:$port/ws" --secret "$SECRET" --all --connections 10000 \
            --ramp 5 --duration 4 --source-ips 4 --max-inflight 1000 --connect-timeout 20 >"$f" &
        bpid=$!
        peak=$base
        while kill -0 "$bpid" 2>/dev/null; do
            r=$(awk '/^VmRSS/{print $2}' "/proc/$spid/status" 2>/dev/null || echo 0)
            [ "${r:-0}" -gt "$peak" ] && peak=$r
            sleep 0.25
        done
        wait "$bpid" || true
        ready=$(j "$f" .ready)
        per=$(awk -v p="$peak" -v b="$base" -v n="$ready" 'BEGIN{printf "%.0f", (n > 0 ? (p - b) * 1024 / n : 0)}')
        record "scenario 3: connections" "- $MACHINE, $REV — 10,000 idle subscribed clients: ready $ready, failed $(j "$f" .failed); server RSS $base → $peak KiB: **$per B/conn** (goal ≤ 8192 $(ok "$per <= 8192 && $ready >= 10000")); connect rate $(j "$f" .connects_per_s)/s, connect p50 $(j "$f" .connect_ms.p50) ms p99 $(j "$f" .connect_ms.p99) ms"
    else
        log "scenario 3: tickgate did not start (see $WORK/server.log)"
    fi
    stop_server
fi

if want 4; then
    # half of scenario 1's peak, 10 % of the clients stop reading; a short
    # max_stall_ms so the server acts within the bounded run
    rate=$(( ${S1_RATE:-1000} / 2 ))
    [ "$rate" -ge 1 ] || rate=500
    TG_EXTRA="max_stall_ms = 2000;"
    FANOUT_DURATION_SAVE=$FANOUT_DURATION
    FANOUT_DURATION=8
    clean=$(fanout_step tickgate "$rate")
    stall=$(fanout_step tickgate "$rate" --stall $((FANOUT_CONNS / 10)))
    FANOUT_DURATION=$FANOUT_DURATION_SAVE
    unset TG_EXTRA
    c_pc=$(j "$clean" .msgs_per_s_per_conn) s_pc=$(j "$stall" .msgs_per_s_per_conn)
    c99=$(j "$clean" .latency_us.p99) s99=$(j "$stall" .latency_us.p99)
    n4008=$(jq -r '.stalled_close_codes["4008"] // 0' "$stall" 2>/dev/null || echo 0)
    lim=$(awk -v c="$c99" 'BEGIN{a=1.25*c; b=c+1000; printf "%.1f", (a > b ? a : b)}')
    record "scenario 4: stalled consumers" "- $MACHINE, $REV — feed $rate ticks/s, $FANOUT_CONNS clients, $((FANOUT_CONNS / 10)) stalled: others $s_pc msgs/s/conn vs clean $c_pc ($(ok "$s_pc >= 0.9 * $c_pc && $s_pc <= 1.1 * $c_pc") within 10 %); p99 $s99 µs vs clean $c99 µs (limit $lim: $(ok "$s99 <= $lim")); stalled closed $(j "$stall" .stalled_closed) with codes $(jq -c .stalled_close_codes "$stall" 2>/dev/null) ($(ok "$n4008 == $((FANOUT_CONNS / 10))") all 4008)"
fi

if want 5; then
    # msgpack from half of the JSON best upward
    start=$(( ${S1_RATE:-100} / 2 ))
    steps=""
    for r in $FANOUT_STEPS; do [ "$r" -ge "$start" ] && steps="$steps $r"; done
    FANOUT_STEPS=$steps
    rm -f "$WORK/steps-tickgate.txt"
    fanout_sweep tickgate --format msgpack
    record "scenario 5: msgpack vs json" "- $MACHINE, $REV — msgpack: best **$FANOUT_BEST msgs/s** at p99 ≤ 5 ms (feed $FANOUT_BEST_RATE ticks/s, p99 $FANOUT_BEST_P99 µs, $FANOUT_BEST_MPF msgs/frame) vs json ${S1_BEST:-?}; steps {$(tr '\n' ';' <"$WORK/steps-tickgate.txt" | sed 's/;$//')}"
fi
