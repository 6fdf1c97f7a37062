#!/usr/bin/env bash
# The pipeline on saved real Kalshi markets, through `dvc repro` with the brief's 90/7/7 windows
# (docs/real-data.md section 1). DATASET is one of
#
#   trades   five cities' complete trade prints, 969 events, Dec 2023 - Dec 2024, with Visual
#            Crossing's daily forecasts as issued (preset real_trades; about 15 minutes)
#   hourly   hourly bid/ask candles, NYC and Chicago, Nov 2025 - Mar 2026 (preset real_hourly)
#
# Steps, in a workspace clone of this repository at HEAD, so the real run's data, models and
# metrics never mix with the synthetic default's:
#   1. the contract tables into the workspace's data/external (examples/real_markets_inputs.py;
#      for trades also `tmaxedge import kalshi-trades` and `tmaxedge import vc-forecasts`);
#   2. `tmaxedge preset real_DATASET --apply`, then `dvc repro features && tmaxedge plan &&
#      dvc repro`: every stage, every window, as on the synthetic default.
#
# Usage, from a clone with ../shared beside it, after the README's install:
#
#   examples/real_markets.sh [trades|hourly]        (default: trades)
#
# Environment (all optional):
#   TMAXEDGE_REAL_DATA   folder holding cpratim_trades/, vc_forecasts/, sameeres_hourly/
#                        (default: ../shared/data/real/more)
#   TMAXEDGE_REAL_WORK   the workspace (default: runs/real_DATASET, gitignored); rerunning the
#                        script there reruns only what changed, as `dvc repro` does
#
# Most of these files have no licence: nothing here copies them into the repository; the
# workspace is outside version control.
set -euo pipefail

DATASET="${1:-trades}"
case "$DATASET" in
  trades) NEEDS=cpratim_trades/markets_all_with_results.parquet ;;
  hourly) NEEDS=sameeres_hourly ;;
  *) echo "real_markets.sh: DATASET must be trades or hourly, not '$DATASET'" >&2; exit 2 ;;
esac
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
REAL="${TMAXEDGE_REAL_DATA:-../shared/data/real/more}"
WORK="${TMAXEDGE_REAL_WORK:-runs/real_$DATASET}"
if [[ ! -e "$REAL/$NEEDS" ]]; then
  echo "real_markets.sh: $REAL/$NEEDS not found; set TMAXEDGE_REAL_DATA to the folder" \
    "of the saved files (cpratim_trades/, vc_forecasts/, sameeres_hourly/)" >&2
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
inputs() { python examples/real_markets_inputs.py "$@"; }

rm -rf data/external data/kept_trades
if [[ "$DATASET" == trades ]]; then
  inputs markets "$REAL/cpratim_trades" data/external
  inputs trades "$REAL/cpratim_trades" data/external/markets.parquet data/kept_trades
  tmaxedge import kalshi-trades data/kept_trades/*_trades.parquet --out data/external
  for city in aus:austin chi:chicago den:denver mia:miami; do
    tmaxedge import vc-forecasts "$REAL/vc_forecasts/${city#*:}_forecasts_daily.parquet" \
      --city "${city%%:*}" --out data/external
  done
else
  inputs hourly "$REAL/sameeres_hourly" data/external
fi
tmaxedge preset "real_$DATASET" --apply
dvc repro features
tmaxedge plan
dvc repro
echo "Results: $PWD/reports/report.md, $PWD/metrics/"
