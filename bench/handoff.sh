#!/usr/bin/env bash
# bench/handoff.sh RATE... - tickgate with server.send_ts at RATE ticks/s x 1,000 clients on all
# 100 symbols (server on CPU 1, tickgate-bench on CPU 0, 5 s, as bench/peers.sh): latency from
# the tick's ts and from the frame's out_ts (handed to the socket) -> read by the client.
# Loopback only; every process is bounded by `timeout` and stopped by PID.
#   SEND_TS=false bench/handoff.sh 2000   # the same without the stamp
set -u
cd "$(dirname "$0")/.."
SECRET=bench-secret-0123456789abcdef
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
syms=$(for i in $(seq 0 99); do printf '"S%03d",' "$i"; done | sed 's/,$//')
for rate in "${@:-2000}"; do
    port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    cat >"$WORK/h.conf" <<CONF
server = { listen = "127.0.0.1:$port"; send_ts = ${SEND_TS:-true}; };
auth = { jwt_secret = "$SECRET"; };
limits = { max_conns_per_ip = 1000000; msgs_per_s = 1000; burst = 1000; };
feeds = ( { name = "syn"; type = "synthetic"; rate = $rate; symbols = [ $syms ]; } );
log = { level = "warn"; };
CONF
    timeout 120 taskset -c 1 build/tickgate --config "$WORK/h.conf" >"$WORK/server.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
    echo "== $rate ticks/s x 1000 clients, send_ts=${SEND_TS:-true}"
    timeout 90 taskset -c 0 build/tickgate-bench --url "ws://127.0.0.1:$port/ws" --secret "$SECRET" \
        --all --connections 1000 --ramp 1 --duration 5 2>/dev/null | grep -E 'messages|frames|latency|out_ts'
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
done
