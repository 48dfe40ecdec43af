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

# seaweedfs_serve DIR PORT ACCESS_KEY SECRET_KEY [BUCKET,...]
# Runs the server in the foreground (exec: the caller's process becomes weed, so its pid is the
# server's) on 127.0.0.1:PORT with its data in DIR, creating the buckets named. The other ports
# weed needs are picked by weed itself (it moves any default one that is taken).
seaweedfs_serve() {
  local dir=$1 port=$2 access=$3 secret=$4 buckets=${5:-}
  local bin; bin=$(seaweedfs_bin)
  mkdir -p "$dir/data"
  # The identity file of weed's S3 gateway: one user allowed everything on every bucket.
  printf '{"identities":[{"name":"krill-test","credentials":[{"accessKey":"%s","secretKey":"%s"}],"actions":["Admin","Read","Write","List","Tagging"]}]}\n' \
    "$access" "$secret" >"$dir/s3.json"
  exec "$bin/weed" -logdir="$dir" mini -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -s3.port="$port" -s3.config="$dir/s3.json" ${buckets:+-bucket="$buckets"} \
    -webdav=false -admin.ui=false -s3.port.iceberg=0 -s3.port.lance=0 -master.telemetry=false
}

# seaweedfs_start DIR ACCESS_KEY SECRET_KEY [BUCKET,...]
# Starts the server in the background on a free port and waits (up to 60 s) until its S3 port
# answers. Prints "ENDPOINT PID"; the log is DIR/weed.log. Stop it with `kill PID`.
seaweedfs_start() {
  local dir=$1 access=$2 secret=$3 buckets=${4:-}
  mkdir -p "$dir"
  local port=18333
  while ss -Hlnt | awk '{print $4}' | grep -qE "[:.]$port\$"; do port=$((port + 1)); done
  seaweedfs_bin >/dev/null   # build before the clock starts
  (seaweedfs_serve "$dir" "$port" "$access" "$secret" "$buckets") >"$dir/weed.log" 2>&1 &
  local pid=$! i
  for ((i = 0; i < 120; i++)); do
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$dir/weed.log" >&2; die "weed exited before answering"; }
    # Any HTTP answer (an anonymous request is refused with 403) means the gateway is up.
    if curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/" 2>/dev/null | grep -q '^[1-5]'; then
      echo "http://127.0.0.1:$port $pid"; return 0
    fi
    sleep 0.5
  done
  kill "$pid" 2>/dev/null
  die "weed did not answer on 127.0.0.1:$port within 60 s (log: $dir/weed.log)"
}
