#!/usr/bin/env bash
# Runs `make test` again and again, each time on a fresh clone of this repository's HEAD,
# several loops at once (a loaded machine), and says how many of the runs passed.
#
#   tools/repeat_make_test.sh [-n RUNS_PER_LOOP] [-j LOOPS] [-t TARGET] [OUT_DIR]
#
# Defaults: 5 runs per loop, 4 loops (20 runs), target `test`, OUT_DIR a new folder
# under /tmp. Each run's log is OUT_DIR/loopK/run-N.log; a run that fails keeps its
# clone beside its log. One line per run goes to OUT_DIR/results.txt. `touch
# OUT_DIR/STOP` ends every loop after the run it is in. Exit status: 0 when every run
# passed.
set -euo pipefail

runs=5 loops=4 target=test
while getopts "n:j:t:" opt; do
  case $opt in
    n) runs=$OPTARG ;;
    j) loops=$OPTARG ;;
    t) target=$OPTARG ;;
    *) sed -n '2,11p' "$0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
out=${1:-$(mktemp -d /tmp/ortak-repeat.XXXXXX)}
mkdir -p "$out"
head=$(git -C "$repo" rev-parse --short HEAD)
echo "make $target on fresh clones of $head: $loops loops of $runs runs; results in $out/results.txt"

one_loop() {
  local k=$1 dir="$out/loop$1" i start rc summary
  mkdir -p "$dir"
  for i in $(seq 1 "$runs"); do
    [ -e "$out/STOP" ] && break
    rm -rf "$dir/run-$i"
    git clone -q --no-hardlinks "$repo" "$dir/run-$i"
    git -C "$dir/run-$i" checkout -q "$head"
    start=$(date +%s)
    rc=0
    (cd "$dir/run-$i" && timeout 2700 make "$target") >"$dir/run-$i.log" 2>&1 || rc=$?
    summary=$(grep -E "^[0-9]+ (passed|failed)|[0-9]+ failed" "$dir/run-$i.log" | tail -1 || true)
    printf 'loop %s run %s head %s started %s rc %s %ss load %s :: %s\n' \
      "$k" "$i" "$head" "$(date -u -d "@$start" +%H:%M:%S)" "$rc" "$(($(date +%s) - start))" \
      "$(cut -d' ' -f1-3 /proc/loadavg)" "$summary" >>"$out/results.txt"
    if [ "$rc" -eq 0 ]; then rm -rf "$dir/run-$i"; fi
  done
}

# Each loop is a session of its own (timeout(1) makes a process group of its own), so that
# stopping this script stops every make, server and client a loop started.
export -f one_loop
export out runs repo head target
pids=()
trap 'for p in "${pids[@]}"; do pkill -TERM -s "$p" || true; done; exit 130' INT TERM
for k in $(seq 1 "$loops"); do
  setsid bash -c 'one_loop "$1"' _ "$k" &
  pids+=($!)
  [ "$k" -lt "$loops" ] && sleep 15 # stagger the clones and the tool checks
done
wait "${pids[@]}" || true

total=$(grep -c . "$out/results.txt" || true)
passed=$(grep -c " rc 0 " "$out/results.txt" || true)
echo "$passed of $total runs passed (make $target on $head); details in $out/results.txt"
[ "$total" -gt 0 ] && [ "$passed" -eq "$total" ]
