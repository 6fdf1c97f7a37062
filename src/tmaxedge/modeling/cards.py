"""Model cards: everything needed to predict without unpickling, written as ``model.json``,
and the calibrator that maps a linear score to a probability.

A card read back (``ModelCard.from_dict``) is first checked against ``CardSchema``, the schema
of the file: every field present with its type, the shapes consistent (one name per column,
unique; one coefficient, median, mean and scale per column), every number finite, the isotonic
thresholds increasing, the clip within (0, 0.5), the method and kind among the known ones, the
pooling weight within [0, 1]. A file that breaks it raises ``ModelFileError`` naming the file,
the field and the rule; it never predicts. The card itself is built from the file's values as
they are, so a valid card reads and writes back to the same bytes.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    AllowInfNan,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from scipy.special import expit

from tmaxedge.core.errors import ModelFileError
from tmaxedge.core.probability import PROB_CLIP
from tmaxedge.features import nowcast as nowcast_tables
from tmaxedge.features.nowcast import BY_CITY, READINGS
from tmaxedge.modeling.distribution import KIND as DISTRIBUTION_KIND
from tmaxedge.modeling.logistic import PREPROCESSING_ORDERS, LinearFit, Preprocessor

METHODS = ("isotonic", "sigmoid", "none")  # Calibrator.method
KINDS = ("bin", DISTRIBUTION_KIND)  # ModelCard.kind
# probabilities are kept in [clip, 1 - clip]: the open interval clip lies in (calibrate.clip too)
CLIP_BOUNDS = (0.0, 0.5)


@dataclass
class Calibrator:
    """Maps the linear score to a probability: isotonic (a step function) or sigmoid (Platt)."""

    method: str  # among METHODS
    x: list[float] = field(default_factory=list)  # isotonic thresholds
    y: list[float] = field(default_factory=list)
    a: float = 0.0  # sigmoid: p = 1 / (1 + exp(a * score + b))
    b: float = 0.0
    clip: float = PROB_CLIP

    def __call__(self, score: np.ndarray) -> np.ndarray:
        if self.method == "isotonic":
            p = np.interp(score, self.x, self.y)
        elif self.method == "sigmoid":
            p = expit(-(self.a * score + self.b))
        else:
            p = expit(score)
        return np.clip(p, self.clip, 1 - self.clip)

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "x": self.x,
            "y": self.y,
            "a": self.a,
            "b": self.b,
            "clip": self.clip,
        }


@dataclass
class ModelCard:
    """Everything needed to predict without unpickling: written as model.json."""

    preprocessor: Preprocessor
    linear: LinearFit
    calibrator: Calibrator
    nowcast: dict | None = None  # tmaxedge.features.nowcast tables fitted in the training window
    pool_weight: float | None = (
        None  # tmaxedge.modeling.pooling: the model's weight against the market
    )
    # "bin": P(YES) of a market | "distribution": P(high >= k) (tmaxedge.modeling.distribution)
    kind: str = "bin"

    def predict(self, x: np.ndarray) -> np.ndarray:
        score = self.linear.decision(self.preprocessor.transform(np.asarray(x, float)))
        return self.calibrator(score)

    def for_city(self, city: str) -> ModelCard:
        """The card as a group of ``city`` is priced by it: a pooled model keeps only that
        city's nowcast tables (``nowcast.of_city``)."""
        if self.nowcast is None:
            return self
        return dataclasses.replace(self, nowcast=nowcast_tables.of_city(self.nowcast, city))

    def to_dict(self) -> dict:
        return {
            "preprocessor": self.preprocessor.to_dict(),
            "coef": self.linear.coef.tolist(),
            "intercept": self.linear.intercept,
            "calibrator": self.calibrator.to_dict(),
            "nowcast": self.nowcast,
            "pool_weight": self.pool_weight,
            "kind": self.kind,
        }

    @classmethod
    def from_dict(cls, d: Any, where: str = "model card") -> ModelCard:
        """The card ``d`` (a model.json's content) describes, once it passes ``CardSchema``;
        ``where`` (the file) starts every error message."""
        check_card(d, where)
        return cls(
            Preprocessor.from_dict(d["preprocessor"]),
            LinearFit(np.asarray(d["coef"], float), float(d["intercept"])),
            Calibrator(**d["calibrator"]),
            d.get("nowcast"),
            d.get("pool_weight"),
            d.get("kind", "bin"),
        )


def unit_card(cards: list[ModelCard]) -> ModelCard:
    """One fitted model's card from the cards of the groups it prices together (a tmax_dist
    unit's): the same model, with every group's city's nowcast tables (``ModelCard.for_city``)."""
    first = cards[0]
    if first.nowcast is None:
        return first
    return dataclasses.replace(first, nowcast=nowcast_tables.merged([c.nowcast for c in cards]))


# --- the schema of model.json ------------------------------------------------------------------

