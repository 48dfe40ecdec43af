#!/usr/bin/env bash
# Benchmark: the in-pod helper (`krill`): start-up overhead before the exec, and snapshot /
# restore time and size for a workspace of a few hundred MB, each against a peer in the same run.
#
#   scripts/bench/helper.sh [startup|snapshot|upload|all]      (default: all)
#
# Start-up: `krill run` with KRILL_OPENCLAW=/bin/true, so it lays out the volume, renders the
# config, takes the gateway lock and execs /bin/true; peers: /bin/true itself, and
# `openclaw --version` (what the exec'd runtime costs before doing anything).
# Snapshot: `krill snapshot` of a generated workspace plus a WAL SQLite database; peer:
# `tar -czf` of the same two directories (which, unlike krill, would copy a live database file by
# file). Restore: `krill restore` against `tar -xzf`. Upload: a 300 MiB archive copied to a bucket
# of a local SeaweedFS (scripts/lib/seaweedfs.sh) by `krill snapshot` (time and peak memory),
# against `curl -T` of the same file (one signed PUT streamed from the file).
# Data lives in ${KRILL_BENCH_DIR:-/tmp/krill-helper-bench} (kept between runs). Needs hyperfine
# (installed from apt when missing), python3. Each part prints its subsection of "## In-pod helper"
# and writes it into docs/benchmarks.md (KRILL_BENCH_WRITE=0: print only); the analysis around
# them is written by hand.
source "$(dirname "$0")/../lib/common.sh"
source "$KRILL_ROOT/scripts/bench/lib.sh"

repo="$KRILL_ROOT"
bench="${KRILL_BENCH_DIR:-/tmp/krill-helper-bench}"
which="${1:-all}"
case "$which" in startup|snapshot|upload|all) ;; *) echo "usage: scripts/bench/helper.sh [startup|snapshot|upload|all]" >&2; exit 2 ;; esac

command -v hyperfine >/dev/null || { echo "installing hyperfine" >&2; apt-get install -y hyperfine >/dev/null; }
(cd "$repo" && cargo build --release -p krill-helper >&2)
krill="${CARGO_TARGET_DIR:-$repo/target}/release/krill"
mkdir -p "$bench"

export KRILL_NAME=bench KRILL_DATA="$bench/data" KRILL_RUN_DIR="$bench/run" KRILL_CONFIG_DIR="$bench/config"
export KRILL_CONTEXT_DIR="$bench/context" KRILL_SNAPSHOT_DIR="$bench/snapshots"
KRILL_UID=$(id -u) KRILL_GID=$(id -g)
export KRILL_UID KRILL_GID KRILL_OPENCLAW=/bin/true
export OPENCLAW_API_BASE=http://127.0.0.1:4000/v1 OPENCLAW_MODEL=bench-model
export OPENCLAW_API_KEY=sk-bench OPENCLAW_GATEWAY_TOKEN=bench-token
mkdir -p "$KRILL_CONFIG_DIR" "$KRILL_CONTEXT_DIR"

# median_ms <hyperfine json> <index>
median_ms() { python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][int(sys.argv[2])]["median"]*1000))' "$1" "$2"; }
ratio() { python3 -c 'import sys; print("%.2f" % (float(sys.argv[1]) / float(sys.argv[2])))' "$1" "$2"; }
mib() { python3 -c 'import os,sys; print("%.1f" % (os.path.getsize(sys.argv[1]) / 2**20))' "$1"; }

# run_line PART: the line under a subsection's heading.
run_line() { echo "\`scripts/bench/helper.sh $1\` ($(date -u +%F), release build, $(bench_machine) at the start, shared with other jobs)."; }

startup() {
  local run; run=$(run_line startup)   # the load before this part, not after it
  oc="${KRILL_OPENCLAW_BIN:-$("$repo/scripts/tools/openclaw.sh" 2>/dev/null)}"
  export PATH="$oc:$PATH"   # openclaw's shebang is `env node`
  "$krill" run >/dev/null   # first start: lay the volume out once; the runs below are restarts
  hyperfine -N --warmup 5 --runs 60 --export-json "$bench/startup.json" \
    /bin/true "$krill run --dry-run" "$krill run" "$oc/openclaw --version" >&2
  t_true=$(median_ms "$bench/startup.json" 0); t_dry=$(median_ms "$bench/startup.json" 1)
  t_run=$(median_ms "$bench/startup.json" 2); t_oc=$(median_ms "$bench/startup.json" 3)
  echo "### Start-up (scripts/bench/helper.sh startup)"
  echo
  echo "$run"
  echo
  echo "Start-up overhead (median of 60, hyperfine -N). Target: under 100 ms without a restore."
  echo
  echo "| command | ms | vs \`openclaw --version\` |"
  echo "|---|---:|---:|"
  echo "| \`/bin/true\` (exec floor) | $t_true | $(ratio "$t_true" "$t_oc")x |"
  echo "| \`krill run --dry-run\` (render, print) | $t_dry | $(ratio "$t_dry" "$t_oc")x |"
  echo "| \`krill run\` -> exec /bin/true (layout, lock, render, write, exec) | $t_run | $(ratio "$t_run" "$t_oc")x |"
  echo "| \`openclaw --version\` (peer: Node start of the exec'd runtime) | $t_oc | 1.00x |"
}

