#!/usr/bin/env bash
# Throughput of the library's Handler under load, beside a handler that reads
# the body and checks its HMAC, and a bare one that only reads it: wrk, 2
# threads, 32 connections, the documentation's JSON response sample, signed.
# The three are measured in turn, ROUNDS times (15 by default) for
# SECONDS_EACH seconds each (3), the order rotating from round to round so
# that none always follows another; each round's figures are divided by
# that round's bare handler's, which cancels the drift of a shared machine,
# and the medians are printed.
#
#   bench/wrk.sh            # needs wrk (Debian: apt-get install wrk)
#   REF=HEAD~1 bench/wrk.sh # also the Handler at another commit, in the same rounds
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-15} seconds=${SECONDS_EACH:-3}
secret=loadtest-secret
body=${BODY:-testdata/doc-response-created.json} # BODY=file measures another body
tmp=$(mktemp -d)
trap 'kill $server ${refserver:-} 2>/dev/null || true; git worktree remove --force "$tmp/ref" 2>/dev/null || true; rm -rf "$tmp"' EXIT

go build -o "$tmp/loadserver" ./bench/loadserver
receivers=(Handler read+HMAC bare)
declare -A ports=([Handler]=18081 [read+HMAC]=18082 [bare]=18083)
if [ -n "${REF:-}" ]; then
  git worktree add -q --detach "$tmp/ref" "$REF"
  (cd "$tmp/ref" && go build -o "$tmp/refserver" ./bench/loadserver)
  receivers+=("Handler@$REF") ports["Handler@$REF"]=18084
fi
# PIN=1 runs the server on CPU 0 and wrk on CPU 1 (one thread), so that
# they do not contend for the same cores; it needs taskset and two CPUs.
server_cmd=() wrk_cmd=(wrk -t2)
if [ "${PIN:-0}" = 1 ]; then
  server_cmd=(taskset -c 0 env GOMAXPROCS=1) wrk_cmd=(taskset -c 1 wrk -t1)
fi
"${server_cmd[@]}" "$tmp/loadserver" -secret "$secret" &
server=$!
if [ -n "${REF:-}" ]; then
  "${server_cmd[@]}" "$tmp/refserver" -secret "$secret" -handler 127.0.0.1:18084 -hmac 127.0.0.1:18085 -bare 127.0.0.1:18086 &
  refserver=$!
fi
sig=$(go run ./cmd/wootric-webhook sign -secret "$secret" < "$body")
cat > "$tmp/post.lua" <<LUA
local f = io.open("$body", "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Wootric-Signature"] = "$sig"
done = function(summary, latency, requests)
  local non2xx = summary.errors.status
  if non2xx > 0 then io.stderr:write("non-2xx answers: " .. non2xx .. "\n") end
end
LUA
for port in "${ports[@]}"; do
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
done

# The server's CPU time (user + system, in clock ticks) per request is
# steadier than req/s on a shared machine: wrk's share of the cores and the
# host's steal time do not change it.
cputicks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
declare -A runs=() ratios=() cpus=() cpuratios=()
for round in $(seq "$rounds"); do
  declare -A this=() thiscpu=()
  turn=$((round % ${#receivers[@]})) # the round's first receiver
  order=("${receivers[@]:turn}" "${receivers[@]:0:turn}")
  for name in "${order[@]}"; do
    port=${ports[$name]} pid=$server
    [ "$port" = 18084 ] && pid=$refserver
    before=$(cputicks "$pid")
    out=$("${wrk_cmd[@]}" -c32 -d"${seconds}s" -s "$tmp/post.lua" "http://127.0.0.1:$port/")
    after=$(cputicks "$pid")
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    requests=$(echo "$out" | awk '/requests in/ {print $1}')
    cpu=$(echo "($after - $before) * 1000000 / $hz / $requests" | bc -l) # µs a request
    this[$name]=$rps thiscpu[$name]=$cpu
    runs[$name]+="$rps " cpus[$name]+="$cpu "
  done
  line="round $round"
  for name in "${receivers[@]}"; do
    ratio=$(echo "${this[$name]} / ${this[bare]}" | bc -l)
    cpuratio=$(echo "${thiscpu[bare]} / ${thiscpu[$name]}" | bc -l)
    ratios[$name]+="$ratio " cpuratios[$name]+="$cpuratio "
    line+=$(printf '  %s %.0f req/s (%.3f) %.2f µs CPU (%.3f)' "$name" "${this[$name]}" "$ratio" "${thiscpu[$name]}" "$cpuratio")
  done
  echo "$line"
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo
echo "medians of $rounds rounds of ${seconds}s; each ratio is to the bare handler's in the same round:"
echo "req/s, and the bare handler's server CPU time a request divided by the receiver's"
printf '%-18s %12s %8s %14s %8s\n' receiver "req/s" "÷ bare" "CPU µs/req" "bare ÷"
for name in "${receivers[@]}"; do
  printf '%-18s %12.0f %8.3f %14.2f %8.3f\n' "$name" "$(echo "${runs[$name]}" | median)" "$(echo "${ratios[$name]}" | median)" \
    "$(echo "${cpus[$name]}" | median)" "$(echo "${cpuratios[$name]}" | median)"
done
