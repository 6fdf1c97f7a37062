"""How good is the market's own price? Scores and reliability of the last trade before close.

Pure functions on the contract tables (``markets``, ``quotes``, optional ``settlements``); the
command ``tmaxedge study market-reliability`` reads the files and writes what these return.

The market's forecast of a market at horizon ``h`` is its last trade price at or before
``close_time - h``. Quote rows are stamped at the END of their minute, so a row stamped at or
before the cutoff holds only trades made before it: no forecast uses a later trade. A market
without such a row has no forecast at ``h`` and is left out. The coverage columns count what was
left out separately for markets that resolved YES and NO: when coverage depends on the outcome
(a source that kept only each market's newest trades, say), every score at that horizon is
biased, and the tables flag it.

Markets of one event are not independent (exactly one resolves YES), so standard errors of
scores are clustered by event; the per-bucket binomial errors treat markets as independent, which
within a cheap bucket (several longshots of one event, at most one of them YES) overstates the
error rather than understating it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from tmaxedge.core import strikes
from tmaxedge.core.errors import DataError, data_error
from tmaxedge.core.probability import brier, log_loss
from tmaxedge.inputs import contract
from tmaxedge.inputs.ingest import check_schema, coerce_table
from tmaxedge.modeling.scoring import reliability

DEFAULT_HORIZONS_HOURS = (6.0, 3.0, 1.0)
BUCKET_CENTS = 10
LONGSHOT_BELOW_CENTS = 20
FAVOURITE_ABOVE_CENTS = 80
Z_95 = 1.959963984540054
# coverage of YES and of NO markets differing by more than this marks a horizon as biased
MAX_COVERAGE_GAP = 0.05
_ONE_QUOTE = "must be unique (duplicate (ticker, ts) rows disagree, so the last trade is ambiguous)"
_RESULT = "must agree with the settlement when both are present (YES rule on settlements.tmax_f)"
_NO_PRICES = "must hold last trade prices; it is null in every row, and this study needs them"
_ONE_HIGH = "must be unique (conflicting official highs for one city-day)"
_NO_LABELS = "must be 'yes' or 'no' for some market (or pass settlements to label them)"


# --- inputs ------------------------------------------------------------------------------------


def contract_table(frame: pd.DataFrame, table: str, where: str) -> pd.DataFrame:
    """``frame`` in the contract's columns and dtypes, exact repeats dropped, schema checked."""
    typed, _ = coerce_table(frame, table, where)
    typed = typed[~contract.exact_duplicates(typed, contract.KEYS[table])]
    check_schema(typed, table, where)
    return typed


def check_quotes(quotes: pd.DataFrame, where: str) -> None:
    """The quote rules this study needs beyond the schema: one row per (ticker, ts), prices."""
    clash = contract.conflicting_duplicates(quotes, contract.KEYS["quotes"])
    if len(clash):
        raise data_error(where, "ticker, ts", _ONE_QUOTE, clash, len(quotes))
    if quotes["price"].notna().sum() == 0:
        raise data_error(where, "price", _NO_PRICES, quotes, len(quotes))


def check_settlements(settlements: pd.DataFrame, where: str) -> None:
    """One official high per (city, date), or a market's label would be ambiguous."""
    clash = contract.conflicting_duplicates(settlements, contract.KEYS["settlements"])
    if len(clash):
        raise data_error(where, "city, date", _ONE_HIGH, clash, len(settlements))


