# Shared by the benchmarks under scripts/bench/: the median of repeated runs, the machine line
# every result names, and writing a script's section of docs/benchmarks.md. Sourced after
# scripts/lib/common.sh, never executed.

# median: the median of the numbers on stdin, one a line (the mean of the middle two for an even
# count), printed as awk prints numbers.
median() {
  sort -g | awk '{ v[NR] = $1 }
    END { if (NR == 0) exit 1; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# bench_machine: "N cores (CPU model), load average L", for the line under each section's heading.
bench_machine() {
  printf '%s cores (%s), load average %s' "$(nproc)" \
    "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" "$(cut -d' ' -f1 /proc/loadavg)"
}

# bench_write_section TEXT [PARENT]: puts TEXT, which starts with its Markdown heading, into
# docs/benchmarks.md in place of the section under the same heading (up to the next heading of
# the same or a higher level), leaving every other section as it is. A section not there yet goes
# before PARENT's first subsection (or at PARENT's end) when PARENT names a heading that is
# there, else at the end of the file. KRILL_BENCH_WRITE=0 leaves the file alone.
# Hand-written analysis lives in a section of its own (or next to a script's subsection), so a
# new run never overwrites it.
bench_write_section() {
  local text=$1 parent=${2:-} doc=${KRILL_BENCH_DOC:-$KRILL_ROOT/docs/benchmarks.md}
  [[ ${KRILL_BENCH_WRITE:-1} == 0 ]] && return 0
  local heading; heading=$(head -n 1 <<<"$text")
  [[ $heading =~ ^#+\  ]] || die "bench_write_section: the text must start with its heading (got '$heading')"
  [[ -f $doc ]] || printf '# Benchmarks\n' >"$doc"
  local tmp exists=0; tmp=$(mktemp)
  grep -qFx -- "$heading" "$doc" && exists=1
  TEXT=$text HEADING=$heading PARENT=$parent EXISTS=$exists awk '
    function level(line) { match(line, /^#+ /); return RLENGTH - 1 }
    function put(s) { out[++n] = s }
    function insert() { put(ENVIRON["TEXT"]); put(""); done = 1 }
    function trim() { while (n > 0 && out[n] == "") n-- }
    BEGIN { mine = level(ENVIRON["HEADING"]); exists = ENVIRON["EXISTS"] == 1 }
    {
      h = ($0 ~ /^#+ /) ? level($0) : 0
      if (skip) { if (h && h <= mine) skip = 0; else next }
      if (exists && $0 == ENVIRON["HEADING"]) { insert(); skip = 1; next }
      # A new section goes right before the first heading after its parent.
      if (!exists && in_parent && h && !done) { insert(); in_parent = 0 }
      if (ENVIRON["PARENT"] != "" && $0 == ENVIRON["PARENT"]) in_parent = 1
      put($0)
    }
    END {
      trim()
      if (!done) { put(""); insert() }
      trim()
      for (i = 1; i <= n; i++) print out[i]
    }' "$doc" >"$tmp"
  cat "$tmp" >"$doc"; rm -f "$tmp"
  log "wrote '${heading#\#* }' in ${doc#"$KRILL_ROOT"/}"
}

# WORKING_SET_SH: a shell script, run inside a container (`sh -c "$WORKING_SET_SH"`), printing the
# container's memory working set in MiB as the kubelet counts it: cgroup usage minus inactive file
# (cgroup v2 or v1).
# shellcheck disable=SC2016,SC2034 # expanded by the container's shell; used where sourced
WORKING_SET_SH='
if [ -f /sys/fs/cgroup/memory.current ]; then
  u=$(cat /sys/fs/cgroup/memory.current); i=$(awk "/^inactive_file /{print \$2}" /sys/fs/cgroup/memory.stat)
else
  u=$(cat /sys/fs/cgroup/memory/memory.usage_in_bytes); i=$(awk "/^total_inactive_file /{print \$2}" /sys/fs/cgroup/memory/memory.stat)
fi
echo $(( (u - i) / 1048576 ))'

# kind_fleet_values: the chart values the kind benchmarks install fleets with (the images loaded
# into the node, CPU requests one small node can grant), on stdout. Needs KRILL_IMAGE and
# KRILL_TEST_LITELLM_IMAGE (build_test_images) and loaded_image (scripts/image/lib.sh).
kind_fleet_values() {
  cat <<YAML
image: $(loaded_image "$KRILL_IMAGE")
apiServer:
  image: $(loaded_image "$KRILL_TEST_LITELLM_IMAGE")
# What a fleet on one small node can be given: the chart's 250m per krill would leave pods Pending.
resources:
  requests: {cpu: 20m}
snapshots:
  firstAfter: 1h
  resources:
    requests: {cpu: 5m}
YAML
}