snapshot() {
  local run; run=$(run_line snapshot)   # the load before this part, not after it
  # A workspace as an agent leaves it: many small text files, some big binary ones, a .git, and
  # the state's session database (WAL). Deterministic, generated once.
  if [[ ! -f "$bench/data/.generated" ]]; then
    rm -rf "$bench/data"
    python3 - "$bench/data" <<'PY'
import os, random, sqlite3, sys
root = sys.argv[1]; rnd = random.Random(42)
words = [ "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(2, 9))) for _ in range(5000) ]
ws = os.path.join(root, "workspace")
for i in range(3000):                       # ~150 MB of notes and code
    d = os.path.join(ws, "notes" if i % 3 else "src", f"d{i % 40:02d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:04d}.md"), "w") as f:
        f.write(" ".join(rnd.choice(words) for _ in range(8000)))
os.makedirs(os.path.join(ws, "assets"), exist_ok=True)
for i in range(12):                          # 120 MB of incompressible artefacts
    with open(os.path.join(ws, "assets", f"blob{i:02d}.bin"), "wb") as f:
        f.write(rnd.randbytes(10 << 20))
state = os.path.join(root, "state", "agents", "main", "agent")
os.makedirs(state, exist_ok=True)
db = sqlite3.connect(os.path.join(state, "openclaw-agent.sqlite"))
db.execute("PRAGMA journal_mode=WAL")
db.execute("CREATE TABLE transcript(session TEXT, seq INTEGER, body TEXT)")
db.executemany("INSERT INTO transcript VALUES (?, ?, ?)",
               ((f"s{i % 50}", i, " ".join(rnd.choice(words) for _ in range(300))) for i in range(20000)))
db.commit(); db.close()
open(os.path.join(root, ".generated"), "w").close()
PY
  fi
  size_mib=$(du -sm --exclude=.krill "$bench/data" | cut -f1)
  files=$(find "$bench/data/workspace" "$bench/data/state" -type f | wc -l)
  rm -rf "$bench/snapshots" && mkdir -p "$bench/snapshots"
  hyperfine -N --runs 5 --export-json "$bench/snapshot.json" \
    --prepare "rm -rf $bench/snapshots $bench/peer.tgz" \
    "$krill snapshot --out $bench/snapshots --force" \
    "tar -czf $bench/peer.tgz -C $bench/data workspace state" >&2
  "$krill" snapshot --out "$bench/snapshots" --force >/dev/null
  hyperfine -N --runs 5 --export-json "$bench/unchanged.json" "$krill snapshot --out $bench/snapshots" >&2
  archive=$(find "$bench/snapshots" -name 'bench-*.claw' -printf '%T@ %p\n' | sort -n | tail -n 1 | cut -d' ' -f2-)
  tar -czf "$bench/peer.tgz" -C "$bench/data" workspace state
  hyperfine -N --runs 5 --export-json "$bench/restore.json" \
    --prepare "rm -rf $bench/restored $bench/untarred" \
    "env KRILL_DATA=$bench/restored $krill restore $archive" \
    "sh -c 'mkdir -p $bench/untarred && tar -xzf $bench/peer.tgz -C $bench/untarred'" >&2
  t_snap=$(median_ms "$bench/snapshot.json" 0); t_tar=$(median_ms "$bench/snapshot.json" 1)
  t_same=$(median_ms "$bench/unchanged.json" 0)
  t_rest=$(median_ms "$bench/restore.json" 0); t_untar=$(median_ms "$bench/restore.json" 1)
  echo "### Snapshot and restore (scripts/bench/helper.sh snapshot)"
  echo
  echo "$run"
  echo
  echo "Snapshot and restore of a generated krill volume: $size_mib MiB in $files files (3000 text files, 120 MiB of random binaries, a 20 000-row WAL session database). Median of 5."
  echo
  echo "| operation | krill ms | peer | peer ms | krill / peer |"
  echo "|---|---:|---|---:|---:|"
  echo "| snapshot (\`--force\`) | $t_snap | \`tar -czf\` | $t_tar | $(ratio "$t_snap" "$t_tar")x |"
  echo "| snapshot, nothing changed (skipped) | $t_same | \`tar -czf\` | $t_tar | $(ratio "$t_same" "$t_tar")x |"
  echo "| restore into an empty volume | $t_rest | \`tar -xzf\` | $t_untar | $(ratio "$t_rest" "$t_untar")x |"
  echo
  echo "| archive | MiB |"
  echo "|---|---:|"
  echo "| \`.claw\` (krill snapshot) | $(mib "$archive") |"
  echo "| \`.tar.gz\` (peer) | $(mib "$bench/peer.tgz") |"
}

