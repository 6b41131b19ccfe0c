#!/usr/bin/env bash
# bench: the benchmarks behind docs/benchmarks.md. Each compares against a baseline measured in
# the same run (raw nats.go, direct publish...), because these machines are noisy: read ratios,
# not absolute figures. COUNT sets repetitions (default 8); results land in .bench/.
set -euo pipefail
top=$(git rev-parse --show-toplevel)
count=${COUNT:-8}
out="$top/.bench"
mkdir -p "$out"
make -C "$top" -s bin/benchstat >/dev/null 2>&1 || make -C "$top" tools
cd "$top/platform"

echo "== data-product SDK vs raw nats.go (256-byte payloads, embedded NATS)"
go test -run '^$' -bench 'BenchmarkPublishAsync|BenchmarkConsume' -count "$count" ./dataproduct/ >"$out/dataproduct.txt"
"$top/bin/benchstat" -col /impl "$out/dataproduct.txt"

echo "== token verification (auth)"
go test -run '^$' -bench 'BenchmarkVerify' -benchmem -count "$count" ./auth/ >"$out/auth.txt"
"$top/bin/benchstat" "$out/auth.txt"

echo "== outbox relay vs direct publish"
go test -run '^$' -bench 'BenchmarkRelay' -count 3 ./outbox/ >"$out/outbox.txt"
"$top/bin/benchstat" "$out/outbox.txt"

echo "== identity: argon2id verify vs minimal parameters; login; token issuing"
cd "$top/domains/identity"
go test -run '^$' -bench 'BenchmarkVerify|BenchmarkLogin|BenchmarkIssue' -benchmem -count 3 ./password/ ./cmd/identity/ ./token/ >"$out/identity.txt"
"$top/bin/benchstat" "$out/identity.txt"
