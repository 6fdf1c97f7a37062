#!/usr/bin/env bash
# The pipeline on real Kalshi trade prints: five cities, 969 complete events (Dec 2023 - Dec 2024),
# through `dvc repro` with the brief's 90/7/7 windows (docs/real-data.md).
#
#   1. clone this repository (at HEAD) into a workspace, so the real run's data, models and
#      metrics never mix with the synthetic default's;
#   2. write the contract tables into the workspace's data/external: markets and settlements
#      from the saved market list (examples/real_trades_inputs.py), the trade prints with
#      `tmaxedge import kalshi-trades`, Visual Crossing's daily forecasts as issued (Austin,
#      Chicago, Denver, Miami; none for New York) with `tmaxedge import vc-forecasts`, an empty
#      weather table (no intraday station observations exist for these days);
#   3. `tmaxedge preset real_trades --apply`, then `dvc repro features && tmaxedge plan &&
#      dvc repro`: every stage, every window, as on the synthetic default.
#
# Usage, from a clone with ../shared beside it, after the README's install:
#
#   examples/real_trades.sh
#
# Environment (all optional):
#   TMAXEDGE_REAL_DATA   folder holding cpratim_trades/ and vc_forecasts/ (default: ../shared/data/real/more)
#   TMAXEDGE_REAL_WORK   the workspace (default: runs/real_trades, gitignored); rerunning the
#                        script there reruns only what changed, as `dvc repro` does
#
# The files have no licence beyond the trade prints' MIT: nothing here copies them into the
# repository; the workspace is outside version control.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
REAL="${TMAXEDGE_REAL_DATA:-../shared/data/real/more}"
WORK="${TMAXEDGE_REAL_WORK:-runs/real_trades}"
if [[ ! -f "$REAL/cpratim_trades/markets_all_with_results.parquet" ]]; then
  echo "real_trades.sh: $REAL/cpratim_trades/markets_all_with_results.parquet not found;" \
    "set TMAXEDGE_REAL_DATA to the folder of the saved files (cpratim_trades/, vc_forecasts/)" >&2
  exit 1
fi
REAL="$(cd "$REAL" && pwd)"

if [[ ! -d "$WORK/.git" ]]; then
  git clone -q "$REPO" "$WORK"
fi
# the code at HEAD; params.yaml, windows.yaml and dvc.lock as committed (the preset and the
# plan are written again below; DVC's cache keeps every output, so a rerun is incremental)
git -C "$WORK" fetch -q "$REPO" HEAD
git -C "$WORK" checkout -q -f FETCH_HEAD
cd "$WORK"
# the workspace's own code, not the installed copy, runs its stages
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"

rm -rf data/external data/kept_trades
python examples/real_trades_inputs.py markets "$REAL/cpratim_trades" data/external
python examples/real_trades_inputs.py trades "$REAL/cpratim_trades" data/external/markets.parquet \
  data/kept_trades
tmaxedge import kalshi-trades data/kept_trades/*_trades.parquet --out data/external
for city in aus:austin chi:chicago den:denver mia:miami; do
  tmaxedge import vc-forecasts "$REAL/vc_forecasts/${city#*:}_forecasts_daily.parquet" \
    --city "${city%%:*}" --out data/external
done
tmaxedge preset real_trades --apply
dvc repro features
tmaxedge plan
dvc repro
echo "Results: $PWD/reports/report.md, $PWD/metrics/"