upload() {
  local run; run=$(run_line upload)   # the load before this part, not after it
  # shellcheck source=../lib/seaweedfs.sh
  source "$repo/scripts/lib/seaweedfs.sh"
  local dir="$bench/upload" endpoint pid i
  if [[ ! -f $dir/data/.generated ]]; then
    rm -rf "$dir/data"; mkdir -p "$dir/data/workspace"
    head -c $((300 << 20)) /dev/urandom >"$dir/data/workspace/blob.bin"
    touch "$dir/data/.generated"
  fi
  rm -rf "$dir/s3" "$dir/snapshots"
  read -r endpoint pid < <(seaweedfs_start "$dir/s3" bench bench-secret-key snaps)
  # shellcheck disable=SC2064
  trap "kill $pid 2>/dev/null" EXIT
  local -a env=(KRILL_NAME=bench "KRILL_DATA=$dir/data" KRILL_SNAPSHOT_MIN_FREE_PERCENT=0)
  local -a store=(KRILL_OBJECT_STORE_BUCKET=snaps "KRILL_OBJECT_STORE_ENDPOINT=$endpoint"
    KRILL_RELEASE=bench AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret-key)
  env "${env[@]}" "$krill" snapshot --out "$dir/snapshots" --force >/dev/null 2>&1
  local archive; archive=$(find "$dir/snapshots" -name 'bench-*.claw' | head -n 1)
  local -a base=() up=() peer=()
  for i in 1 2 3; do
    # Nothing changed: the snapshot is skipped, so the only work beyond the baseline is the copy
    # (a new prefix per run, so the bucket never holds it yet).
    base+=("$(env "${env[@]}" /usr/bin/time -f '%e %M' "$krill" snapshot --out "$dir/snapshots" 2>&1 >/dev/null | tail -n 1)")
    up+=("$(env "${env[@]}" "${store[@]}" KRILL_OBJECT_STORE_PREFIX="run$i" /usr/bin/time -f '%e %M' "$krill" snapshot --out "$dir/snapshots" 2>&1 >/dev/null | tail -n 1)")
    peer+=("$(/usr/bin/time -f '%e %M' curl -sf -o /dev/null --aws-sigv4 aws:amz:us-east-1:s3 --user bench:bench-secret-key -T "$archive" "$endpoint/snaps/peer/$i.claw" 2>&1 | tail -n 1)")
  done
  kill "$pid" 2>/dev/null; trap - EXIT
  # col N LINES...: the median of column N (1: seconds, 2: max RSS KiB) of "seconds KiB" lines.
  col() { local n=$1; shift; printf '%s\n' "$@" | awk -v n="$n" '{print $n}' | sort -n | sed -n 2p; }
  mib_of() { python3 -c 'import sys; print("%.0f" % (float(sys.argv[1]) / 1024))' "$1"; }
  echo "### Copy to a bucket (scripts/bench/helper.sh upload)"
  echo
  echo "$run"
  echo
  echo "A $(mib "$archive") MiB archive (random bytes) copied to a local SeaweedFS by \`krill snapshot\` (multipart, 8 MiB parts), after a snapshot that found nothing changed; median of 3, peak memory from \`/usr/bin/time\`."
  echo
  echo "| run | s | peak RSS MiB |"
  echo "|---|---:|---:|"
  echo "| \`krill snapshot\`, nothing changed, no bucket (baseline) | $(col 1 "${base[@]}") | $(mib_of "$(col 2 "${base[@]}")") |"
  echo "| \`krill snapshot\`, nothing changed, copy to the bucket | $(col 1 "${up[@]}") | $(mib_of "$(col 2 "${up[@]}")") |"
  echo "| \`curl -T\` of the archive (peer: one signed PUT) | $(col 1 "${peer[@]}") | $(mib_of "$(col 2 "${peer[@]}")") |"
}

for part in startup snapshot upload; do
  [[ $which == "$part" || $which == all ]] || continue
  section=$("$part")
  echo "$section"
  bench_write_section "$section" "## In-pod helper"
done
