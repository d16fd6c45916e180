#!/usr/bin/env bash
# Instructions per operation of the library's benchmarks, counted by
# valgrind's callgrind: unlike time, the count does not move with the other
# tenants of a shared machine, so a change of 1% shows. Each benchmark runs
# twice, N1 and N2 operations (2000 and 6000), with the garbage collector off
# and one thread, and the difference of the two totals divided by N2-N1
# cancels the test binary's start-up. Valgrind does not run SHA-NI, so the
# HMAC of a delivery counts as the portable SHA-1 it falls back to.
#
#   bench/instructions.sh                  # needs valgrind (Debian: apt-get install valgrind)
#   bench/instructions.sh 'BenchmarkDecode/^json/library$'
#   REF=HEAD~1 bench/instructions.sh      # beside the same benchmarks at another commit
set -euo pipefail
cd "$(dirname "$0")/.."
n1=${N1:-2000} n2=${N2:-6000}
benches=("$@")
if [ ${#benches[@]} -eq 0 ]; then
  benches=('BenchmarkDecode/^json/library$' 'BenchmarkDecode/^form/library$'
    'BenchmarkDelivery/^json/library$' 'BenchmarkDelivery/^form/library$'
    'BenchmarkDelivery/^json/floor$' 'BenchmarkDelivery/^json/handwritten$')
fi
tmp=$(mktemp -d)
trap 'git worktree remove --force "$tmp/ref" 2>/dev/null || true; rm -rf "$tmp"' EXIT

builds=(work)
go test -c -o "$tmp/work.test" .
if [ -n "${REF:-}" ]; then
  git worktree add -q --detach "$tmp/ref" "$REF"
  (cd "$tmp/ref" && go test -c -o "$tmp/ref.test" .)
  builds=(ref work)
fi

# total BINARY BENCH N prints the instructions of one run. Callgrind fails
# an assertion on the signals of Go's asynchronous preemption, hence
# asyncpreemptoff; a run that leaves no totals all the same is tried again.
total() {
  local n
  for _ in 1 2 3; do
    rm -f "$tmp/out"
    GOGC=off GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file="$tmp/out" \
      "$tmp/$1.test" -test.run '^$' -test.bench "$2" -test.benchtime "${3}x" -test.cpu 1 >/dev/null 2>&1 || true
    n=$(callgrind_annotate "$tmp/out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
    if [ -n "$n" ]; then
      echo "$n"
      return
    fi
  done
  echo "bench/instructions.sh: valgrind gave no count for $2 ($1, ${3}x)" >&2
  exit 1
}

printf '%-36s %8s %14s\n' benchmark build "instructions/op"
for bench in "${benches[@]}"; do
  for build in "${builds[@]}"; do
    a=$(total "$build" "$bench" "$n1")
    b=$(total "$build" "$bench" "$n2")
    printf '%-36s %8s %14d\n' "$bench" "${REF:+$build}" $(((b - a) / (n2 - n1)))
  done
done
