#!/usr/bin/env bash
# layers.sh - check the layering of src/ from the object files' symbols.
#
# Every subsystem (src/<subsystem>/) may call only the subsystems below it:
#   common -> wire -> feeds -> engine -> gateway, with store beside (it may use
#   common and wire; the engine reaches it only through sink/source interfaces
#   that main.c wires; the gateway, on top, may ask the store directly, e.g.
#   for token revocation). A call to a symbol defined in a subsystem not listed as
#   allowed, or any cycle between subsystems, fails the check.
#
# Usage: scripts/layers.sh [build-dir]   (default: build). Prints the graph.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
OBJ="$BUILD/CMakeFiles/tickgate_core.dir/src"
if [ ! -d "$OBJ" ]; then
  echo "layers.sh: no object files under $OBJ (build first)" >&2
  exit 2
fi

declare -A allowed=(
  [common]=""
  [wire]="common"
  [feeds]="common wire"
  [store]="common wire"
  [engine]="common wire feeds"
  [gateway]="common wire feeds engine store"
)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for dir in "$OBJ"/*/; do
  sub=$(basename "$dir")
  # only objects of sources that still exist (a moved file leaves a stale .o behind)
  objs=()
  while IFS= read -r -d '' o; do
    rel=${o#"$OBJ"/}
    [ -f "src/${rel%.o}" ] && objs+=("$o")
  done < <(find "$dir" -name '*.c.o' -print0)
  [ ${#objs[@]} -eq 0 ] && continue
  nm --defined-only -P "${objs[@]}" 2>/dev/null |
    awk -v s="$sub" 'NF >= 2 && $2 ~ /^[TDBRVW]$/ {print $1, s}' >>"$tmp/defs"
  nm --undefined-only -P "${objs[@]}" 2>/dev/null |
    awk -v s="$sub" 'NF >= 2 && $2 == "U" {print s, $1}' >>"$tmp/uses"
done
sort -u "$tmp/defs" >"$tmp/defs.s"
# edges: user-subsystem defining-subsystem symbol
awk 'NR==FNR {def[$1]=$2; next} ($2 in def) && def[$2] != $1 {print $1, def[$2], $2}' \
  "$tmp/defs.s" "$tmp/uses" | sort -u >"$tmp/edges"

status=0
echo "subsystem dependencies (from object files):"
awk '{print $1, "->", $2}' "$tmp/edges" | sort | uniq -c | awk '{printf "  %-8s -> %-8s %3d symbols\n", $2, $4, $1}'

while read -r from to sym; do
  ok=0
  for a in ${allowed[$from]-}; do
    [ "$a" = "$to" ] && ok=1
  done
  if [ $ok -eq 0 ]; then
    echo "layers.sh: $from calls $to: $sym" >&2
    status=1
  fi
done <"$tmp/edges"

# cycles: topological sort of the subsystem graph (tsort reports loops)
awk '{print $1, $2}' "$tmp/edges" | sort -u | awk '{print $2, $1}' >"$tmp/pairs"
if ! tsort "$tmp/pairs" >/dev/null 2>"$tmp/tsort.err"; then
  echo "layers.sh: dependency cycle between subsystems:" >&2
  cat "$tmp/tsort.err" >&2
  status=1
fi
[ $status -eq 0 ] && echo "layers: OK (no cycle, every call goes down)"
exit $status
