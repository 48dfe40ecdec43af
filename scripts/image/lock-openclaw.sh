#!/usr/bin/env bash
# Regenerates image/openclaw/package-lock.json for OPENCLAW_VERSION in scripts/versions.env. Run it
# after bumping that pin; the image build refuses a lock file for another version.
source "$(dirname "$0")/../lib/common.sh"
dir="$KRILL_ROOT/image/openclaw"
node -e '
  const fs = require("fs"), file = process.argv[1];
  const pkg = JSON.parse(fs.readFileSync(file, "utf8"));
  pkg.dependencies.openclaw = process.argv[2];
  fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + "\n");
' "$dir/package.json" "$OPENCLAW_VERSION"
rm -f "$dir/package-lock.json"
(cd "$dir" && npm install --package-lock-only --omit=dev --no-audit --no-fund >&2)
log "locked openclaw $OPENCLAW_VERSION in $dir/package-lock.json"
