#!/usr/bin/env bash
# Benchmark: krill's .claw engine against claw.py, same machine, same run.
#
#   scripts/bench/claw.sh [small|large|all|shapes|notes|logs|transcripts|binaries]  (default: all)
#
# Generates workspaces under ${KRILL_BENCH_DIR:-/tmp/krill-claw-bench} (kept between runs):
# small and large with claw_gen.py; notes, logs, transcripts and binaries ("shapes": all four)
# with claw_shapes.py, a second generator cutting real text and binaries from the machine.
# Builds the library CLI example in release mode, then times export and import of each tool
# with /usr/bin/time -v (wall time, peak RSS), alternating the two tools, median of
# ${KRILL_BENCH_RUNS:-3} runs each, `sync` before every run (KRILL_BENCH_IMPORT=0: export only).
# Prints the table as the subsection "### Latest run (scripts/bench/claw.sh <which>)" of
# "## .claw engine" and writes it into docs/benchmarks.md (KRILL_BENCH_WRITE=0: print only); the
# analysis around it is written by hand. KRILL_BENCH_LEVEL=N exports at --level N instead of the
# per-file default. Not part of the test suite. Needs python3, claw.py (KRILL_CLAW_PY or the
# submodule), GNU time.
source "$(dirname "$0")/../lib/common.sh"
source "$KRILL_ROOT/scripts/bench/lib.sh"

here="$KRILL_ROOT/scripts/bench"
repo="$KRILL_ROOT"
bench="${KRILL_BENCH_DIR:-/tmp/krill-claw-bench}"
which="${1:-all}"
claw_py="${KRILL_CLAW_PY:-$repo/claw.py/claw.py}"
level="${KRILL_BENCH_LEVEL:-}"

[[ -f "$claw_py" ]] || die "claw.py not found at $claw_py (set KRILL_CLAW_PY)"
if [[ ! -x /usr/bin/time ]]; then
  echo "installing GNU time" >&2
  apt-get install -y time >/dev/null
fi

(cd "$repo" && cargo build --release -p krill-claw --example claw >&2)
ours="${CARGO_TARGET_DIR:-$repo/target}/release/examples/claw"
mkdir -p "$bench"

sizes=()
case "$which" in
  small) sizes=(small) ;;
  large) sizes=(large) ;;
  all) sizes=(small large) ;;
  shapes) sizes=(notes logs transcripts binaries) ;;
  notes|logs|transcripts|binaries) sizes=("$which") ;;
  *) echo "usage: scripts/bench/claw.sh [small|large|all|shapes|notes|logs|transcripts|binaries]" >&2; exit 2 ;;
esac

runs="${KRILL_BENCH_RUNS:-3}"
with_import="${KRILL_BENCH_IMPORT:-1}"
load_start=$(bench_machine)

# once <cmd...>: prints "wall_s rss_kib cpu_s" for one run, after flushing dirty pages so that
# neither tool pays for the other's writeback.
once() {
  sync
  local log="$bench/time.log"
  /usr/bin/time -v -o "$log" "$@" >/dev/null 2>"$bench/stderr.log" || { cat "$bench/stderr.log" >&2; return 1; }
  local wall rss user sys
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
  user=$(awk -F': ' '/User time/ {print $2}' "$log")
  sys=$(awk -F': ' '/System time/ {print $2}' "$log")
  echo "$wall $rss $(echo "$user + $sys" | bc)"
}

# pair <py-cleanup> <krill-cleanup> -- <py cmd...> -- <krill cmd...>
# Runs the two commands alternately $runs times (the machine is shared: alternating spreads
# other jobs' load evenly) and prints, per tool, the median wall time, the highest peak RSS and
# the median CPU: "py_wall py_rss py_cpu krill_wall krill_rss krill_cpu".
pair() {
  local pc="$1" kc="$2"; shift 3
  local py=() k=()
  while [[ "$1" != "--" ]]; do py+=("$1"); shift; done
  shift
  k=("$@")
  local walls=("" "") cpus=("" "") mr=(0 0) w r c i t
  for ((i = 0; i < runs; i++)); do
    for t in 0 1; do
      if (( t == 0 )); then rm -rf "$pc"; read -r w r c < <(once "${py[@]}")
      else rm -rf "$kc"; read -r w r c < <(once "${k[@]}"); fi
      walls[t]+="$w"$'\n'; cpus[t]+="$c"$'\n'
      (( r > mr[t] )) && mr[t]=$r
    done
  done
  echo "$(median <<<"${walls[0]}") ${mr[0]} $(median <<<"${cpus[0]}")" \
    "$(median <<<"${walls[1]}") ${mr[1]} $(median <<<"${cpus[1]}")"
}

