#!/usr/bin/env bash
# Whole-proxy benchmark on loopback, in one run on this machine:
#   upstream     nginx answering a fixed chat completion (the fast upstream)
#   nginx        nginx proxy_pass in front of it, keep-alive to the upstream
#   passthrough  Firebreak's server and relay alone (bench/passthrough.cc)
#   firebreak    `firebreak serve`: the full pipeline, durable audit included
# wrk drives each with the same POST /v1/chat/completions (an allowed prompt),
# once with 1 connection (added latency) and once with many (throughput).
# Usage: bench/proxy-bench.sh [SECONDS] [CONNECTIONS]   (after `make build`)
#        RECEIPTS=false bench/proxy-bench.sh    (without signed receipts)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNECTIONS=${2:-32}
RECEIPTS=${RECEIPTS:-true}
BIN=build/release
for tool in wrk nginx; do
  command -v $tool >/dev/null || { echo "proxy-bench: needs $tool (apt-get install wrk nginx-light)" >&2; exit 2; }
done
[ -x $BIN/firebreak ] && [ -x $BIN/bench/passthrough ] || { echo "proxy-bench: run make build first" >&2; exit 2; }

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for pid in "$work"/*/nginx.pid; do [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
UP=$(free_port); NG=$(free_port); PT=$(free_port); FB=$(free_port)

response='{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Regional shipping volumes rose 4% quarter on quarter, led by container traffic.","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":24,"completion_tokens":17,"total_tokens":41}}'
# Two nginx instances, one worker each: the upstream, and the proxy in front
# of it (as Firebreak has its own process).
nginx_conf() {  # NAME SERVER-BLOCK
  mkdir -p "$work/$1"
  cat > "$work/$1/nginx.conf" <<CONF
worker_processes 1;
pid $work/$1/nginx.pid;
error_log $work/$1/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/$1;
  proxy_temp_path $work/$1;
  keepalive_requests 1000000;
  upstream llm { server 127.0.0.1:$UP; keepalive 128; }
  $2
}
CONF
  nginx -c "$work/$1/nginx.conf" -e "$work/$1/error.log"
}
nginx_conf upstream "server { listen 127.0.0.1:$UP; location / { default_type application/json; return 200 '$response'; } }"
nginx_conf proxy "server { listen 127.0.0.1:$NG; location / { proxy_pass http://llm; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"

$BIN/bench/passthrough "$PT" "http://127.0.0.1:$UP" 1 > "$work/pt.log" &
pids+=($!)
cat > "$work/firebreak.yaml" <<CONF
policy: $PWD/policies/defense-standard.yaml
trust: $PWD/keys/demo/trust.yaml
server: {threads: 1, receipts: $RECEIPTS}   # one I/O thread, as nginx has one worker
upstreams:
  - {name: bench, type: openai, base_url: "http://127.0.0.1:$UP", default: true}
audit: {db: $work/audit.db, durability: group}
alerts:
  targets: {trust_safety: {type: log}, inspector_general: {type: log}, legal_counsel: {type: log}}
CONF
$BIN/firebreak serve --config "$work/firebreak.yaml" --port "$FB" > "$work/fb.log" 2> "$work/fb.err" &
pids+=($!)
for log in "$work/pt.log" "$work/fb.log"; do
  for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.1; done
  grep -q "listening on" "$log" || { echo "proxy-bench: a server did not start" >&2; cat "$work/fb.err" >&2; exit 1; }
done

cat > "$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"gpt-4o","messages":[{"role":"system","content":"You are a careful analyst."},{"role":"user","content":"Summarize open-source reporting on regional shipping trends over the last quarter, with the three main drivers."}]}'
LUA

# Prints "rps p50_us p99_us" for one target and connection count.
measure() {
  local url=$1 connections=$2
  wrk -t1 -c"$connections" -d2s -s "$work/post.lua" "$url" > /dev/null  # warm-up
  wrk -t1 -c"$connections" -d"${DURATION}s" --latency -s "$work/post.lua" "$url" > "$work/wrk.out"
  if grep -q "Non-2xx" "$work/wrk.out"; then
    echo "proxy-bench: $url answered non-2xx:" >&2; cat "$work/wrk.out" >&2; exit 1
  fi
  awk '
    function us(v) { if (v ~ /us$/) return v+0; if (v ~ /ms$/) return (v+0)*1000; if (v ~ /s$/) return (v+0)*1000000; return v }
    /^ +50%/ { p50 = us($2) } /^ +99%/ { p99 = us($2) } /^Requests\/sec/ { rps = $2 }
    END { printf "%d %d %d\n", rps, p50, p99 }' "$work/wrk.out"
}

declare -A rps1 p50 p99 rpsN
for target in upstream nginx passthrough firebreak; do
  case $target in
    upstream) port=$UP ;; nginx) port=$NG ;; passthrough) port=$PT ;; firebreak) port=$FB ;;
  esac
  url="http://127.0.0.1:$port/v1/chat/completions"
  read -r rps1[$target] p50[$target] p99[$target] < <(measure "$url" 1)
  read -r rpsN[$target] _ _ < <(measure "$url" "$CONNECTIONS")
done

echo "proxy-bench: wrk -t1, ${DURATION}s per run, loopback, $(nproc) cores; added = target - upstream"
printf "%-12s %10s %10s %12s %12s %14s\n" target "p50 (us)" "p99 (us)" "added p50" "added p99" "rps (c=$CONNECTIONS)"
for target in upstream nginx passthrough firebreak; do
  printf "%-12s %10d %10d %12d %12d %14d\n" "$target" "${p50[$target]}" "${p99[$target]}" \
    $((p50[$target] - p50[upstream])) $((p99[$target] - p99[upstream])) "${rpsN[$target]}"
done
nginx_added=$((p99[nginx] - p99[upstream]))
fb_added=$((p99[firebreak] - p99[upstream]))
awk -v fa="$fb_added" -v na="$nginx_added" -v fr="${rpsN[firebreak]}" -v nr="${rpsN[nginx]}" 'BEGIN {
  printf "firebreak / nginx: added p99 %.2fx (target <= 1.5x), throughput %.0f%% (target >= 70%%)\n",
         (na > 0 ? fa / na : 0), 100 * fr / nr }'
records=$($BIN/firebreak audit verify --db "$work/audit.db" 2>&1 | head -1)
echo "audit trail after the run: $records"
