"""One walk-forward window, step by step, for every (city, strike type) group in it.

The stages (tune, calibrate, evaluate) and the ``tmaxedge walkforward`` command both call these
functions; they take frames and return results, and the callers do the reading and writing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tmaxedge.core import probability
from tmaxedge.core.errors import ParamsError
from tmaxedge.core.probability import brier
from tmaxedge.features import nowcast, scopes
from tmaxedge.features.build import FEATURE_SETS, MARKET_LOGIT
from tmaxedge.features.event_features import EVENT_COLUMNS
from tmaxedge.features.feature_groups import without_groups
from tmaxedge.modeling import coherence, distribution
from tmaxedge.modeling.calibration import CalibrateParams, calibrate_scores, with_model
from tmaxedge.modeling.cards import Calibrator, ModelCard
from tmaxedge.modeling.pooling import PoolParams, fit_pool_weight, pool_probability, scope_key
from tmaxedge.modeling.scoring import reliability, score
from tmaxedge.modeling.tuning import ModelParams, TuneResult, model_type, thin_rows, tune_group
from tmaxedge.walkforward.windows import WindowParams, plan_window_keys

GROUP_KEYS = ["city", "strike_type"]
PREDICTION_COLUMNS = [
    "model", "window", "city", "bracket", "timestamp", "market_ticker",
    "p_model", "p_market", "y", "spread_cents", "minutes_to_close",
]  # fmt: skip
BOOK_COLUMNS = ["event_ticker", "yes_bid", "yes_ask"]
# p_model is the final forecast; these are the same forecast before pooling and before coherence
STEP_COLUMNS = ["p_unpooled", "p_incoherent"]


BACKENDS = ("loky", "dask", "sequential")


@dataclass(frozen=True)
class ComputeParams:
    """params.yaml ``compute``: how many (city, strike type) jobs run at once, and where.

    ``loky``: ``n_jobs`` processes on this machine. ``dask``: the jobs go to the Dask scheduler
    at ``scheduler_address`` (``tcp://host:8786``), or to a local cluster of ``n_jobs``
    single-threaded worker processes when it is null. ``sequential``: one at a time, here.
    ``study_storage``: where the Optuna studies live (``studies.open_storage``): null keeps
    them in memory; a directory or an RDB URL keeps them so a killed run resumes its trials.
    None of these change a result.
    """

    n_jobs: int = 2
    backend: str = "loky"
    scheduler_address: str | None = None
    study_storage: str | None = None

    def __post_init__(self) -> None:
        if self.n_jobs < 1:
            raise ParamsError(f"n_jobs must be an int >= 1; got {self.n_jobs}.")
        if self.backend not in BACKENDS:
            raise ParamsError(f"backend must be a str among {sorted(BACKENDS)}; got {self.backend!r}.")
        if self.scheduler_address is not None and self.backend != "dask":
            raise ParamsError(
                f"scheduler_address is read only with backend 'dask'; got backend {self.backend!r}."
            )


def window_keys_between(start: dt.date, end: dt.date, params: WindowParams) -> list[str]:
    """Keys of the windows whose whole test period lies in ``[start, end]``, on the plan's grid
    (test starts ``step_days`` apart from ``start``)."""
    return plan_window_keys(start - dt.timedelta(days=params.first_test_offset_days), end, params)


def group_name(city: str, strike_type: str) -> str:
    return f"{city}_{strike_type}"


def model_columns(frame: pd.DataFrame, feature_set: str, extra: list[str] = ()) -> list[str]:
    """The feature set's columns (and the extra features') that carry data in ``frame``: weather
    columns are all null for cities without weather features, a tail has no floor or no cap."""
    if feature_set not in FEATURE_SETS:
        raise ParamsError(
            f"feature_set must be a str among {sorted(FEATURE_SETS)}; got {feature_set!r}."
        )
    wanted = list(FEATURE_SETS[feature_set])
    if "mid_logit" in extra:
        wanted.append(MARKET_LOGIT)
    if "nowcast" in extra:
        wanted += nowcast.COLUMNS
    if "event" in extra:
        wanted += EVENT_COLUMNS
    return [c for c in wanted if frame[c].notna().any()]


def design_matrix(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    return scopes.with_city_columns(frame, columns)[columns].to_numpy(dtype=float, na_value=np.nan)


def strike_of(group: str) -> str:
    return group.rsplit("_", 1)[1]


def groups_of(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Split rows by (city, strike type), in a fixed order."""
    return {
        group_name(city, strike): part.reset_index(drop=True)
        for (city, strike), part in frame.groupby(GROUP_KEYS, sort=True)
    }


