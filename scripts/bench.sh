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

echo "== files: store with AES-256-GCM vs a no-op cipher (16 MiB files, FerretDB)"
cd "$top/domains/files"
go test -run '^$' -bench 'Store' -count 5 -benchtime 5x ./mongo >"$out/files.txt"
"$top/bin/benchstat" "$out/files.txt"

echo "== quality: incremental Hampel vs naive sort per window"
cd "$top/domains/quality"
go test -run '^$' -bench . -benchtime 2s -count 3 ./readings >"$out/quality-kernel.txt"
"$top/bin/benchstat" "$out/quality-kernel.txt"

echo "== quality: raw -> clean on embedded NATS and Postgres (sustained; default GC vs the service's)"
go test -run '^$' -bench 'DurableRawToClean/direct' -benchtime 200000x -count 3 ./postgres >"$out/quality-path.txt"
go test -run '^$' -bench 'DurableRawToClean/outbox|DurableLatency' -benchtime 40000x ./postgres >>"$out/quality-path.txt"
"$top/bin/benchstat" "$out/quality-path.txt"

echo "== logistics: PlanRoute (ALT, A*) vs Dijkstra"
cd "$top/domains/logistics"
go test -run '^$' -bench 'PlanRoute' -benchtime 2048x -count 3 ./route >"$out/logistics.txt"
"$top/bin/benchstat" "$out/logistics.txt"

echo "== logistics: travel matrix (GetTravelMatrix) vs n² PlanRoute searches"
go test -run '^$' -bench 'TravelMatrix' -count 3 ./route >"$out/logistics-matrix.txt"
"$top/bin/benchstat" "$out/logistics-matrix.txt"

echo "== scheduling: 500 jobs for 30 engineers, local search vs greedy"
cd "$top/domains/scheduling"
go test -run '^$' -bench 'Plan500' -benchtime 3x -count 3 ./job >"$out/scheduling.txt"
"$top/bin/benchstat" "$out/scheduling.txt"
