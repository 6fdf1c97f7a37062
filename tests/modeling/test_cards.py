"""model.json is checked against its schema when read: a broken card names its file and field and
never predicts; a card the pipeline wrote reads back to the same bytes."""

import copy
import json
import math
import re

import numpy as np
import pytest
from windows_support import SEQUENTIAL, TMAX_DIST

from tmaxedge.core import io
from tmaxedge.core.errors import DataError, ModelFileError
from tmaxedge.modeling.calibration import CalibrateParams
from tmaxedge.modeling.cards import Calibrator, ModelCard
from tmaxedge.modeling.logistic import LinearFit, Preprocessor
from tmaxedge.modeling.pooling import PoolParams
from tmaxedge.modeling.tuning import ModelParams
from tmaxedge.walkforward import artifacts
from tmaxedge.walkforward.run import calibrate_step
from tmaxedge.walkforward.tune import tune_window, tuned_models


def valid_card() -> dict:
    """A small isotonic card with nowcast tables and a pooling weight, as to_dict writes it."""
    card = ModelCard(
        Preprocessor(["a", "b"], np.array([0.0, 1.0]), np.array([0.5, 1.5]), np.array([1.0, 2.0])),
        LinearFit(np.array([0.5, -0.25]), 0.1),
        Calibrator("isotonic", x=[-1.0, 0.0, 1.0], y=[0.1, 0.5, 0.9], clip=0.001),
        nowcast={"running_max": {"20": [["2024-06-01", "2024-06-02"], [1.5, 0.0]]}},
        pool_weight=0.4,
    )
    return card.to_dict()


def with_change(path: str, value) -> dict:
    """``valid_card()`` with the field at ``path`` (keys and indices joined by '/') set to
    ``value``, or deleted when ``value`` is ``DELETE``."""
    card = valid_card()
    *parents, last = path.split("/")
    holder = card
    for part in parents:
        holder = holder[_key(holder, part)]
    if value is DELETE:
        del holder[_key(holder, last)]
    else:
        holder[_key(holder, last)] = value
    return card


def _key(holder, part: str):
    return int(part) if isinstance(holder, list) else part


DELETE = object()


@pytest.mark.parametrize(
    "path, value, message",
    [
        # missing field: KeyError 'coef' before
        ("coef", DELETE, "field 'coef' is missing."),
        # missing field of the calibrator: TypeError (a missing argument) before
        ("calibrator/method", DELETE, "field 'calibrator.method' is missing."),
        # wrong type: read as 0.1 before
        ("intercept", "0.1", "field 'intercept' must be a valid number; got '0.1'."),
        # wrong type: a column name that is not a string
        ("preprocessor/columns/1", 3, "field 'preprocessor.columns[1]' must be a valid string"),
        # wrong type: a mapping where the calibrator's thresholds go
        ("calibrator/x", {"0": 1.0}, "field 'calibrator.x' must be a valid list"),
        # mismatched shapes: one coefficient for two columns (failed only at predict before)
        (
            "coef",
            [0.5],
            "field 'coef' must hold one number per column of preprocessor.columns (2); it holds 1.",
        ),
        # mismatched shapes: a scale missing
        (
            "preprocessor/scales",
            [1.0],
            "field 'preprocessor.scales' must hold one number per column of "
            "preprocessor.columns (2); it holds 1.",
        ),
        # mismatched shapes: isotonic levels without their thresholds
        (
            "calibrator/y",
            [0.1, 0.5],
            "field 'calibrator.y' must hold one number per threshold in calibrator.x (3); "
            "it holds 2.",
        ),
        # names: one column twice (its coefficient would be applied to the wrong input)
        (
            "preprocessor/columns",
            ["a", "a"],
            "field 'preprocessor.columns' must name each column once; repeated: ['a'].",
        ),
        # NaN coefficient: every forecast NaN before
        ("coef/1", math.nan, "field 'coef[1]' must be a finite number; got nan."),
        # infinite coefficient
        ("coef/0", -math.inf, "field 'coef[0]' must be a finite number; got -inf."),
        # a zero scale divides by zero
        ("preprocessor/scales/0", 0.0, "field 'preprocessor.scales[0]' must be greater than 0"),
        # infinite residual in the nowcast tables: a wrong nowcast feature before
        (
            "nowcast/running_max/20/1/0",
            math.inf,
            "field 'nowcast.running_max.20[1][0]' must be a finite number; got inf.",
        ),
        # unsorted thresholds: np.interp returned wrong probabilities before
        (
            "calibrator/x",
            [0.0, -1.0, 1.0],
            "field 'calibrator.x' must increase (isotonic thresholds); at index 1: 0.0 then -1.0.",
        ),
        # a decreasing isotonic fit
        (
            "calibrator/y",
            [0.5, 0.1, 0.9],
            "field 'calibrator.y' must not decrease (an isotonic fit); at index 1: 0.5 then 0.1.",
        ),
        # bad clip: [0.7, 0.3] clipped every forecast to 0.3 before
        ("calibrator/clip", 0.7, "field 'calibrator.clip' must be less than 0.5; got 0.7."),
        # bad clip: none at all lets a forecast reach 0 or 1 (an infinite log loss)
        ("calibrator/clip", 0.0, "field 'calibrator.clip' must be greater than 0; got 0.0."),
        # unknown kind: priced as a bin model before
        ("kind", "tmax", "field 'kind' must be 'bin' or 'distribution'; got 'tmax'."),
        # unknown method: the raw model's expit before
        (
            "calibrator/method",
            "platt",
            "field 'calibrator.method' must be 'isotonic', 'sigmoid' or 'none'; got 'platt'.",
        ),
        # a pooling weight outside [0, 1] extrapolated past the market before
        ("pool_weight", 1.5, "field 'pool_weight' must be less than or equal to 1; got 1.5."),
        # a misspelt field: ignored before, so the card served unpooled
        ("pool_wieght", 0.5, "field 'pool_wieght' is not a field of a model card."),
    ],
)
def test_read_calibrated_names_the_file_and_field_of_a_broken_card(tmp_path, path, value, message):
    # written as another tool might: Python's json writes NaN and Infinity, ours writes null
    (tmp_path / "chi_less.model.json").write_text(json.dumps(with_change(path, value)))
    expected = f"{tmp_path / 'chi_less.model.json'}: {message}"
    with pytest.raises(ModelFileError, match=re.escape(expected)):
        artifacts.read_calibrated(tmp_path, "chi_less")