def run_jobs(
    function: Callable, jobs: Iterable, compute: ComputeParams, sizes: list[int] | None = None
) -> list:
    """``[function(*job) for job in jobs]``, in parallel processes with one BLAS thread each.

    Results come back in job order whatever the backend, so outputs do not depend on it.
    With ``sizes`` (the work of each job) the largest start first, so the workers finish
    together instead of one waiting on a large job handed out last.
    """
    jobs = list(jobs)
    on_dask = compute.backend == "dask"
    if not on_dask and (compute.backend == "sequential" or compute.n_jobs == 1 or len(jobs) <= 1):
        return [_single_threaded(function, *job) for job in jobs]
    order = sorted(range(len(jobs)), key=lambda i: -sizes[i]) if sizes else list(range(len(jobs)))
    if compute.backend == "dask":
        results = _run_on_dask(function, [jobs[i] for i in order], compute)
    else:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=compute.n_jobs, backend="loky")(
            delayed(_single_threaded)(function, *jobs[i]) for i in order
        )
    in_job_order = [None] * len(jobs)
    for i, result in zip(order, results, strict=True):
        in_job_order[i] = result
    return in_job_order


def _run_on_dask(function: Callable, jobs: list, compute: ComputeParams) -> list:
    """The jobs on a Dask cluster, in submission order; each job is a pure function of its
    arguments, so the results are the same bytes wherever it runs."""
    from distributed import Client, LocalCluster

    if compute.scheduler_address is None:
        cluster = LocalCluster(
            n_workers=compute.n_jobs, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
        client = Client(cluster)
    else:
        cluster, client = None, Client(compute.scheduler_address)
    try:
        futures = [client.submit(_single_threaded, function, *job, pure=False) for job in jobs]
        return client.gather(futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _single_threaded(function: Callable, *args):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return function(*args)


def tune_one(
    part: pd.DataFrame,
    model: str,
    params: ModelParams,
    beta_max: float | None = None,
    study_storage: str | None = None,
    study_label: str = "study",
    cities: list[str] = (),
) -> TuneResult:
    """Study and final fit for one group's fit-split rows (the last three: see ``tune_group``);
    with ``cities``, one pooled model for their rows of a strike type, with a 0/1 column each."""
    part, x, y, tables = training_rows(part, model, "nowcast" in params.extra_features, cities)
    columns = model_columns(part, params.feature_set, params.extra_features) + scopes.city_columns(list(cities))
    columns = without_groups(columns, params.drop_groups)
    result = tune_rows(part, design_matrix(x, columns), y, columns, model, params,
                       beta_max, study_storage, study_label)  # fmt: skip
    result.nowcast = tables
    return result


def training_rows(
    rows: pd.DataFrame, kind: str, uses_nowcast: bool, cities: list[str] = ()
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, dict | None]:
    """What a model of ``kind`` is fitted on from a unit's training rows: (the rows, one per
    fitted row; their inputs; outcomes; the nowcast tables fitted on them, None when unused).
    A bin model's rows are the markets' own; tmax_dist's, one per market's lower edge
    (``distribution.threshold_rows``). Nowcast inputs leave each row's own day out of the tables."""
    if kind == DISTRIBUTION_MODEL:
        tables = nowcast.fit_tables(rows)
        kept, x, y = distribution.threshold_rows(rows, tables, leave_own_day_out=True, cities=cities)
        return kept, x, y, tables
    tables = nowcast.fit_tables(rows) if uses_nowcast else None
    if tables is not None:
        rows = nowcast.add_columns(rows, tables, leave_own_day_out=True)
    return rows, rows, rows["y"].to_numpy(int), tables


def tune_rows(
    rows: pd.DataFrame, x: np.ndarray, y: np.ndarray, columns: list[str], model: str, params: ModelParams,
    beta_max: float | None, study_storage: str | None, study_label: str,
) -> TuneResult:  # fmt: skip
    """``tune_group`` on ``x``, grouped by the rows' event dates, studied on every
    ``tune_every_minutes``-th minute."""
    return tune_group(
        x,
        y,
        rows["event_date"].astype(str).to_numpy(),
        columns,
        model,
        params,
        study_storage=study_storage,
        study_label=study_label,
        study_rows=thin_rows(rows["ts"], params.tune_every_minutes),
        beta_max=beta_max,
    )


DISTRIBUTION_MODEL = "tmax_dist"  # one model per city of its event's high (tmaxedge.modeling.distribution)


def tune_distribution(
    part: pd.DataFrame,
    params: ModelParams,
    beta_max: float | None = None,
    study_storage: str | None = None,
    study_label: str = "study",
    cities: list[str] = (),
) -> TuneResult:
    """tmax_dist's study and final fit on one city's fit-split rows, all its markets together
    (with ``cities``, on theirs, pooled): the survival function of the high, fitted on every
    market's lower edge."""
    kept, x, y, tables = training_rows(part, DISTRIBUTION_MODEL, True, cities)
    columns = without_groups([c for c in x.columns if x[c].notna().any()], params.drop_groups)
    result = tune_rows(kept, x[columns].to_numpy(float), y, columns, DISTRIBUTION_MODEL, params,
                       beta_max, study_storage, study_label)  # fmt: skip
    result.nowcast, result.kind = tables, distribution.KIND
    return result


def city_of(group: str) -> str:
    return group.rsplit("_", 1)[0]


def check_distribution_params(params: ModelParams) -> None:
    if params.feature_set != distribution.KIND or params.extra_features:
        raise ParamsError(
            f"tune.{DISTRIBUTION_MODEL} takes feature_set '{distribution.KIND}' and no extra_features "
            f"(its inputs are fixed: tmaxedge.modeling.distribution.COLUMNS); got feature_set "
            f"{params.feature_set!r}, extra_features {list(params.extra_features)}."
        )


def tune_unit(
    rows: pd.DataFrame, kind: str, params: ModelParams, cities: list[str], beta_max: float | None,
    study_storage: str | None, study_label: str,
) -> TuneResult:  # fmt: skip
    """One fitting unit's study (``scopes.fit_units``): a group, a city or a pooled set."""
    if kind == DISTRIBUTION_MODEL:
        return tune_distribution(rows, params, beta_max, study_storage, study_label, cities)
    return tune_one(rows, kind, params, beta_max, study_storage, study_label, cities)


def norm_limit(kind: str, unit: str, beta_max: dict[str, float] | None) -> float | None:
    """The gate's coefficient-norm limit a unit's fit answers to: its strike type's; tmax_dist
    prices every strike type, so the strictest."""
    limits = beta_max or {}
    if kind == DISTRIBUTION_MODEL:
        return min(limits.values()) if limits else None
    return limits.get(strike_of(unit))


def tune_window(
    fit_rows: pd.DataFrame,
    model: str,
    params: ModelParams,
    compute: ComputeParams,
    beta_max: dict[str, float] | None = None,
    window: str = "window",
) -> dict[str, TuneResult]:
    """Every group's study; ``beta_max`` maps strike type to the gate's coefficient-norm limit.

    The model's scope (``scopes``) says which groups share a fit: each group gets its unit's
    result. tmax_dist answers to every strike type's limit, so it gets the strictest.
    Stored studies are named ``<model>-<window>-<unit>-<digest>``.
    """
    kind = model_type(model, params)
    if kind == DISTRIBUTION_MODEL:
        check_distribution_params(params)
    units = scopes.fit_units(fit_rows, params.scope, per_strike=kind != DISTRIBUTION_MODEL)
    jobs = [
        (rows, kind, params, cities, norm_limit(kind, name, beta_max), compute.study_storage,
         f"{model}-{window}-{name}")
        for name, (rows, cities) in units.items()
    ]  # fmt: skip
    results = run_jobs(tune_unit, jobs, compute, sizes=[len(rows) for rows, _ in units.values()])
    by_group = {
        group: result
        for (rows, _), result in zip(units.values(), results, strict=True)
        for group in scopes.groups_of_unit(rows)
    }
    return dict(sorted(by_group.items()))


def calibration_scores(part: pd.DataFrame, card: ModelCard) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The card's linear scores, outcomes and tickers on the rows it is calibrated on; a tmax_dist
    model's are those of S(k) at its rows' lower edges, so calibration keeps the distribution whole."""
    if card.kind == distribution.KIND:
        cities = scopes.pooled_cities(card.preprocessor.columns)
        kept, frame, y = distribution.threshold_rows(part, card.nowcast, cities=cities)
        x, tickers = frame[card.preprocessor.columns].to_numpy(float), kept["ticker"]
    else:
        x = design_matrix(with_nowcast(part, card), card.preprocessor.columns)
        y, tickers = part["y"].to_numpy(int), part["ticker"]
    score = card.linear.decision(card.preprocessor.transform(x)) if len(y) else np.empty(0)
    return score, np.asarray(y, int), tickers.astype(str).to_numpy()


def calibration_key(group: str, card: ModelCard) -> str:
    """Groups sharing a key share a calibrator: a bin model's group, a tmax_dist fit's unit."""
    return distribution_unit(group, card) or group


@dataclass
class CalibrationFold:
    """Rows to calibrate on (per group) and the models that did not see them."""

    parts: dict[str, pd.DataFrame]
    cards: dict[str, ModelCard | None]


def calibrate_window(
    parts: dict[str, pd.DataFrame],
    cards: dict[str, ModelCard | None],
    params: CalibrateParams,
    pool: PoolParams,
) -> dict[str, tuple[ModelCard | None, object, dict]]:
    """Calibrator, then pooling weight, of every group, on the window's calibration split.

    ``parts`` are the calibration rows of every group in ``cards`` (maybe none), ``cards`` the tuned
    models (None where tuning found no model). ``calibrate_folds`` says the rest.
    """
    return calibrate_folds([CalibrationFold(parts, cards)], cards, params, pool)


def calibrate_folds(
    folds: list[CalibrationFold],
    cards: dict[str, ModelCard | None],
    params: CalibrateParams,
    pool: PoolParams,
) -> dict[str, tuple[ModelCard | None, object, dict]]:
    """Calibrator, then pooling weight, of every group's model in ``cards``, fitted on every fold's
    rows as scored by that fold's models (one fold: the calibration split and the tuned models;
    several: ``tmaxedge.walkforward.crossfit``). Returns per group (card, the fitted scikit-learn calibration
    serving it, calibration_fit.json).

    With ``pool.scope == "strike_type"`` the groups of one strike type share a w fitted on all
    their rows. A tmax_dist model is one per city (or one pooled), so its calibrator is fitted
    once on all the rows it prices and given to each of its groups.
    """
    keys = {name: calibration_key(name, card) for name, card in cards.items() if card is not None}
    evidence: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {key: [] for key in keys.values()}
    for fold in folds:
        for key in evidence:
            names = [name for name in keys if keys[name] == key and fold.cards.get(name) is not None]
            if names:
                rows = pd.concat([fold.parts[name] for name in names], ignore_index=True)
                evidence[key].append(calibration_scores(rows, fold.cards[names[0]]))
    calibrators = {}
    for key, pieces in evidence.items():
        score, y, tickers = (np.concatenate(c) for c in zip(*pieces, strict=True)) if pieces else (np.empty(0),) * 3
        calibrators[key] = calibrate_scores(score, y.astype(int), len(np.unique(tickers)), params)
    results: dict[str, tuple[ModelCard | None, object, dict]] = {}
    for name, card in cards.items():
        if card is None:
            results[name] = (None, None, {"method": "none", "reason": "no model"})
            continue
        calibrator, fitted, info = calibrators[keys[name]]
        results[name] = (dataclasses.replace(card, calibrator=calibrator),
                         with_model(fitted, card.preprocessor, card.linear), info)  # fmt: skip
    if not pool.enabled:
        return results
    pooling: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    for fold in folds:
        served = {name: dataclasses.replace(fold.cards[name], calibrator=calibrators[keys[name]][0])
                  for name in keys if fold.cards.get(name) is not None}  # fmt: skip
        alone = predict_groups({name: fold.parts[name] for name in served}, served)
        for name in served:
            part = fold.parts[name]
            if not part.empty:
                pooling.setdefault(scope_key(name, strike_of(name), pool.scope), []).append(
                    (alone[name], part["p_market"].to_numpy(float, na_value=np.nan), part["y"].to_numpy(int))
                )
    fits = {
        key: fit_pool_weight(*(np.concatenate(column) for column in zip(*rows, strict=True)), pool)
        for key, rows in pooling.items()
    }
    for name, (card, fitted, info) in results.items():
        if card is None:
            continue
        key = scope_key(name, strike_of(name), pool.scope)
        fit = fits.get(key, {"w": None, "reason": "no calibration rows in scope"})
        results[name] = (
            dataclasses.replace(card, pool_weight=fit["w"]), fitted, {**info, "pool": {"scope": key, **fit}}
        )
    return results


def uncalibrated_card(result: TuneResult) -> ModelCard | None:
    if result.fit is None:
        return None
    return ModelCard(result.preprocessor, result.fit, Calibrator("none"), result.nowcast, kind=result.kind)


def with_nowcast(part: pd.DataFrame, card: ModelCard) -> pd.DataFrame:
    """The rows with the card's nowcast columns added, when the model uses them."""
    return part if card.nowcast is None else nowcast.add_columns(part, card.nowcast)


def distribution_unit(group: str, card: ModelCard | None) -> str | None:
    """Which tmax_dist fit prices ``group``: its city's, or the pooled one (None: not tmax_dist)."""
    if card is None or card.kind != distribution.KIND:
        return None
    return "pooled" if scopes.pooled_cities(card.preprocessor.columns) else city_of(group)


def predict_groups(parts: dict[str, pd.DataFrame], cards: dict[str, ModelCard | None]) -> dict[str, np.ndarray]:
    """``predict_alone`` for each group, except that a tmax_dist model prices all the groups of
    its cities in one call, so that each event-minute's distribution is whole (rearranged, it
    then sums to 1: ``distribution.bin_probability``)."""
    units = {name: distribution_unit(name, cards.get(name)) for name in parts}
    alone = {name: predict_alone(part, cards.get(name)) for name, part in parts.items() if units[name] is None}
    for unit in sorted({u for u in units.values() if u is not None}):
        names = [name for name in parts if units[name] == unit]
        p = distribution.bin_probability(cards[names[0]], pd.concat([parts[n] for n in names], ignore_index=True))
        bounds = np.cumsum([0] + [len(parts[n]) for n in names])
        alone.update({name: p[bounds[i]:bounds[i + 1]] for i, name in enumerate(names)})
    return alone


def predict_alone(part: pd.DataFrame, card: ModelCard | None) -> np.ndarray:
    """The (calibrated) model's P(YES) for each row, before pooling; NaN without a model. (A
    tmax_dist model sees only these rows' events: ``predict_groups`` gives it whole events.)"""
    if card is None:
        return np.full(len(part), np.nan)
    if card.kind == distribution.KIND:
        return distribution.bin_probability(card, part)
    return card.predict(design_matrix(with_nowcast(part, card), card.preprocessor.columns))


def prediction_table(
    part: pd.DataFrame, p_model: np.ndarray, model: str, window: str, p_unpooled: np.ndarray | None = None
) -> pd.DataFrame:
    """The edge-diagnostics rows of one group: the brief's column names, then the event and
    the book at the decision time (for the backtest), then the forecast before pooling and
    before coherence (both equal p_model until those steps run)."""
    p_unpooled = p_model if p_unpooled is None else p_unpooled
    return pd.DataFrame(
        {
            "model": model,
            "window": window,
            "city": part["city"].to_numpy(),
            "bracket": part["strike_type"].to_numpy(),
            "timestamp": part["ts"].to_numpy(),
            "market_ticker": part["ticker"].to_numpy(),
            "p_model": p_model,
            "p_market": part["p_market"].to_numpy(float, na_value=np.nan),
            "y": part["y"].to_numpy(int),
            "spread_cents": part["spread_cents"].to_numpy(float, na_value=np.nan),
            "minutes_to_close": part["minutes_to_close"].to_numpy(float, na_value=np.nan),
            "event_ticker": part["event_ticker"].to_numpy(),
            "yes_bid": part["yes_bid"].to_numpy(float, na_value=np.nan),
            "yes_ask": part["yes_ask"].to_numpy(float, na_value=np.nan),
            "p_unpooled": p_unpooled,
            "p_incoherent": p_model,
        }
    )[PREDICTION_COLUMNS + BOOK_COLUMNS + STEP_COLUMNS]


def attach_oracle(predictions: pd.DataFrame, oracle: pd.DataFrame | None) -> pd.DataFrame:
    """Add ``p_oracle``: the simulator's P(YES) as of the last quote row at or before each
    decision time (NaN on real data, which has no oracle)."""
    if oracle is None or oracle.empty:
        return predictions.assign(p_oracle=np.nan)
    left = predictions.assign(_order=np.arange(len(predictions)))
    left = left.sort_values("timestamp", kind="mergesort")
    right = oracle.rename(columns={"ticker": "market_ticker", "ts": "timestamp"})
    right = right.sort_values("timestamp", kind="mergesort")
    right["timestamp"] = right["timestamp"].astype(left["timestamp"].dtype)
    merged = pd.merge_asof(
        left, right, on="timestamp", by="market_ticker", direction="backward"
    )
    merged = merged.sort_values("_order", kind="mergesort").drop(columns="_order")
    return merged.rename(columns={"p_true": "p_oracle"}).reset_index(drop=True)


def group_report(predictions: pd.DataFrame) -> dict:
    """Scores and the 15-bin reliability table of one group's test predictions."""
    result = score(predictions)
    predicted = predictions["p_model"].notna().to_numpy()
    table = reliability(
        predictions["y"].to_numpy(float)[predicted], predictions["p_model"].to_numpy(float)[predicted]
    )
    oracle = predictions["p_oracle"].notna().to_numpy() if "p_oracle" in predictions else None
    if oracle is not None and oracle.any():
        y = predictions["y"].to_numpy(float)[oracle]
        result["oracle_brier"] = brier(y, predictions["p_oracle"].to_numpy(float)[oracle])
    return {"scores": result, "reliability": table.to_dict(orient="list")}


def evaluate_window(
    parts: dict[str, pd.DataFrame],
    cards: dict[str, ModelCard | None],
    oracle: pd.DataFrame | None,
    model: str,
    window: str,
    coherent: coherence.CoherenceParams = coherence.CoherenceParams(),
) -> dict[str, tuple[pd.DataFrame, dict]]:
    """Test predictions of every group (with the oracle where there is one) and their reports.

    The groups are handled as one table: coherence works across them (an event's six markets are
    its between bins and two tails), and one oracle lookup serves them all.
    """
    if not parts:
        return {}
    names = list(parts)
    tables = []
    alone = predict_groups(parts, cards)
    for name in names:
        part, card, p_alone = parts[name], cards.get(name), alone[name]
        p_market = part["p_market"].to_numpy(float, na_value=np.nan)
        p_model = pool_probability(p_alone, p_market, card.pool_weight if card else None)
        tables.append(prediction_table(part, p_model, model, window, p_alone))
    merged = pd.concat(tables, ignore_index=True)
    if coherent.method == "logit_shift":
        merged["p_model"] = coherent_probabilities(merged)
    merged = attach_oracle(merged, oracle)
    bounds = np.cumsum([0] + [len(t) for t in tables])
    results = {}
    for k, name in enumerate(names):
        predictions = merged.iloc[bounds[k]:bounds[k + 1]].reset_index(drop=True)
        results[name] = (predictions, group_report(predictions))
    return results


def coherent_probabilities(predictions: pd.DataFrame) -> np.ndarray:
    """``p_model`` after the common logit shift per event and minute."""
    n_markets = probability.markets_per_event(predictions["event_ticker"], predictions["market_ticker"])
    return probability.logit_shift(
        predictions["p_model"].to_numpy(float), predictions["event_ticker"].to_numpy(),
        predictions["timestamp"].to_numpy(), n_markets,
    )
