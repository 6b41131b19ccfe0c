#!/usr/bin/env bash
# proto-check: buf lint, buf breaking against main, and drift of contracts/gen/go.
# The breaking baseline is main; on main itself (CI on a clone of main) it is the previous commit.
set -euo pipefail
top=$(git rev-parse --show-toplevel)
cd "$top/contracts"
BUF="$top/bin/buf"

"$BUF" lint

base=${PROTO_BASE:-main}
if ! git rev-parse -q --verify "$base^{commit}" >/dev/null; then
  base=HEAD
fi
if [ "$(git rev-parse "$base")" = "$(git rev-parse HEAD)" ]; then
  base=HEAD~1
fi
if git rev-parse -q --verify "$base^{commit}" >/dev/null && git cat-file -e "$base:contracts/buf.yaml" 2>/dev/null; then
  echo "buf breaking against $base"
  "$BUF" breaking --against "$top/.git#ref=$(git rev-parse "$base"),subdir=contracts"
else
  echo "buf breaking: no contracts at $base yet, nothing to compare"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r gen "$tmp/committed"
rm -rf gen/go && "$BUF" generate
if ! diff -r "$tmp/committed" gen >/dev/null; then
  diff -r "$tmp/committed" gen | head -40
  rm -rf gen && cp -r "$tmp/committed" gen
  echo "proto-check: contracts/gen/go is out of date with contracts/proto; run 'make proto' and commit" >&2
  exit 1
fi
echo "proto-check: ok"
