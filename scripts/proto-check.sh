#!/usr/bin/env bash
# proto-check: buf lint, buf breaking (against main, or on main against the recent history),
# and drift of contracts/gen/go.
set -euo pipefail
top=$(git rev-parse --show-toplevel)
cd "$top/contracts"
BUF="$top/bin/buf"

"$BUF" lint

# Breaking changes: on a branch, against main. On main itself (CI on a clone of main) a
# submission can be several commits, so HEAD is checked against every version of the contracts
# among the last $PROTO_DEPTH commits (default 20): each commit that changed contracts/proto,
# and the version the window starts from.
breaking() {
  if git cat-file -e "$1:contracts/buf.yaml" 2>/dev/null; then
    echo "buf breaking against $(git rev-parse --short "$1")"
    "$BUF" breaking --against "$top/.git#ref=$(git rev-parse "$1"),subdir=contracts"
  fi
}
base=${PROTO_BASE:-main}
if ! git rev-parse -q --verify "$base^{commit}" >/dev/null; then
  base=HEAD
fi
if [ "$(git rev-parse "$base")" != "$(git rev-parse HEAD)" ]; then
  breaking "$base"
else
  depth=${PROTO_DEPTH:-20}
  oldest=$(git rev-list --max-count="$depth" HEAD~1 2>/dev/null | tail -1 || true)
  if [ -z "$oldest" ]; then
    echo "buf breaking: no earlier commit, nothing to compare"
  else
    for ref in $(git rev-list "$oldest..HEAD~1" -- "$top/contracts/proto") "$oldest"; do
      breaking "$ref"
    done
  fi
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
