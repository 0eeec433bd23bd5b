#!/usr/bin/env bash
# bench/gateway.sh — throughput and added latency of the mock gateway, in one
# run, on this machine (see docs/gateway.md "Performance"):
#
#   1. requests/s of the gateway on /public/echo (hey, 50 concurrent);
#   2. requests/s of Debian nginx serving a static answer, same load;
#   3. requests/s of /admin/echo with a Cloudflare Access service token
#      (verified; the application token is minted once per session) and of
#      /aws/echo with a SigV4 signature (verified on every request; the
#      signed headers come from `curl --aws-sigv4` and are replayed, as AWS
#      accepts within 15 minutes);
#   4. p50/p99 latency at 1,000 requests/s (hey -c 10 -q 100: -q is per
#      worker) of nginx's static answer called directly and through three
#      reverse proxies side by side: Go's bare httputil.ReverseProxy
#      (bench/cmd/bareproxy), nginx itself (a second server block,
#      proxy_pass with a keepalive upstream) and a gateway route (/up →
#      nginx); each difference to the direct call is the latency that proxy
#      adds.
#
# Throughput is measured in TPUT_ROUNDS rounds (default 3) that alternate
# the four targets, and the median of each is kept, so a burst of outside
# load on a shared machine hits all of them alike.
#
# Targets: /public >= 5,000 requests/s and >= 0.8 x nginx; /admin >= 10,000
# requests/s and >= 0.7 x /public; /aws >= 0.7 x /public; added p99 <= 1 ms.
# Installs nginx and hey when missing (apt-get; hey falls back to
# `go install github.com/rakyll/hey@latest`). Everything listens on
# 127.0.0.1 only. Usage: bench/gateway.sh [DURATION]   (default 10s)
set -euo pipefail

cd "$(dirname "$0")/.."
DURATION=${1:-${DURATION:-10s}}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/gwbench.XXXXXX")
PIDS=()
POLICY_RC_CREATED=

