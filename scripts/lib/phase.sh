# Counting for the test phases (scripts/test/*.sh): what passed, what failed, what could not run,
# and the closing line scripts/dev reads. Sourced after scripts/lib/common.sh, never executed.
#
# A phase calls phase_start first, adds to `passed`/`failed` through check or count_cargo, and
# ends with phase_end, which prints its last line: "P passed, F failed, N skipped".
# N counts the tests that could not run here. Each of them wrote one line to $KRILL_NOT_RUN_LOG
# (docs/testing.md) and then returned normally, so its runner counted it as passed: phase_end
# lists those lines and takes them out of P.

passed=0 failed=0

# phase_start NAME: scripts/dev hands every phase its own not-run log; a phase run alone keeps
# it in the cache's logs. Either way it starts empty: lines from an earlier run never count.
phase_start() {
  if [[ -z ${KRILL_NOT_RUN_LOG:-} ]]; then
    mkdir -p "$KRILL_CACHE/logs"
    KRILL_NOT_RUN_LOG="$KRILL_CACHE/logs/$1.not-run"
  fi
  export KRILL_NOT_RUN_LOG
  : >"$KRILL_NOT_RUN_LOG"
}

# check NAME COMMAND...: one check; its output is shown only when it fails.
check() {
  local name=$1; shift
  local out; out=$(mktemp)
  if "$@" >"$out" 2>&1; then
    passed=$((passed + 1)); printf 'ok    %s\n' "$name"
  else
    failed=$((failed + 1)); printf 'FAIL  %s\n' "$name"; sed 's/^/      /' "$out" | tail -n 40
  fi
  rm -f "$out"
}

# count_cargo LOG STATUS: adds the "test result:" lines of a `cargo test` log. A cargo that exited
# non-zero (STATUS) without a failing test, or printed no result at all (a build error), adds one
# failure: that is never "zero tests".
count_cargo() {
  local p f
  read -r p f < <(awk '/^test result: / { for (i = 1; i < NF; i++) {
      if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
    END { print p + 0, f + 0 }' "$1")
  if { (($2 != 0)) && ((f == 0)); } || ! grep -q '^test result: ' "$1"; then f=$((f + 1)); fi
  passed=$((passed + p)) failed=$((failed + f))
}

# phase_end: lists the tests that could not run, prints the closing line; fails if anything did.
phase_end() {
  local not_run=0
  if [[ -s $KRILL_NOT_RUN_LOG ]]; then
    not_run=$(wc -l <"$KRILL_NOT_RUN_LOG")
    sed 's/^/NOT RUN: /' "$KRILL_NOT_RUN_LOG"
  fi
  echo "$((passed - not_run)) passed, $failed failed, $not_run skipped"
  ((failed == 0))
}

# phase_counts LOG: "P F N" from a phase's closing line in its output (for scripts/dev); fails when
# the phase ended without one (it died before counting).
phase_counts() {
  grep -E '^-?[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$1" | tail -n 1 | awk '{ print $1, $3, $5 } END { exit NR == 0 }'
}