def labelled_markets(
    markets: pd.DataFrame, settlements: pd.DataFrame | None, where: str
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Markets with ``y`` (1 = YES) from Kalshi's ``result``, checked against the settlements.

    With ``settlements``: a result that disagrees with the official high is a DataError, and a
    null result takes the settlement's answer (counted: ``n_labelled_from_settlements``).
    Markets left without a label are dropped (``n_markets_unlabelled``).
    """
    result = markets["result"].astype(object)
    n_filled = 0
    if settlements is not None:
        wrong = contract.results_disagreeing(markets, settlements)
        if len(wrong):
            raise data_error(where, "result", _RESULT, wrong, len(markets))
        settled = markets.merge(
            settlements.rename(columns={"date": "event_date"}),
            on=["city", "event_date"],
            how="left",
        )
        yes = strikes.resolves_yes(
            settled["strike_type"],
            settled["floor_strike"],
            settled["cap_strike"],
            settled["tmax_f"],
        )
        expected = pd.Series(np.where(yes, "yes", "no"), index=markets.index)
        fill = result.isna() & settled["tmax_f"].notna().to_numpy()
        result = result.where(~fill, expected)
        n_filled = int(fill.sum())
    labelled = result.notna()
    if not labelled.any():
        raise data_error(where, "result", _NO_LABELS, markets, len(markets))
    frame = markets[labelled.to_numpy()].assign(y=(result[labelled] == "yes").astype(int))
    counts = {
        "n_markets": len(markets),
        "n_labelled_from_settlements": n_filled,
        "n_markets_unlabelled": int((~labelled).sum()),
    }
    return frame.reset_index(drop=True), counts


# --- the forecast at each horizon --------------------------------------------------------------


def last_trade_prices(
    markets: pd.DataFrame, quotes: pd.DataFrame, horizons_hours: Sequence[float]
) -> pd.DataFrame:
    """One row per (horizon, labelled market): the last trade at or before ``close - h``.

    Columns: horizon_h, ticker, event_ticker, y, cutoff, price_cents (NA without a trade by
    then), trade_ts and age_minutes (cutoff - trade_ts).
    """
    trades = quotes.loc[quotes["price"].notna(), ["ticker", "ts", "price"]]
    trades = trades.rename(columns={"ts": "trade_ts", "price": "price_cents"})
    trades = trades.sort_values("trade_ts", kind="mergesort")
    base = markets[["ticker", "event_ticker", "y", "close_time"]]
    frames = []
    for hours in horizons_hours:
        wanted = base.assign(
            horizon_h=float(hours), cutoff=base["close_time"] - pd.Timedelta(hours=hours)
        )
        wanted = wanted.assign(_order=np.arange(len(wanted)))
        wanted = wanted.sort_values("cutoff", kind="mergesort")
        found = pd.merge_asof(
            wanted, trades, left_on="cutoff", right_on="trade_ts", by="ticker", direction="backward"
        )
        frames.append(found.sort_values("_order", kind="mergesort"))
    prices = pd.concat(frames, ignore_index=True)
    prices["age_minutes"] = (prices["cutoff"] - prices["trade_ts"]).dt.total_seconds() / 60
    columns = [
        "horizon_h",
        "ticker",
        "event_ticker",
        "y",
        "cutoff",
        "price_cents",
        "trade_ts",
        "age_minutes",
    ]
    return prices[columns]


def priced(prices: pd.DataFrame) -> pd.DataFrame:
    """The rows with a trade price, with ``p`` = price / 100."""
    rows = prices[prices["price_cents"].notna()]
    return rows.assign(p=rows["price_cents"].to_numpy(float) / 100)


# --- statistics --------------------------------------------------------------------------------


def wilson_interval(k: np.ndarray, n: np.ndarray, z: float = Z_95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial rate ``k / n`` (NaN where ``n`` is 0)."""
    k, n = np.asarray(k, float), np.asarray(n, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = k / n
        centre = (rate + z**2 / (2 * n)) / (1 + z**2 / n)
        half = z / (1 + z**2 / n) * np.sqrt(rate * (1 - rate) / n + z**2 / (4 * n**2))
    # clipped: at k = 0 or k = n the bounds are 0 or 1 up to rounding
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def binomial_se(k: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Standard error sqrt(r (1 - r) / n) of the rate ``r = k / n`` (NaN where ``n`` is 0)."""
    k, n = np.asarray(k, float), np.asarray(n, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = k / n
        return np.sqrt(rate * (1 - rate) / n)


def clustered_se(values: np.ndarray, clusters: np.ndarray) -> float:
    """Cluster-robust (CR1) standard error of ``mean(values)``, clusters being independent.

    ``sqrt(G / (G - 1) * sum_g (sum_{i in g} (v_i - mean))^2) / n`` for G clusters; with one
    observation per cluster it is the usual ``sd / sqrt(n)``. NaN with fewer than two clusters.
    """
    values = np.asarray(values, float)
    if len(values) == 0:
        return float("nan")
    sums = pd.Series(values - values.mean()).groupby(np.asarray(clusters)).sum().to_numpy()
    g = len(sums)
    if g < 2:
        return float("nan")
    return float(np.sqrt(g / (g - 1) * np.sum(sums**2)) / len(values))


# --- tables ------------------------------------------------------------------------------------


def horizon_scores(prices: pd.DataFrame) -> pd.DataFrame:
    """Per horizon: coverage (by outcome), Brier with its event-clustered SE, log loss.

    ``brier_base_rate`` is the Brier of a constant forecast equal to the priced markets' YES
    rate (in-sample, so a flattering reference): what a forecaster knowing only "one bin in six"
    scores. ``biased`` marks horizons whose YES and NO coverage differ by more than
    ``MAX_COVERAGE_GAP``.
    """
    rows = []
    for hours, part in prices.groupby("horizon_h", sort=False):
        has_price = part["price_cents"].notna()
        cover = has_price.groupby(part["y"]).mean()
        used = priced(part)
        y, p = used["y"].to_numpy(float), used["p"].to_numpy(float)
        row = {
            "horizon_h": hours,
            "n_markets": len(part),
            "n_events": part["event_ticker"].nunique(),
            "n_priced": int(has_price.sum()),
            "n_events_priced": used["event_ticker"].nunique(),
            "coverage_yes": float(cover.get(1, np.nan)),
            "coverage_no": float(cover.get(0, np.nan)),
        }
        row["biased"] = bool(abs(row["coverage_yes"] - row["coverage_no"]) > MAX_COVERAGE_GAP)
        if len(used):
            row.update(
                brier=brier(y, p),
                brier_se=clustered_se((p - y) ** 2, used["event_ticker"].to_numpy()),
                log_loss=log_loss(y, p),
                brier_base_rate=brier(y, np.full(len(y), y.mean())),
                median_age_minutes=float(used["age_minutes"].median()),
            )
        rows.append(row)
    return pd.DataFrame(rows)


def reliability_table(prices: pd.DataFrame, bucket_cents: int = BUCKET_CENTS) -> pd.DataFrame:
    """Per horizon and price bucket: mean price, observed YES rate, count, SE, Wilson interval.

    Buckets are ``[lower, upper)`` cents (the last one includes 100); empty buckets are left out.
    """
    if 100 % bucket_cents:
        raise ValueError(f"bucket_cents must divide 100; got {bucket_cents}.")
    tables = []
    for hours, part in priced(prices).groupby("horizon_h", sort=False):
        y, p = part["y"].to_numpy(float), part["p"].to_numpy(float)
        table = reliability(y, p, n_bins=100 // bucket_cents)
        table = table[table["n"] > 0]
        k = table["y_rate"].to_numpy() * table["n"].to_numpy()
        low, high = wilson_interval(k, table["n"].to_numpy())
        tables.append(
            pd.DataFrame(
                {
                    "horizon_h": hours,
                    "lower_cents": np.round(table["lower"].to_numpy() * 100).astype(int),
                    "upper_cents": np.round(table["upper"].to_numpy() * 100).astype(int),
                    "n": table["n"].to_numpy(),
                    "mean_price": table["p_mean"].to_numpy() * 100,
                    "yes_rate": table["y_rate"].to_numpy() * 100,
                    "se": binomial_se(k, table["n"].to_numpy()) * 100,
                    "wilson_low": low * 100,
                    "wilson_high": high * 100,
                }
            )
        )
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def longshot_table(
    prices: pd.DataFrame,
    below_cents: int = LONGSHOT_BELOW_CENTS,
    above_cents: int = FAVOURITE_ABOVE_CENTS,
) -> pd.DataFrame:
    """The favourite-longshot check per horizon: cheap (< below) and dear (> above) contracts.

    ``gap`` = mean price - observed YES rate, in cents: positive = the contracts are overpriced
    (YES is bought too dear). ``verdict`` says whether the Wilson interval of the rate excludes
    the mean price.
    """
    rows = []
    for hours, part in priced(prices).groupby("horizon_h", sort=False):
        sides = {
            f"< {below_cents}c": part["price_cents"] < below_cents,
            f"> {above_cents}c": part["price_cents"] > above_cents,
        }
        for side, chosen in sides.items():
            used = part[chosen.to_numpy(bool)]
            n, k = len(used), int(used["y"].sum())
            mean_price = float(used["p"].mean() * 100) if n else np.nan
            low, high = (float(v) * 100 for v in wilson_interval(k, n))
            rows.append(
                {
                    "horizon_h": hours,
                    "side": side,
                    "n": n,
                    "n_yes": k,
                    "mean_price": mean_price,
                    "yes_rate": 100 * k / n if n else np.nan,
                    "wilson_low": low,
                    "wilson_high": high,
                    "gap": mean_price - 100 * k / n if n else np.nan,
                    "verdict": longshot_verdict(mean_price, low, high),
                }
            )
    return pd.DataFrame(rows)


def longshot_verdict(mean_price: float, low: float, high: float) -> str:
    """'overpriced' or 'underpriced' when the rate's interval excludes the price, else 'consistent'.

    Overpriced means YES resolves less often than its price says: the interval lies below it.
    """
    if np.isnan(mean_price):
        return "no contracts"
    if high < mean_price:
        return "overpriced"
    if low > mean_price:
        return "underpriced"
    return "consistent"


def study(
    markets: pd.DataFrame,
    quotes: pd.DataFrame,
    settlements: pd.DataFrame | None,
    horizons_hours: Sequence[float],
    where: Mapping[str, str],
) -> dict:
    """The whole study on checked contract tables; ``where`` names each table's file."""
    if not horizons_hours or min(horizons_hours) <= 0:
        hours = list(horizons_hours)
        raise DataError(f"horizons must be positive hours before close; got {hours}.")
    check_quotes(quotes, where["quotes"])
    if settlements is not None:
        check_settlements(settlements, where["settlements"])
    labelled, counts = labelled_markets(markets, settlements, where["markets"])
    known = quotes["ticker"].isin(labelled["ticker"].unique())
    counts["n_quote_rows_of_other_markets"] = int((~known).sum())
    counts["n_events"] = int(labelled["event_ticker"].nunique())
    counts["first_event"] = str(labelled["event_date"].min())
    counts["last_event"] = str(labelled["event_date"].max())
    prices = last_trade_prices(labelled, quotes[known.to_numpy()], horizons_hours)
    return {
        "counts": counts,
        "prices": prices,
        "scores": horizon_scores(prices),
        "reliability": reliability_table(prices),
        "longshot": longshot_table(prices),
    }


# --- the report section ------------------------------------------------------------------------


def markdown_table(frame: pd.DataFrame, digits: Mapping[str, int]) -> str:
    """A GitHub markdown table; ``digits`` gives the decimals of float columns (default 3)."""

    def cell(column: str, value) -> str:
        if isinstance(value, float | np.floating):
            return "" if np.isnan(value) else f"{value:.{digits.get(column, 3)}f}"
        return str(value)

    def line(cells) -> str:
        return "| " + " | ".join(cells) + " |"

    rows = [
        line(cell(c, v) for c, v in zip(frame.columns, row, strict=True))
        for row in frame.itertuples(index=False)
    ]
    return "\n".join(
        [line(frame.columns), "|" + "|".join("---:" for _ in frame.columns) + "|", *rows]
    )


SCORE_DIGITS = {
    "horizon_h": 1,
    "coverage_yes": 3,
    "coverage_no": 3,
    "brier": 4,
    "brier_se": 4,
    "log_loss": 4,
    "brier_base_rate": 4,
    "median_age_minutes": 0,
}
CENT_DIGITS = {
    "horizon_h": 1,
    "mean_price": 1,
    "yes_rate": 1,
    "se": 1,
    "wilson_low": 1,
    "wilson_high": 1,
    "gap": 1,
}


def markdown_section(result: dict, sources: Mapping[str, str]) -> str:
    """The report section: what was measured, on what, and the three tables."""
    counts, scores = result["counts"], result["scores"]
    biased = scores.loc[scores["biased"], "horizon_h"].tolist()
    warning = (
        f"\n**Horizons {biased} are biased**: a trade price is missing for a different share of "
        "YES than of NO markets there, so their scores and buckets describe a selected sample.\n"
        if biased
        else ""
    )
    sample = (
        f"{counts['n_events']} events ({counts['first_event']} .. {counts['last_event']}), "
        f"{counts['n_markets']} markets ({counts['n_markets_unlabelled']} without a result left "
        f"out, {counts['n_labelled_from_settlements']} labelled from the settlements)."
    )
    source_lines = "\n".join(f"- {name}: `{path}`" for name, path in sources.items())
    return f"""## Market reliability: the last trade price as a forecast

{sample} The forecast at horizon h is each market's last trade at or before close − h; markets
without one are left out (coverage below, by outcome). The Brier SE is clustered by event.

{source_lines}
{warning}
### Scores by horizon (hours before close)

{markdown_table(scores, SCORE_DIGITS)}

### Reliability by {BUCKET_CENTS}-cent price bucket (cents; 95% Wilson interval of the YES rate)

{markdown_table(result["reliability"], CENT_DIGITS)}

### Favourite-longshot check (gap = mean price − YES rate, cents; + = overpriced)

{markdown_table(result["longshot"], CENT_DIGITS)}
"""
