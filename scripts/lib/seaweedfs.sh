# A throwaway S3-compatible server for tests: SeaweedFS's `weed mini` (Apache-2.0; MinIO is AGPL
# and stays out of the project), one process holding master, volume, filer and S3 gateway, with
# one identity. Sourced after scripts/lib/common.sh, never executed.

# seaweedfs_bin -> prints the directory holding `weed` ($KRILL_SEAWEEDFS_BIN, else built and
# cached by version through go-tools.sh).
seaweedfs_bin() {
  if [[ -n ${KRILL_SEAWEEDFS_BIN:-} && -x $KRILL_SEAWEEDFS_BIN/weed ]]; then
    echo "$KRILL_SEAWEEDFS_BIN"
  else
    "$KRILL_ROOT/scripts/tools/go-tools.sh" weed
  fi
}

# seaweedfs_serve DIR PORT ACCESS_KEY SECRET_KEY
# Runs the server in the foreground (exec: the caller's process becomes weed, so its pid is the
# server's) on 127.0.0.1:PORT with its data in DIR. The other ports weed needs are picked by weed
# itself (it moves any default one that is taken).
seaweedfs_serve() {
  local dir=$1 port=$2 access=$3 secret=$4
  local bin; bin=$(seaweedfs_bin)
  mkdir -p "$dir/data"
  # The identity file of weed's S3 gateway: one user allowed everything on every bucket.
  printf '{"identities":[{"name":"krill-test","credentials":[{"accessKey":"%s","secretKey":"%s"}],"actions":["Admin","Read","Write","List","Tagging"]}]}\n' \
    "$access" "$secret" >"$dir/s3.json"
  exec "$bin/weed" -logdir="$dir" mini -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -s3.port="$port" -s3.config="$dir/s3.json" \
    -webdav=false -admin.ui=false -s3.port.iceberg=0 -s3.port.lance=0 -master.telemetry=false
}

# seaweedfs_bucket ENDPOINT ACCESS_KEY SECRET_KEY BUCKET
# Creates BUCKET (a signed S3 CreateBucket; one that exists already is fine). Fails while the
# server cannot store anything yet, so it doubles as the readiness check. (weed mini's own
# -bucket flag did not create one in the pinned version.)
seaweedfs_bucket() {
  local endpoint=$1 access=$2 secret=$3 bucket=$4 code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X PUT \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user "$access:$secret" "$endpoint/$bucket") || code=000
  [[ $code == 200 || $code == 409 ]]
}

# seaweedfs_start DIR ACCESS_KEY SECRET_KEY [BUCKET...]
# Starts the server in the background on a free port, waits (up to 60 s) until it answers and
# creates the buckets (creating the first one is the readiness check; without any, a bucket
# `krill-ready` is made for it). Prints "ENDPOINT PID"; the log is DIR/weed.log. Stop it with
# `kill PID`.
seaweedfs_start() {
  local dir=$1 access=$2 secret=$3; shift 3
  mkdir -p "$dir"
  local port=18333
  while ss -Hlnt | awk '{print $4}' | grep -qE "[:.]$port\$"; do port=$((port + 1)); done
  seaweedfs_bin >/dev/null   # build before the clock starts
  (seaweedfs_serve "$dir" "$port" "$access" "$secret") >"$dir/weed.log" 2>&1 &
  local pid=$! i endpoint=http://127.0.0.1:$port bucket
  for ((i = 0; i < 120; i++)); do
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$dir/weed.log" >&2; die "weed exited before answering"; }
    if seaweedfs_bucket "$endpoint" "$access" "$secret" "${1:-krill-ready}"; then
      for bucket in "$@"; do
        seaweedfs_bucket "$endpoint" "$access" "$secret" "$bucket" || die "creating bucket $bucket failed"
      done
      echo "$endpoint $pid"; return 0
    fi
    sleep 0.5
  done
  kill "$pid" 2>/dev/null
  die "weed did not answer on 127.0.0.1:$port within 60 s (log: $dir/weed.log)"
}
