# Builds Go commands from the Go module proxy through a throwaway wrapper module: the one way
# every Go tool krill uses is installed. Sourced after scripts/lib/common.sh, never executed.
#
# Why a wrapper module and not `go install pkg@version`:
#   - `go install` refuses modules whose go.mod carries replace directives (kubernetes points its
#     staging modules at ./staging, etcd's server module points at ../api); in a wrapper the
#     replaces, if any are needed, are ours and the dependency's own are ignored.
#   - `go install` also asks the proxy for the module's version list to check deprecations, which
#     the proxy reachable here refuses for some modules (chart-testing); a pinned require works.

# go_wrapper_build [--replace 'MOD => MOD VERSION']... [--ldflags FLAGS] [--lock LOCK]
#                  NAME VERSION MODULE PKG...
#
# Builds each PKG (a package of MODULE at VERSION; `BIN=PKG` names the binary, else it is the
# package's last path element) into $(cached NAME VERSION)/bin, statically (CGO off), trimmed and
# stripped, with FLAGS added to the linker flags. The wrapper module is kept in
# $(cached NAME VERSION)/wrapper. Holds the lock LOCK (default NAME) while building and writes
# .done last; a finished entry is returned at once, without waiting for any lock. Prints the bin
# directory.
go_wrapper_build() {
  local replaces=() ldflags="" lock=""
  while (($#)); do
    case $1 in
      --replace) replaces+=("$2"); shift 2 ;;
      --ldflags) ldflags=$2; shift 2 ;;
      --lock) lock=$2; shift 2 ;;
      *) break ;;
    esac
  done
  (($# >= 4)) || die "usage: go_wrapper_build [--replace R]... [--ldflags F] [--lock L] NAME VERSION MODULE PKG..."
  local name=$1 version=$2 module=$3; shift 3
  local out; out=$(cached "$name" "$version")
  if ! is_done "$out"; then
    require_go
    with_lock "${lock:-$name}" _go_wrapper_build_locked "$out" "$name" "$version" "$module" "$ldflags" \
      "${#replaces[@]}" "${replaces[@]}" "$@"
  fi
  echo "$out/bin"
}

# The part under the lock; another process may have finished the entry while we waited.
_go_wrapper_build_locked() {
  local out=$1 name=$2 version=$3 module=$4 ldflags=$5 n=$6; shift 6
  local replaces=("${@:1:n}"); shift "$n"
  is_done "$out" && return 0
  rm -rf "$out"; mkdir -p "$out/wrapper" "$out/bin"
  local wrap=$out/wrapper r
  {
    printf 'module krill.local/%s-wrapper\n\ngo 1.24\n\nrequire %s %s\n' "$name" "$module" "$version"
    for r in "${replaces[@]}"; do printf 'replace %s\n' "$r"; done
  } >"$wrap/go.mod"
  log "building $name $version from the Go module proxy (cold: minutes)"
  (cd "$wrap" && go get "$module@$version" >/dev/null)
  local spec bin pkg
  for spec in "$@"; do
    if [[ $spec == *=* ]]; then bin=${spec%%=*} pkg=${spec#*=}; else pkg=$spec bin=${spec##*/}; fi
    (($# > 1)) && log "building $bin $version"
    # -mod=mod: `go get` recorded the module's requirements; each package adds the go.sum
    # entries of the dependencies it imports as it is built.
    (cd "$wrap" && CGO_ENABLED=0 go build -mod=mod -trimpath -ldflags "-s -w${ldflags:+ $ldflags}" \
      -o "$out/bin/$bin" "$pkg")
  done
  mark_done "$out"
}
