# Shared by every script under scripts/: pinned versions, the version-keyed cache, logging.
# Sourced, never executed.

set -euo pipefail

KRILL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../versions.env
source "$KRILL_ROOT/scripts/versions.env"

# Everything downloaded or built lives outside the repo, one directory per tool and version, so
# a warm machine skips it and a bumped pin rebuilds only that tool.
KRILL_CACHE="${KRILL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/krill}"
mkdir -p "$KRILL_CACHE"

log() { printf '\033[1m[krill %s]\033[0m %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '\033[31m[krill] error:\033[0m %s\n' "$*" >&2; exit 1; }

# cached NAME VERSION -> prints the cache dir for that tool version.
cached() { printf '%s/%s/%s' "$KRILL_CACHE" "$1" "$2"; }

# A cache entry counts only once its producer wrote the .done stamp, so a killed build is redone.
is_done() { [[ -f "$1/.done" ]]; }
mark_done() { touch "$1/.done"; }

# Serialise concurrent installs of the same tool (CI and a developer shell, or parallel steps).
with_lock() {
  local name=$1; shift
  mkdir -p "$KRILL_CACHE/locks"
  exec {lockfd}>"$KRILL_CACHE/locks/$name.lock"
  flock "$lockfd"
  "$@"
  flock -u "$lockfd"
}

require_go() {
  command -v go >/dev/null || die "Go 1.24+ is needed to build the cluster tools (https://go.dev/doc/install)"
  # Let an older go fetch the toolchain our wrappers ask for from the module proxy.
  export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
  export GOFLAGS="${GOFLAGS:--buildvcs=false}"
}
