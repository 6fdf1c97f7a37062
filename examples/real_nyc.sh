#!/usr/bin/env bash
# The honest run on public real data (NYC, KXHIGHNY): reproduces the README's "Real data" numbers.
#
#   1. Dec 2025 - Jan 2026: import the top-of-book log, the market list and the NWS CLI highs
#      with our importers, run ingest and features (market features only), then a short-window
#      walk-forward of ridge and elastic net, scored per window against the market.
#   2. Apr - Aug 2025: how reliable is the market's own last trade price, 100 events.
#
# Usage, from a clone with ../shared beside it, after `pip install -e .`:
#
#   examples/real_nyc.sh
#
# Environment (all optional):
#   TMAXEDGE_REAL_DATA   folder of the real files   (default: ../shared/data/real, from the repo)
#   TMAXEDGE_REAL_OUT    results (tables, reports)  (default: runs/real_nyc, gitignored)
#   TMAXEDGE_REAL_WORK   keep the imported tables, features and predictions here
#                        (default: a temporary folder outside the repo, removed at the end)
#   RIDGE_TRIALS, ELASTICNET_TRIALS   Optuna trials per (window, bracket) (default: params.yaml's)
#   PYTHON               the interpreter tmaxedge is installed in (default: python)
#
# The real files have no licence: nothing here copies them into the repo. Intermediate tables go to
# the temporary work folder; only results are written under TMAXEDGE_REAL_OUT.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
REAL="${TMAXEDGE_REAL_DATA:-../shared/data/real}"
OUT="${TMAXEDGE_REAL_OUT:-runs/real_nyc}"

BOOK="jetpackjules_kalshi_trader/kxhighny_top_of_book_2025-12-04_2026-01-03.parquet"
CLI="ericzzhang27_kalshi_weather_trading/knyc_cli_daily_subset.csv"
MARKETS_DEC="normalized/markets_nyc_2025-12_2026-01.parquet"
MARKETS_SUMMER="normalized/markets_nyc_2025-04_2025-08.parquet"
TRADES_SUMMER="normalized/quotes_nyc_2025-04_2025-08_tradeprice_only.parquet"
SETTLEMENTS="normalized/settlements_nyc_cli.csv"  # the CLI highs of $CLI as a contract table

for file in "$BOOK" "$CLI" "$MARKETS_DEC" "$MARKETS_SUMMER" "$TRADES_SUMMER" "$SETTLEMENTS"; do
  if [[ ! -f "$REAL/$file" ]]; then
    echo "real_nyc.sh: $REAL/$file not found;" \
      "set TMAXEDGE_REAL_DATA to the folder of PROVENANCE.md" >&2
    exit 1
  fi
done
PYTHON="${PYTHON:-python}"
if ! command -v tmaxedge >/dev/null || ! "$PYTHON" -c "import tmaxedge" 2>/dev/null; then
  echo "real_nyc.sh: tmaxedge is not installed for $PYTHON; run 'pip install -e .' in $REPO" \
    "(in the environment this script runs in) first" >&2
  exit 1
fi

REAL="$(cd "$REAL" && pwd)"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
if [[ -n "${TMAXEDGE_REAL_WORK:-}" ]]; then
  mkdir -p "$TMAXEDGE_REAL_WORK"
  WORK="$(cd "$TMAXEDGE_REAL_WORK" && pwd)"
else
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/tmaxedge_real_nyc.XXXXXX")"
  trap 'rm -rf "$WORK"' EXIT
fi
inputs() { "$PYTHON" "$REPO/examples/real_nyc_inputs.py" "$@"; }
trials=()
[[ -n "${RIDGE_TRIALS:-}" ]] && trials+=(--ridge-trials "$RIDGE_TRIALS")
[[ -n "${ELASTICNET_TRIALS:-}" ]] && trials+=(--elasticnet-trials "$ELASTICNET_TRIALS")

# the code the numbers came from (the working tree may hold uncommitted changes); read-only git,
# without the optional index lock, so it never disturbs a git command running beside it
{ git -C "$REPO" rev-parse HEAD && git -C "$REPO" --no-optional-locks status --short; } \
  > "$OUT/code_state.txt" 2>&1 || true

echo "== 1/2  NYC Dec 2025 - Jan 2026: import, ingest, features, walk-forward (work folder $WORK)"
cd "$WORK"
rm -rf external raw features features_live walkforward_live walkforward_all metrics
inputs params "$REPO/params.yaml" params.yaml --source external ${trials[@]+"${trials[@]}"}
inputs book-logs "$REAL/$BOOK" book_logs
inputs iem-cli "$REAL/$CLI" cli_iem.csv
# No importer reads a market list without its API response; the normalized markets table (tickers
# of the book log, strikes from the tickers, results from the CLI) is already a contract table,
# and the imports below check it (strikes, events) as they merge into it.
mkdir -p external
cp "$REAL/$MARKETS_DEC" external/markets.parquet
chmod u+w external/markets.parquet
tmaxedge import orderbook-log book_logs --tz America/Los_Angeles --out external --params params.yaml
tmaxedge import nws-cli cli_iem.csv --city nyc --out external --params params.yaml
printf 'city,ts,temp_f\n' > external/weather.csv  # NYC: no weather features, an empty table
"$PYTHON" "$REPO/stages/ingest.py" external raw metrics/ingest.json
"$PYTHON" "$REPO/stages/features.py" raw features metrics/features.json --n-jobs 1
inputs live-features features raw features_live

# live: rows built on a frozen book dropped (the headline); all: every eligible row, as the
# pipeline would score them
for variant in live all; do
  feature_dir=features_live
  [[ "$variant" == all ]] && feature_dir=features
  tmaxedge plan --features "$feature_dir" --params params.yaml --out "windows_$variant.yaml"
  for model in ridge elasticnet; do
    for bracket in between greater less; do
      tmaxedge walkforward --city nyc --bracket "$bracket" --model "$model" \
        --plan "windows_$variant.yaml" --features "$feature_dir" --oracle raw/oracle.parquet \
        --out "walkforward_$variant" --params params.yaml
    done
  done
done
mkdir -p "$OUT/walkforward"
cp params.yaml windows_live.yaml windows_all.yaml metrics/ingest.json metrics/features.json \
  "$OUT/walkforward/"
tmaxedge study walkforward-scores walkforward_live --out "$OUT/walkforward/live" \
  --title "NYC Dec 2025 - Jan 2026, rows while the book logger ran"
tmaxedge study walkforward-scores walkforward_all --out "$OUT/walkforward/all" \
  --title "NYC Dec 2025 - Jan 2026, every eligible row (frozen book after the logger stopped)"

echo
echo "== 2/2  NYC Apr - Aug 2025: reliability of the last trade price (100 events)"
cd "$REPO"
# 6 h before close is the earliest horizon where trade prices exist for about as many YES as NO
# markets; the second run shows why earlier ones are not used (README "Real data").
summer=(--markets "$REAL/$MARKETS_SUMMER" --quotes "$REAL/$TRADES_SUMMER"
        --settlements "$REAL/$SETTLEMENTS")
tmaxedge study market-reliability "${summer[@]}" --horizons 6,3,1 --out "$OUT/market"
tmaxedge study market-reliability "${summer[@]}" --horizons 12,9,8,7 --out "$OUT/market_early"

echo
echo "Results in $OUT"
