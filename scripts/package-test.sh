#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2016  # cleanup runs from the trap; sh -c bodies are single-quoted on purpose
# package-test.sh - build the Debian package and try it as a new user would, without systemd:
#   make package -> apt install ./build/tickgate_*.deb -> check the installed layout ->
#   run the unit's ExecStart line as user tickgate (runuser), with the unit's
#   EnvironmentFile, on a free loopback port -> /health, /health/ready -> SIGHUP
#   (ExecReload) -> SIGTERM (clean exit) -> apt remove, apt purge.
#
# Needs root (apt). Bounded (every wait has a deadline); removes the package, the
# tickgate user (if this script created it) and its temp files on exit, pass or fail.
#   scripts/package-test.sh            build with `make package`, then test
#   scripts/package-test.sh FILE.deb   test an existing package
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

UNIT=/usr/lib/systemd/system/tickgate.service
fails=0
pid=""
tmp=$(mktemp -d /tmp/tg-pkgtest.XXXXXX)
user_existed=0
getent passwd tickgate >/dev/null && user_existed=1

say() { printf '%s\n' "$*"; }
ok() { say "PASS: $*"; }
bad() { say "FAIL: $*"; fails=$((fails + 1)); }
check() { # check "description" command...
  local what=$1; shift
  if "$@" >"$tmp/check.out" 2>&1; then ok "$what"; else bad "$what"; sed 's/^/    /' "$tmp/check.out"; fi
}

cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  if dpkg-query -W -f='${Status}' tickgate 2>/dev/null | grep -q installed; then
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq tickgate >/dev/null 2>&1 || true
  fi
  if [ "$user_existed" = 0 ] && getent passwd tickgate >/dev/null; then
    userdel tickgate 2>/dev/null || true
    if getent group tickgate >/dev/null; then groupdel tickgate 2>/dev/null || true; fi
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

if [ "$(id -u)" -ne 0 ]; then say "package-test: needs root (apt install)"; exit 2; fi

deb=${1:-}
if [ -z "$deb" ]; then
  say "== make package"
  if ! timeout 1200 make package >"$tmp/make.log" 2>&1; then
    tail -30 "$tmp/make.log"; bad "make package"; exit 1
  fi
  tail -1 "$tmp/make.log"
  deb=$(find build -maxdepth 1 -name 'tickgate_*.deb' -printf '%T@ %p\n' | sort -rn | head -1 | cut -d' ' -f2)
fi
[ -f "$deb" ] || { bad "no package file ($deb)"; exit 1; }
ok "package built: $deb ($(du -h "$deb" | cut -f1))"
say "   $(dpkg-deb -f "$deb" Package Version Architecture | tr '\n' ' ')"
say "   Depends: $(dpkg-deb -f "$deb" Depends)"
check "package name is tickgate" test "$(dpkg-deb -f "$deb" Package)" = tickgate
check "dependencies computed (libwebsockets, libssl, libpq in Depends)" \
  sh -c "dpkg-deb -f '$deb' Depends | grep -q libwebsockets && dpkg-deb -f '$deb' Depends | grep -q libssl && dpkg-deb -f '$deb' Depends | grep -q libpq"
check "conffiles lists /etc/tickgate/tickgate.conf" \
  sh -c "dpkg-deb --ctrl-tarfile '$deb' | tar -xO ./conffiles | grep -qx /etc/tickgate/tickgate.conf"

say "== apt install ./$deb"
debabs=$(readlink -f "$deb")
if timeout 300 env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$debabs" >"$tmp/apt.log" 2>&1; then
  ok "apt install"
else
  tail -20 "$tmp/apt.log"; bad "apt install"; exit 1
fi

say "== installed layout"
for f in /usr/bin/tickgate /etc/tickgate/tickgate.conf "$UNIT" /usr/share/man/man1/tickgate.1.gz \
         /usr/share/tickgate/web /usr/share/doc/tickgate/examples/tickgate.conf; do
  check "installed $f" test -e "$f"
done
if [ -x build/tickgate-bench ] || dpkg-deb -c "$deb" | grep -q usr/bin/tickgate-bench; then
  check "installed /usr/bin/tickgate-bench" test -x /usr/bin/tickgate-bench
fi
check "system user tickgate (no login shell)" sh -c 'getent passwd tickgate | grep -q nologin'
check "/var/lib/tickgate owned by tickgate, 0750" \
  sh -c 'test "$(stat -c %U:%a /var/lib/tickgate)" = tickgate:750'
check "/etc/default/tickgate root:tickgate 0640 with a JWT secret" \
  sh -c 'test "$(stat -c %U:%G:%a /etc/default/tickgate)" = root:tickgate:640 && grep -q "^TICKGATE_AUTH_JWT_SECRET=[0-9a-f]\{64\}$" /etc/default/tickgate'
check "man tickgate renders" sh -c 'man -l /usr/share/man/man1/tickgate.1.gz 2>/dev/null | grep -q check-config'
if command -v systemd-analyze >/dev/null; then
  check "systemd-analyze verify $UNIT (no warnings)" \
    sh -c "out=\$(systemd-analyze verify --man=no $UNIT 2>&1); [ -z \"\$out\" ] || { echo \"\$out\"; exit 1; }"