cleanup() {
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	if [[ -f $TMP/nginx.pid ]]; then
		kill "$(cat "$TMP/nginx.pid")" 2>/dev/null || true
	fi
	wait 2>/dev/null || true
	if [[ -n $POLICY_RC_CREATED ]]; then
		rm -f /usr/sbin/policy-rc.d
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT

log() { printf '%s\n' "$*" >&2; }

as_root() {
	if [[ $(id -u) -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		log "bench: need root to run: $*"
		return 1
	fi
}

# apt_install PKG: install a Debian package without starting its service
# (policy-rc.d 101 is Debian's switch for that), so installing nginx does not
# leave a daemon on port 80 behind.
apt_install() {
	if [[ ! -e /usr/sbin/policy-rc.d && $(id -u) -eq 0 ]]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		POLICY_RC_CREATED=1
	fi
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$1" >&2 ||
		{ as_root apt-get update -q >&2 && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$1" >&2; }
}

NGINX=$(command -v nginx || true)
[[ -z $NGINX && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
if [[ -z $NGINX ]]; then
	log "bench: installing nginx"
	apt_install nginx
	NGINX=/usr/sbin/nginx
fi
if ! command -v hey >/dev/null; then
	log "bench: installing hey"
	if ! apt_install hey; then
		go install github.com/rakyll/hey@latest
		export PATH=$PATH:$(go env GOPATH)/bin
	fi
fi

free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	log "bench: no free port found"
	return 1
}

wait_http() {
	for _ in $(seq 100); do
		if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	log "bench: $1 did not come up"
	return 1
}

# ---- nginx: a static answer, as small as the echo's work is large ----
NPORT=$(free_port)
NPROXY_PORT=$(free_port)
[[ $NPROXY_PORT == "$NPORT" ]] && NPROXY_PORT=$(free_port)
mkdir -p "$TMP/nginx"
cat >"$TMP/nginx.conf" <<EOF
worker_processes auto;
daemon on;
pid $TMP/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	keepalive_requests 100000;
	client_body_temp_path $TMP/nginx/body;
	proxy_temp_path $TMP/nginx/proxy;
	fastcgi_temp_path $TMP/nginx/fastcgi;
	uwsgi_temp_path $TMP/nginx/uwsgi;
	scgi_temp_path $TMP/nginx/scgi;
	server {
		listen 127.0.0.1:$NPORT;
		location / {
			default_type application/json;
			return 200 '{"ok":true}\n';
		}
	}
	# nginx as a reverse proxy to the server above, upstream connections
	# kept alive (HTTP/1.1, no Connection header), the yardstick of a
	# well-tuned proxy.
	upstream static {
		server 127.0.0.1:$NPORT;
		keepalive 64;
	}
	server {
		listen 127.0.0.1:$NPROXY_PORT;
		location / {
			proxy_pass http://static;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
		}
	}
}
EOF
"$NGINX" -p "$TMP/nginx" -c "$TMP/nginx.conf" -e "$TMP/nginx/error.log"
NGINX_URL="http://127.0.0.1:$NPORT"
NGINX_PROXY_URL="http://127.0.0.1:$NPROXY_PORT"
wait_http "$NGINX_URL/"
wait_http "$NGINX_PROXY_URL/"

# ---- the gateway: the embedded demo plus /up -> nginx ----
go build -o "$TMP/gwserve" ./bench/cmd/gwserve
"$TMP/gwserve" -upstream "$NGINX_URL" -log "$TMP/gateway.log" >"$TMP/gw.url" &
PIDS+=($!)
for _ in $(seq 100); do [[ -s $TMP/gw.url ]] && break; sleep 0.1; done
GW_URL=$(head -1 "$TMP/gw.url")
wait_http "$GW_URL/public/echo"

# ---- Go's bare httputil.ReverseProxy -> nginx, the same idle pool as the
# gateway's default (256 per host), so neither reconnects under 10 workers ----
go build -o "$TMP/bareproxy" ./bench/cmd/bareproxy
"$TMP/bareproxy" -upstream "$NGINX_URL" -max-idle-per-host 256 >"$TMP/bare.url" &
PIDS+=($!)
for _ in $(seq 100); do [[ -s $TMP/bare.url ]] && break; sleep 0.1; done
BARE_URL=$(head -1 "$TMP/bare.url")
wait_http "$BARE_URL/"

# run_hey NAME ARGS...: runs hey, keeps its report, fails on non-2xx answers.
run_hey() {
	local name=$1
	shift
	hey "$@" >"$TMP/$name.txt"
	if grep -q "Error distribution" "$TMP/$name.txt" ||
		grep -E '^\s+\[[0-9]+\]' "$TMP/$name.txt" | grep -vq '\[200\]'; then
		log "bench: $name had errors:"
		cat "$TMP/$name.txt" >&2
		return 1
	fi
}
rps() { awk '/Requests\/sec:/ {printf "%.0f", $2}' "$TMP/$1.txt"; }
pct() { awk -v p="$2%" '$1 == p && $2 == "in" {printf "%.3f", $3 * 1000}' "$TMP/$1.txt"; }

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
log "bench: warming up"
hey -n 5000 -c 50 "$GW_URL/public/echo" >/dev/null
hey -n 5000 -c 50 "$GW_URL/up/" >/dev/null
hey -n 5000 -c 50 "$NGINX_URL/" >/dev/null
hey -n 5000 -c 50 "$BARE_URL/" >/dev/null
hey -n 5000 -c 50 "$NGINX_PROXY_URL/" >/dev/null

# The published demo credentials of the embedded config (docs/gateway.md).
CF_ID=demo.access CF_SECRET=demo-cf-secret
AWS_PAIR=AKIAGWCURLDEMO000001:gwcurlDemoSecretKey000000000000000000001
CF_HDRS=(-H "CF-Access-Client-Id: $CF_ID" -H "CF-Access-Client-Secret: $CF_SECRET")
# sigv4_headers: hey -H arguments replaying a fresh curl --aws-sigv4 GET of
# /aws/echo (it must pass verification first).
sigv4_headers() {
	local trace
	trace=$(curl -sS -f -o /dev/null -v --aws-sigv4 aws:amz:us-east-1:lambda --user "$AWS_PAIR" "$GW_URL/aws/echo" 2>&1) ||
		{ log "bench: the signed GET of /aws/echo was refused: $trace"; return 1; }
	AWS_HDRS=()
	while IFS= read -r line; do
		line=${line%$'\r'}
		case ${line,,} in
		'> authorization: '* | '> x-amz-date: '*) AWS_HDRS+=(-H "${line#> }") ;;
		esac
	done <<<"$trace"
	[[ ${#AWS_HDRS[@]} -eq 4 ]] || { log "bench: no SigV4 headers in curl's trace"; return 1; }
}
curl -sS -f -o /dev/null "${CF_HDRS[@]}" "$GW_URL/admin/echo" || { log "bench: the CF service token was refused"; exit 1; }
hey -n 5000 -c 50 "${CF_HDRS[@]}" "$GW_URL/admin/echo" >/dev/null
sigv4_headers
hey -n 5000 -c 50 "${AWS_HDRS[@]}" "$GW_URL/aws/echo" >/dev/null

TPUT_ROUNDS=${TPUT_ROUNDS:-3}
log "bench: throughput, $TPUT_ROUNDS rounds of $DURATION per target, 50 concurrent"
for i in $(seq "$TPUT_ROUNDS"); do
	run_hey "gw_rps$i" -z "$DURATION" -c 50 "$GW_URL/public/echo"
	run_hey "nginx_rps$i" -z "$DURATION" -c 50 "$NGINX_URL/"
	run_hey "admin_rps$i" -z "$DURATION" -c 50 "${CF_HDRS[@]}" "$GW_URL/admin/echo"
	sigv4_headers # fresh, well inside the 15 minutes
	run_hey "aws_rps$i" -z "$DURATION" -c 50 "${AWS_HDRS[@]}" "$GW_URL/aws/echo"
done
# median_rps NAME: the median requests/s over the throughput rounds.
median_rps() {
	for i in $(seq "$TPUT_ROUNDS"); do rps "$1$i"; echo; done | sort -n | awk '{v[NR] = $1} END {printf "%.0f", v[int((NR + 1) / 2)]}'
}
all_rps() { for i in $(seq "$TPUT_ROUNDS"); do rps "$1$i"; printf ' '; done; }

# Latency is measured in ROUNDS short runs alternating direct and the three
# proxies, and the median of each percentile is kept: on a shared 2-core
# machine a burst of outside load then hits all of them alike instead of one
# phase.
ROUNDS=${ROUNDS:-5}
log "bench: latency at 1,000 requests/s (10 workers x 100/s), $ROUNDS rounds of $DURATION per target"
for i in $(seq "$ROUNDS"); do
	run_hey "direct_lat$i" -z "$DURATION" -c 10 -q 100 "$NGINX_URL/"
	run_hey "bare_lat$i" -z "$DURATION" -c 10 -q 100 "$BARE_URL/"
	run_hey "nginxproxy_lat$i" -z "$DURATION" -c 10 -q 100 "$NGINX_PROXY_URL/"
	run_hey "proxied_lat$i" -z "$DURATION" -c 10 -q 100 "$GW_URL/up/"
done
# median NAME PCT: the median over the rounds of one percentile.
median() {
	for i in $(seq "$ROUNDS"); do pct "$1$i" "$2"; echo; done | sort -n | awk '{v[NR] = $1} END {printf "%.3f", v[int((NR + 1) / 2)]}'
}

GW_RPS=$(median_rps gw_rps)
NGINX_RPS=$(median_rps nginx_rps)
ADMIN_RPS=$(median_rps admin_rps)
AWS_RPS=$(median_rps aws_rps)
D50=$(median direct_lat 50)
D99=$(median direct_lat 99)
P50=$(median proxied_lat 50)
P99=$(median proxied_lat 99)
B50=$(median bare_lat 50)
B99=$(median bare_lat 99)
N50=$(median nginxproxy_lat 50)
N99=$(median nginxproxy_lat 99)
sub() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a - b}'; }
A50=$(sub "$P50" "$D50")
A99=$(sub "$P99" "$D99")
LAT_RPS=$(rps proxied_lat1)
verdict() { awk -v ok="$1" 'BEGIN {print (ok ? "PASS" : "FAIL")}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

cat <<EOF
gwcurl gateway benchmark — $(nproc) CPUs, $(uname -sr), $(go version | awk '{print $3}'), $("$NGINX" -v 2>&1 | sed 's/.*: //'), duration $DURATION
load average before/after: $LOAD_BEFORE / $(cut -d' ' -f1-3 /proc/loadavg)
throughput (hey -c 50), median of $TPUT_ROUNDS rounds of $DURATION (all rounds in brackets)
  nginx static answer          $NGINX_RPS req/s   [$(all_rps nginx_rps)]
  gateway /public/echo         $GW_RPS req/s   [$(all_rps gw_rps)]  target >= 5000: $(verdict "$((GW_RPS >= 5000))")
    / nginx                    $(ratio "$GW_RPS" "$NGINX_RPS")   target >= 0.8: $(verdict "$(awk -v r="$(ratio "$GW_RPS" "$NGINX_RPS")" 'BEGIN {print (r >= 0.8)}')")
  gateway /admin/echo (CF)     $ADMIN_RPS req/s   [$(all_rps admin_rps)]  target >= 10000: $(verdict "$((ADMIN_RPS >= 10000))")
    / public                   $(ratio "$ADMIN_RPS" "$GW_RPS")   target >= 0.7: $(verdict "$(awk -v r="$(ratio "$ADMIN_RPS" "$GW_RPS")" 'BEGIN {print (r >= 0.7)}')")
  gateway /aws/echo (SigV4)    $AWS_RPS req/s   [$(all_rps aws_rps)]
    / public                   $(ratio "$AWS_RPS" "$GW_RPS")   target >= 0.7: $(verdict "$(awk -v r="$(ratio "$AWS_RPS" "$GW_RPS")" 'BEGIN {print (r >= 0.7)}')")
latency at ~$LAT_RPS req/s (hey -c 10 -q 100), median of $ROUNDS rounds   p50 ms    p99 ms
  nginx directly                               $D50     $D99
  through Go's bare httputil.ReverseProxy      $B50     $B99
  through nginx proxy_pass (keepalive)         $N50     $N99
  through the gateway (/up -> nginx)           $P50     $P99
  added by Go's bare httputil.ReverseProxy     $(sub "$B50" "$D50")     $(sub "$B99" "$D99")
  added by nginx as a reverse proxy            $(sub "$N50" "$D50")     $(sub "$N99" "$D99")
  added by the gateway                         $A50     $A99   target p99 <= 1 ms: $(verdict "$(awk -v a="$A99" 'BEGIN {print (a <= 1.0)}')")
EOF
