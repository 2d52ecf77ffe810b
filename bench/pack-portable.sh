#!/usr/bin/env bash
# bench/pack-portable.sh DIR - copy tickgate, tickgate-bench, every library they load
# (ldd) and the dynamic loader into DIR, with bench/scaling.sh, so the scaling bench
# runs on a machine without our Debian packages:
#   DIR/lib/ld-linux-x86-64.so.2 --library-path DIR/lib DIR/tickgate ...
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${1:?usage: pack-portable.sh DIR}
BUILD=${BUILD:-$ROOT/build}
mkdir -p "$DIR/lib"
for b in tickgate tickgate-bench; do
    cp "$BUILD/$b" "$DIR/"
    ldd "$BUILD/$b" | awk '/=> \//{print $3} /^\t\/lib64\//{print $1}' | while read -r l; do
        cp -L "$l" "$DIR/lib/"
    done
done
cp -L /lib64/ld-linux-x86-64.so.2 "$DIR/lib/"
cp "$ROOT/bench/scaling.sh" "$DIR/"
for t in taskset timeout; do cp -L "$(command -v $t)" "$DIR/" 2>/dev/null || true; done
echo "packed $(du -sh "$DIR" | cut -f1) into $DIR"
