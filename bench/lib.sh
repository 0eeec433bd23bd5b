# Shared helpers for the bench scripts (sourced).
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
OUT="$BENCH_DIR/out"
mkdir -p "$OUT"

need_hyperfine() {
  if ! command -v hyperfine >/dev/null; then
    echo "installing hyperfine (Debian)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null
  fi
}

# build_gwcurl builds the binary `go install` users get: a plain
# `go build ./cmd/gwcurl` (issue 21). bench/all.sh builds it once and sets
# BENCH_BUILT for the scripts it calls.
build_gwcurl() {
  [[ -n ${BENCH_BUILT:-} && -x $OUT/gwcurl ]] && return
  (cd "$ROOT" && go build -o "$OUT/gwcurl" ./cmd/gwcurl)
}

# start_bg VAR CMD...: start CMD in the background, read its first stdout line
# (a base URL) into VAR, and stop it when the script exits. A script with its
# own EXIT trap keeps it (it must kill ${BG_PIDS:-} itself): replacing it left
# the scripts' work directories, a 1 GiB file among them, behind.
start_bg() {
  local var=$1; shift
  local fifo="$OUT/.fifo.$$.$var"
  rm -f "$fifo"; mkfifo "$fifo"
  "$@" >"$fifo" 2>"$OUT/$var.log" &
  local pid=$!
  BG_PIDS="${BG_PIDS:-} $pid"
  [[ -n $(trap -p EXIT) ]] || trap 'kill $BG_PIDS 2>/dev/null || true' EXIT
  local line
  read -r line <"$fifo"
  exec {fd}<"$fifo"   # keep the pipe open so the child never gets SIGPIPE
  rm -f "$fifo"
  printf -v "$var" '%s' "$line"
}

# median_ratio JSON A B: ratio of medians of commands A and B (0-based) in a hyperfine export.
median_ratio() {
  python3 - "$@" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["results"]
a, b = d[int(sys.argv[2])], d[int(sys.argv[3])]
print(f"{a['median']*1000:.2f} ms / {b['median']*1000:.2f} ms = {a['median']/b['median']:.3f}")
PY
}