def test_a_broken_card_is_a_data_error_and_counts_its_other_problems():
    card = with_change("coef", [math.nan, 1.0, 2.0])
    card["calibrator"]["clip"] = 2.0
    with pytest.raises(DataError) as raised:
        ModelCard.from_dict(card, "fit.json")
    assert str(raised.value) == (
        "fit.json: field 'coef[0]' must be a finite number; got nan. The file has 1 more problem."
    )


def test_read_tuned_names_a_fit_json_that_is_not_json_or_not_a_mapping(tmp_path):
    path = tmp_path / "chi_less.fit.json"
    path.write_text('{"coef": [1.0,')
    with pytest.raises(ModelFileError, match=re.escape(f"{path}: not valid JSON")):
        artifacts.read_tuned(tmp_path, "chi_less")
    path.write_text("[1.0]")
    with pytest.raises(ModelFileError, match=re.escape(f"{path}: the card must be a mapping")):
        artifacts.read_tuned(tmp_path, "chi_less")


def test_a_card_with_an_unknown_nowcast_reading_names_the_key():
    card = valid_card()
    card["nowcast"] = {"by_city": {"chi": {"temp_nw": {}}}}
    with pytest.raises(ModelFileError) as raised:
        ModelCard.from_dict(card, "model.json")
    assert str(raised.value) == (
        "model.json: key 'nowcast.by_city.chi.temp_nw' must be 'running_max' or 'temp_now'; "
        "got 'temp_nw'."
    )


def test_a_valid_card_reads_back_to_the_same_card_and_bytes(tmp_path):
    io.write_json_atomic(valid_card(), tmp_path / "chi_less.model.json")
    card = artifacts.read_calibrated(tmp_path, "chi_less")
    assert card.to_dict() == valid_card()
    io.write_json_atomic(card.to_dict(), tmp_path / "again.json")
    assert (tmp_path / "again.json").read_bytes() == (tmp_path / "chi_less.model.json").read_bytes()
    # an older card without the optional fields still reads, with their defaults
    older = {k: v for k, v in valid_card().items() if k not in ("nowcast", "pool_weight", "kind")}
    assert ModelCard.from_dict(older).kind == "bin"


ELASTICNET_POOLED = ModelParams(
    "rich",
    n_trials=4,
    l1_ratio=None,
    n_splits=2,
    scope="pooled",
    extra_features=["mid_logit", "nowcast"],
)


@pytest.mark.parametrize(
    "entry, params, method",
    [
        ("elasticnet", ELASTICNET_POOLED, "isotonic"),  # pooled cities' nowcast tables
        ("elasticnet", ELASTICNET_POOLED, "sigmoid"),
        ("tmax_dist", TMAX_DIST, "none"),  # kind distribution
    ],
)
def test_cards_the_pipeline_writes_read_back_unchanged(
    three_cities, tmp_path, entry, params, method
):
    rows = three_cities
    tuned = tune_window(rows.fit, entry, params, SEQUENTIAL)
    calibrated = calibrate_step(
        rows,
        tuned_models(tuned),
        CalibrateParams(method=method, isotonic_min=1),
        PoolParams(),
        None,
    )
    artifacts.write_tune_step(tmp_path / "tune", tuned)
    artifacts.write_calibrate_step(
        tmp_path / "calibrate",
        calibrated,
        {name: result.best_params for name, result in tuned.items()},
    )
    written = sorted((tmp_path / "tune").glob("*.fit.json")) + sorted(
        (tmp_path / "calibrate").glob("*.model.json")
    )
    assert len(written) >= 2
    for path in written:
        card = artifacts.read_card(path)
        io.write_json_atomic(card.to_dict(), tmp_path / "again.json")
        assert (tmp_path / "again.json").read_bytes() == path.read_bytes(), path
    served = [result.card for result in calibrated.values() if result.card is not None]
    assert method in {card.calibrator.method for card in served}  # a single-class split: none


def test_from_dict_leaves_the_callers_content_as_it_was():
    content = valid_card()
    before = copy.deepcopy(content)
    ModelCard.from_dict(content)
    assert content == before
