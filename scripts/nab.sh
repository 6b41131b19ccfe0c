#!/usr/bin/env bash
# nab.sh: scores the quality domain's health detector on the Numenta Anomaly Benchmark with
# NAB's own scorer, beside the detectors NAB publishes, in one run (docs/quality.md).
#
#   scripts/nab.sh [NAB git dir or URL]
#
# The NAB tree (data, labels, results, config and the scorer) is copied into .bench/nab from a
# git mirror (default /work/.mirror/numenta+NAB/repo, else https://github.com/numenta/NAB).
# NAB's scorer needs pandas: Debian's python3-pandas (/usr/bin/python3) works; PyPI is not used.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
src=${1:-/work/.mirror/numenta+NAB/repo}
[ -e "$src" ] || src=https://github.com/numenta/NAB
bench=$root/.bench/nab
py=${NAB_PYTHON:-/usr/bin/python3}
if [ ! -f "$bench/run.py" ]; then
  rm -rf "$bench.tmp" && mkdir -p "$bench.tmp"
  if [ -d "$src" ] && git --git-dir="$src" rev-parse HEAD >/dev/null 2>&1; then
    git --git-dir="$src" archive HEAD run.py nab config data labels results | tar -x -C "$bench.tmp"
    git --git-dir="$src" rev-parse HEAD >"$bench.tmp/COMMIT"
  else
    git clone --depth 1 "$src" "$bench.tmp/clone"
    (cd "$bench.tmp/clone" && tar -c run.py nab config data labels results) | tar -x -C "$bench.tmp"
    git -C "$bench.tmp/clone" rev-parse HEAD >"$bench.tmp/COMMIT" && rm -rf "$bench.tmp/clone"
  fi
  cp "$bench.tmp/results/final_results.json" "$bench.tmp/published_final_results.json"
  rm -rf "$bench" && mv "$bench.tmp" "$bench"
fi
"$py" -c 'import pandas' 2>/dev/null || { echo "nab.sh: $py lacks pandas (apt-get install python3-pandas)" >&2; exit 1; }
rm -rf "$bench/results/meshwork" "$bench/results/meshworkHealth"
# meshwork: package change; meshworkHealth: the health the service publishes (cmd/quality-nab).
(cd "$root/domains/quality" && go build -o "$bench/quality-nab" ./cmd/quality-nab)
"$bench/quality-nab" --data "$bench/data" --windows "$bench/labels/combined_windows.json" --out "$bench/results/meshwork"
"$bench/quality-nab" --detector health --data "$bench/data" --windows "$bench/labels/combined_windows.json" \
  --out "$bench/results/meshworkHealth"
# NAB's scorer: meshwork's threshold is optimised by NAB's own optimiser, as for every detector
# NAB publishes; the published ones are re-scored at their recorded thresholds in the same run.
(cd "$bench" && "$py" run.py -d meshwork,meshworkHealth --optimize --score --normalize --skipConfirmation)
(cd "$bench" && "$py" run.py -d numenta,windowedGaussian,bayesChangePt,random,null --score --normalize --skipConfirmation)
"$py" - "$bench/results/final_results.json" "$bench/published_final_results.json" <<'PY'
import json, sys
run, pub = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
print("| detector | standard | reward_low_FP_rate | reward_low_FN_rate | published standard |")
print("|---|---|---|---|---|")
for d in ["meshwork", "meshworkHealth", "numenta", "windowedGaussian", "bayesChangePt", "random", "null"]:
    r = run.get(d, {})
    print("| %s | %.1f | %.1f | %.1f | %s |" % (d, r.get("standard", float("nan")), r.get("reward_low_FP_rate", float("nan")),
          r.get("reward_low_FN_rate", float("nan")), "%.1f" % pub[d]["standard"] if d in pub else "—"))
PY
