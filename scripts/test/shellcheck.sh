#!/usr/bin/env bash
# Shellcheck phase: every shell script in the repository (tracked *.sh files and every tracked
# file whose first line is a sh/bash shebang: scripts/dev, .ci/run), one check per file, with the
# settings in .shellcheckrc; and the root Makefile (it parses, `make help` lists every target). shellcheck comes from the lint venv (scripts/tools/python-tools.sh
# lint, on KRILL_TOOLS_PATH). Last line: "P passed, F failed, N skipped".
source "$(dirname "$0")/../lib/common.sh"
source "$KRILL_ROOT/scripts/lib/phase.sh"
cd "$KRILL_ROOT"
phase_start shellcheck

export PATH="${KRILL_TOOLS_PATH:-$("$KRILL_ROOT/scripts/tools/python-tools.sh" lint)}:$PATH"
command -v shellcheck >/dev/null || die "shellcheck not found on KRILL_TOOLS_PATH (scripts/dev tools)"

shell_scripts() {
  local f
  while IFS= read -r -d '' f; do
    [[ -f $f ]] || continue
    if [[ $f == *.sh ]] || head -n 1 "$f" | grep -qE '^#!.*[/ ](ba)?sh( |$)'; then echo "$f"; fi
  done < <(git ls-files -z --cached --others --exclude-standard)
}

mapfile -t scripts < <(shell_scripts)
((${#scripts[@]} > 0)) || die "no shell scripts found (not a git checkout?)"
for f in "${scripts[@]}"; do
  check "shellcheck $f" shellcheck "$f"
done

# Every .PHONY target of the Makefile has its `## ` description, so `make help` shows it.
makefile_help_lists_every_target() {
  local help target targets
  help=$(make --no-print-directory help) || return 1
  read -ra targets < <(sed -n 's/^\.PHONY: *//p' Makefile)
  for target in "${targets[@]}"; do
    grep -qE "^  make $target " <<<"$help" || { echo "make help does not list '$target'"; return 1; }
  done
}
check "make help lists every target" makefile_help_lists_every_target
phase_end
