# Helpers of the 1 GiB upload benchmarks (s3stream.sh, upload_hash.sh); sourced after lib.sh.
BYTES=${UPLOAD_BYTES:-1073741824}
ROUNDS=${ROUNDS:-5}

need_time() {
  [ -x /usr/bin/time ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# isolate_aws: the machine's AWS configuration stays out of gwcurl's runs.
isolate_aws() {
  export NO_COLOR=1 AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
  unset AWS_PROFILE AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION
}

# make_blob FILE: BYTES random bytes, left in the page cache (every run
# reads it warm, as the first would after writing it).
make_blob() {
  echo "writing $BYTES random bytes" >&2
  head -c "$BYTES" /dev/urandom >"$1"
  cat "$1" >/dev/null
}

# server_cpu: CPU seconds (user + system) used so far by the process
# SERVER_PID (the server the uploads go to), or 0 when it is not set.
server_cpu() {
  [[ -n ${SERVER_PID:-} && -r /proc/$SERVER_PID/stat ]] || { echo 0; return; }
  awk -v hz="$(getconf CLK_TCK)" '{sub(/.*\) /, ""); printf "%.2f", ($12 + $13) / hz}' "/proc/$SERVER_PID/stat"
}

# measure NAME ROUND CMD...: run CMD under /usr/bin/time -v and append
# "NAME ROUND wall_s peak_rss_kib cpu_s server_cpu_s" to $WORK/results
# (server_cpu_s: what SERVER_PID spent during the run, 0 without one).
measure() {
  local name=$1 round=$2 s0; shift 2
  sync # the previous run's writeback is not billed to this one
  s0=$(server_cpu)
  /usr/bin/time -v -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || { cat "$WORK/$name.err" >&2; exit 1; }
  python3 - "$name" "$round" "$WORK/$name.time" "$s0" "$(server_cpu)" >>"$WORK/results" <<'PY'
import re, sys
t = open(sys.argv[3]).read()
w = re.search(r"Elapsed \(wall clock\) time.*: (.+)", t).group(1).split(":")
secs = sum(float(x) * 60 ** i for i, x in enumerate(reversed(w)))
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1))
cpu = sum(float(re.search(p + r": ([\d.]+)", t).group(1)) for p in ("User time \\(seconds\\)", "System time \\(seconds\\)"))
srv = float(sys.argv[5]) - float(sys.argv[4])
print(sys.argv[1], sys.argv[2], f"{secs:.2f}", rss, f"{cpu:.2f}", f"{srv:.2f}")
PY
  echo "  round $round: $(tail -1 "$WORK/results")" >&2
}

# summarize RESULTS <<PY: run the Python on stdin with R (name -> list of
# {wall, rss, cpu} in round order), med(list, key) and line(label, list).
summarize() {
  cat >"$WORK/summarize.py" <<'PY'
import statistics, sys
R = {}
for l in open(sys.argv[1]):
    n, r, w, rss, c, srv = l.split()
    R.setdefault(n, []).append({"wall": float(w), "rss": int(rss), "cpu": float(c), "srv": float(srv)})
def med(xs, k):
    return statistics.median(x[k] for x in xs)
def line(label, xs):
    runs = " ".join("%.2f" % x["wall"] for x in xs)
    srv = ", server CPU median %.2f s" % med(xs, "srv") if med(xs, "srv") > 0 else ""
    print("  %s: median %.2f s (runs %s), peak RSS %.1f MiB, client CPU median %.2f s%s"
          % (label, med(xs, "wall"), runs, max(x["rss"] for x in xs) / 1024, med(xs, "cpu"), srv))
PY
  cat >>"$WORK/summarize.py"
  python3 "$WORK/summarize.py" "$1"
}