rows=()
for size in "${sizes[@]}"; do
  ws="$bench/$size"
  if [[ ! -d "$ws/context" ]]; then
    echo "generating $size workspace in $ws" >&2
    case "$size" in
      small|large) python3 "$here/claw_gen.py" "$size" "$ws" ;;
      *) python3 "$here/claw_shapes.py" "$size" "$ws" ;;
    esac
  fi
  files=$(find "$ws/context" -type f | wc -l)
  input=$(du -sb "$ws/context" | cut -f1)
  # Warm the page cache equally for both tools, and measure what reading costs alone.
  find "$ws/context" -type f -print0 | xargs -0 cat > /dev/null
  read_s=$( { /usr/bin/time -f %e sh -c "find '$ws/context' -type f -print0 | xargs -0 cat > /dev/null"; } 2>&1 | tail -1)
  rm -rf "$bench/out-$size" && mkdir -p "$bench/out-$size"
  out="$bench/out-$size"
  extra=()
  [[ -n "$level" ]] && extra=(--level "$level")
  export KRILL_CLAW_PY="$claw_py"
  read -r pe_wall pe_rss pe_cpu ke_wall ke_rss ke_cpu < <(pair /nonexistent /nonexistent -- \
    python3 "$claw_py" export "$ws" "$out/py.claw" -- "$ours" export --no-progress "${extra[@]}" "$ws" "$out/krill.claw")
  py_size=$(stat -c %s "$out/py.claw")
  k_size=$(stat -c %s "$out/krill.claw")
  if [[ "$with_import" != 0 ]]; then
    read -r pi_wall pi_rss pi_cpu ki_wall ki_rss ki_cpu < <(pair "$out/py-imported" "$out/krill-imported" -- \
      python3 "$claw_py" import "$out/py.claw" "$out/py-imported" -- "$ours" import --no-progress "$out/py.claw" "$out/krill-imported")
    diff -r "$ws/context" "$out/krill-imported/context" >/dev/null || { echo "MISMATCH after import ($size)" >&2; exit 1; }
  fi
  # Our own archive must import to the same tree as well.
  "$ours" import --no-progress "$out/krill.claw" "$out/krill-own" >/dev/null
  diff -r "$ws/context" "$out/krill-own/context" >/dev/null || { echo "MISMATCH after own round trip ($size)" >&2; exit 1; }
  mib() { echo "scale=1; $1 / 1048576" | bc; }
  ratio() { echo "scale=1; $1 / $2" | bc; }
  pct=$(echo "scale=1; ($k_size - $py_size) * 100 / $py_size" | bc)
  rows+=("| $size | $files | $(mib "$input") MiB | export | $pe_wall | $ke_wall | $(ratio "$pe_wall" "$ke_wall")x | $pe_cpu | $ke_cpu | $(mib $((pe_rss*1024))) MiB | $(mib $((ke_rss*1024))) MiB | $(mib "$py_size") MiB | $(mib "$k_size") MiB | ${pct}% |")
  if [[ "$with_import" != 0 ]]; then
    rows+=("| $size | $files | $(mib "$input") MiB | import | $pi_wall | $ki_wall | $(ratio "$pi_wall" "$ki_wall")x | $pi_cpu | $ki_cpu | $(mib $((pi_rss*1024))) MiB | $(mib $((ki_rss*1024))) MiB | | | |")
  fi
  # The machine's floor for export: read everything, compress on all cores, write + fsync.
  write_s=$( { /usr/bin/time -f %e dd if="$out/krill.claw" of="$out/fsync-probe" bs=1M conv=fsync status=none; } 2>&1 | tail -1)
  rm -f "$out/fsync-probe"
  cores=$(nproc)
  floor=$(echo "scale=2; $ke_cpu / $cores" | bc)
  echo "$size: reading all files (cat, warm cache) ${read_s}s; writing the archive with fsync (dd) ${write_s}s;" \
       "krill export CPU ${ke_cpu}s = ${floor}s on $cores cores if perfectly parallel; wall ${ke_wall}s;" \
       "claw.py export CPU ${pe_cpu}s${pi_cpu:+, import CPU ${pi_cpu}s}" >&2
  rm -rf "$out/py-imported" "$out/krill-imported" "$out/krill-own"
done
section=$(cat <<MD
### Latest run (scripts/bench/claw.sh ${which})

\`scripts/bench/claw.sh ${which}\`, $(date -u +%Y-%m-%d), $load_start at the start and
$(cut -d' ' -f1 /proc/loadavg) at the end; median of $runs runs per tool, alternated; krill at
${level:+--level $level}${level:-its default (level per file)}.

| workspace | files | input | step | claw.py s | krill s | speed-up | claw.py CPU s | krill CPU s | claw.py RSS | krill RSS | claw.py archive | krill archive | size vs claw.py |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
$(printf '%s\n' "${rows[@]}")
MD
)
echo "$section"
bench_write_section "$section" "## .claw engine"