fi

# The unit's ExecStart and EnvironmentFile, as systemd would use them.
execstart=$(sed -n 's/^ExecStart=//p' "$UNIT")
envfile=$(sed -n 's/^EnvironmentFile=-\{0,1\}//p' "$UNIT")
say "   ExecStart=$execstart"
say "   EnvironmentFile=$envfile"
check "ExecStart is the packaged binary with the packaged config" \
  test "$execstart" = "/usr/bin/tickgate --config /etc/tickgate/tickgate.conf"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# Environment as systemd builds it: the EnvironmentFile, then this test's port overrides.
envargs=()
while IFS= read -r line; do
  case "$line" in ''|'#'*) continue ;; *=*) envargs+=("$line") ;; esac
done <"$envfile"
envargs+=("TICKGATE_SERVER_LISTEN=127.0.0.1:$port" "TICKGATE_SERVER_METRICS_LISTEN=127.0.0.1:$mport")

check "check-config as user tickgate with the unit's environment" \
  runuser -u tickgate -- env "${envargs[@]}" /usr/bin/tickgate --config /etc/tickgate/tickgate.conf check-config

say "== start: runuser -u tickgate -- $execstart   (listen 127.0.0.1:$port)"
# WorkingDirectory and LimitNOFILE of the unit.
(
  cd /var/lib/tickgate && ulimit -n 1048576 2>/dev/null
  # shellcheck disable=SC2086  # ExecStart is split on spaces, like systemd does here
  exec runuser -u tickgate -- env "${envargs[@]}" $execstart
) >"$tmp/stdout.log" 2>"$tmp/stderr.log" &
rpid=$!
up=0
for _ in $(seq 1 100); do
  if curl -fsS -m 1 "http://127.0.0.1:$port/health" >"$tmp/health" 2>/dev/null; then up=1; break; fi
  kill -0 "$rpid" 2>/dev/null || break
  sleep 0.1
done
pid=$(pgrep -P "$rpid" -x tickgate || true)
[ -n "$pid" ] || pid=$rpid
if [ "$up" = 1 ]; then
  ok "GET /health -> $(cat "$tmp/health")"
else
  bad "daemon did not answer /health within 10 s"; sed 's/^/    /' "$tmp/stderr.log" | tail -20
  exit 1
fi
check "daemon runs as user tickgate" test "$(ps -o user= -p "$pid" | tr -d ' ')" = tickgate
ready=$(curl -sS -m 2 "http://127.0.0.1:$port/health/ready" || true)
say "   GET /health/ready -> $ready"
check "GET /health/ready is ready" sh -c "echo '$ready' | grep -q '\"status\":\"ready\"'"
check "journal written under /var/lib/tickgate/journal by user tickgate" \
  sh -c 'test -n "$(find /var/lib/tickgate/journal -type f -user tickgate -size +0 | head -1)"'
if m=$(curl -fsS -m 2 "http://127.0.0.1:$mport/metrics" 2>/dev/null); then
  ok "metrics on server.metrics_listen 127.0.0.1:$mport ($(printf '%s\n' "$m" | grep -c '^tickgate_') samples)"
else
  say "   note: nothing on server.metrics_listen 127.0.0.1:$mport"
fi
say "   startup log: $(grep -m1 '"event":"startup"' "$tmp/stderr.log" || head -1 "$tmp/stderr.log")"

say "== reload (ExecReload: kill -HUP \$MAINPID)"
kill -HUP "$pid"
sleep 0.5
check "daemon survives SIGHUP" kill -0 "$pid"
check "/health after SIGHUP" curl -fsS -m 2 "http://127.0.0.1:$port/health"

say "== stop (SIGTERM)"
t0=$(date +%s%N)
kill -TERM "$pid"
code=124
for _ in $(seq 1 100); do
  if ! kill -0 "$rpid" 2>/dev/null; then wait "$rpid"; code=$?; break; fi
  sleep 0.1
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ "$code" = 0 ]; then ok "clean exit 0 after SIGTERM in ${ms} ms"; else bad "exit code $code after SIGTERM (${ms} ms)"; fi
pid=""
grep -q '"event":"shutdown"' "$tmp/stderr.log" && ok "shutdown logged"
if grep -qi '"level":"error"' "$tmp/stderr.log"; then
  say "   errors logged:"; grep -i '"level":"error"' "$tmp/stderr.log" | head -5 | sed 's/^/    /'
fi

say "== apt remove / purge"
check "apt remove -y tickgate" env DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq tickgate
check "binary gone, conffile kept after remove" sh -c '! test -e /usr/bin/tickgate && test -e /etc/tickgate/tickgate.conf'
check "apt purge -y tickgate" env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq tickgate
check "purge removed /etc/tickgate, /etc/default/tickgate, /var/lib/tickgate" \
  sh -c '! test -e /etc/tickgate && ! test -e /etc/default/tickgate && ! test -e /var/lib/tickgate'

say ""
if [ "$fails" = 0 ]; then say "package-test: all checks passed"; exit 0; fi
say "package-test: $fails check(s) failed"
exit 1
