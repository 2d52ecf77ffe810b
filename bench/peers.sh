#!/usr/bin/env bash
# bench/peers.sh - scenario 1 (fan-out, fixed-rate steps) against tickgate and the two
# peer servers of ../shared/peers with the same client; records each target's best
# delivered msgs/s at p99 <= 5 ms and tickgate's ratio to each peer (`make bench-peers`).
#   TARGETS="node py" bench/peers.sh     # only the peers (e.g. before tickgate works)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

TARGETS=${TARGETS:-"tickgate node py"}
[ -x "$BENCH_BIN" ] || { log "$BENCH_BIN not built (make build)"; exit 1; }
MACHINE=$(machine)
declare -A BEST P99 MAXD RATE MPF
for t in $TARGETS; do
    if [ "$t" = tickgate ] && [ ! -x "$TG_BIN" ]; then
        log "skipping tickgate: $TG_BIN not built"
        continue
    fi
    fanout_sweep "$t"
    BEST[$t]=$FANOUT_BEST P99[$t]=$FANOUT_BEST_P99 MAXD[$t]=$FANOUT_MAX
    RATE[$t]=$FANOUT_BEST_RATE MPF[$t]=$FANOUT_BEST_MPF
    record peers "- $MACHINE — \`$t\`: ${FANOUT_CONNS} clients on all 100 symbols, steps {$(tr '\n' ';' <"$WORK/steps-$t.txt" | sed 's/;$//')}; best at p99 ≤ 5 ms: **${BEST[$t]} msgs/s** (rate ${RATE[$t]}/s, p99 ${P99[$t]} µs, ${MPF[$t]} msgs/frame); highest delivered ${MAXD[$t]} msgs/s"
done
# The issue's comparison: tickgate's best at p99 <= 5 ms against each peer's highest
# delivered rate (their throughput, whatever their p99), at a p99 no worse than theirs.
if [ -n "${BEST[tickgate]:-}" ]; then
    for p in node py; do
        [ -n "${MAXD[$p]:-}" ] || continue
        ratio=$(awk -v a="${BEST[tickgate]}" -v b="${MAXD[$p]}" 'BEGIN{printf "%.1f", (b > 0 ? a / b : 0)}')
        record peers "- $MACHINE — ratio tickgate (best at p99 ≤ 5 ms) / $p (highest delivered): **${ratio}×** (goal ≥ 12×, stretch ≥ 20×); tickgate p99 ${P99[tickgate]} µs, $p p99 at its peak in its steps above"
    done
fi