Number = Annotated[float, Strict(), AllowInfNan(False)]  # an int or a float, finite; not a bool
Name = Annotated[str, Strict()]
# nowcast tables: per reading, per half-hour bucket, [training days, residuals]; a pooled model's
# are per city under BY_CITY
Tables = dict[Literal[tuple(READINGS)], dict[Name, tuple[list[Name], list[Number]]]]
Nowcast = Annotated[
    Annotated[Tables, Tag("tables")]
    | Annotated[dict[Literal[BY_CITY], dict[Name, Tables]], Tag(BY_CITY)],
    Discriminator(lambda v: BY_CITY if isinstance(v, dict) and BY_CITY in v else "tables"),
]
_TAGS = ("tables", BY_CITY)


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PreprocessorSchema(_Schema):
    columns: list[Name]
    medians: list[Number]
    means: list[Number]
    scales: list[Annotated[Number, Field(gt=0)]]
    order: Literal[PREPROCESSING_ORDERS] = "impute_then_scale"

    @field_validator("columns")
    @classmethod
    def _unique(cls, columns: list[str]) -> list[str]:
        repeated = sorted({name for name in columns if columns.count(name) > 1})
        if repeated:
            raise ValueError(f"must name each column once; repeated: {repeated}")
        return columns

    @field_validator("medians", "means", "scales")
    @classmethod
    def _one_per_column(cls, values: list[float], info: ValidationInfo) -> list[float]:
        return _one_per(values, info.data.get("columns"), "column of preprocessor.columns")


class CalibratorSchema(_Schema):
    method: Literal[METHODS]
    x: list[Number] = []
    y: list[Number] = []
    a: Number = 0.0
    b: Number = 0.0
    clip: Annotated[Number, Field(gt=CLIP_BOUNDS[0], lt=CLIP_BOUNDS[1])] = PROB_CLIP

    @field_validator("x")
    @classmethod
    def _thresholds(cls, x: list[float], info: ValidationInfo) -> list[float]:
        if info.data.get("method") == "isotonic":
            if not x:
                raise ValueError("must hold the isotonic thresholds; it is empty")
            _check_order(x, strict=True, rule="must increase (isotonic thresholds)")
        return x

    @field_validator("y")
    @classmethod
    def _levels(cls, y: list[float], info: ValidationInfo) -> list[float]:
        if info.data.get("method") == "isotonic":
            _one_per(y, info.data.get("x"), "threshold in calibrator.x")
            outside = [v for v in y if not 0 <= v <= 1]
            if outside:
                raise ValueError(f"must hold probabilities in [0, 1]; first outside: {outside[0]}")
            _check_order(y, strict=False, rule="must not decrease (an isotonic fit)")
        return y


class CardSchema(_Schema):
    """model.json (and fit.json): ``ModelCard.to_dict``."""

    preprocessor: PreprocessorSchema
    coef: list[Number]
    intercept: Number
    calibrator: CalibratorSchema
    nowcast: Nowcast | None = None
    pool_weight: Annotated[Number, Field(ge=0, le=1)] | None = None
    kind: Literal[KINDS] = "bin"

    @field_validator("coef")
    @classmethod
    def _one_per_column(cls, coef: list[float], info: ValidationInfo) -> list[float]:
        preprocessor = info.data.get("preprocessor")
        columns = None if preprocessor is None else preprocessor.columns
        return _one_per(coef, columns, "column of preprocessor.columns")


def _one_per(values: list, names: list | None, what: str) -> list:
    """``values`` when there is one per name (or the names are broken themselves: None)."""
    if names is not None and len(values) != len(names):
        raise ValueError(f"must hold one number per {what} ({len(names)}); it holds {len(values)}")
    return values


def _check_order(values: list[float], strict: bool, rule: str) -> None:
    pairs = enumerate(itertools.pairwise(values))
    broken = next((i for i, (a, b) in pairs if (b <= a if strict else b < a)), None)
    if broken is not None:
        raise ValueError(
            f"{rule}; at index {broken + 1}: {values[broken]!r} then {values[broken + 1]!r}"
        )


def check_card(content: Any, where: str) -> None:
    """Raise ``ModelFileError`` when ``content`` breaks ``CardSchema``: the first problem, named by
    file (``where``), field and rule, and how many more there are."""
    try:
        CardSchema.model_validate(content)
    except ValidationError as error:
        problems = error.errors()
        more = len(problems) - 1
        also = f" The file has {more} more problem{'s' if more > 1 else ''}." if more else ""
        raise ModelFileError(f"{where}: {_describe(problems[0])}{also}") from None


def _describe(problem: dict) -> str:
    """One pydantic error as ``<field> <rule>; got <value>.`` (pydantic's "Input should be"
    read as "must be")."""
    loc = list(problem["loc"])
    if loc[:1] == ["nowcast"] and loc[1:2] and loc[1] in _TAGS:
        loc.pop(1)  # the nowcast variant's tag, not a key of the file
    noun = "key" if loc[-1:] == ["[key]"] else "field"  # a mapping's key (the last part) is wrong
    if noun == "key":
        loc.pop()
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
    subject = f"{noun} '{path.lstrip('.')}'" if path else "the card"
    kind = problem["type"]
    if kind == "missing":
        return f"{subject} is missing."
    if kind == "extra_forbidden":
        return f"{subject} is not a field of a model card."
    if kind == "value_error":
        return f"{subject} {problem['ctx']['error']}."
    if kind in ("model_type", "dict_type"):
        rule = "must be a mapping"
    else:
        rule = problem["msg"].replace("Input should be", "must be", 1)
    shown = repr(problem["input"])
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{subject} {rule}; got {shown}."
