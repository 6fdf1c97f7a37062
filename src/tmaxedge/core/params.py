"""The one way params are checked: declared constraints per field, and params.yaml as a whole.

A params dataclass derives from ``Params`` and declares, like scikit-learn's
``_parameter_constraints``, what each field must be::

    @dataclass(frozen=True)
    class TuneParams(Params):
        constraints = declare(n_trials=Interval(int, 1, None), pruner=Options(("median", "none")))
        n_trials: int = 40
        pruner: str = "median"

Creating one checks every constrained field and raises a ``ParamsError`` that names the field,
the rule and the value: ``n_trials must be an int >= 1; got 0.``. Read from params.yaml
(``io.load_params``), the same message names the file and the full key once:
``params.yaml: tune.ridge.n_trials must be an int >= 1; got 0.``. Checks that relate two fields
(``c_min < c_max``) stay in the class's ``__post_init__``, after ``super().__post_init__()``,
and raise ``broken(...)`` so their message reads the same way.

``check_params_file`` reads params.yaml once, before any expensive stage: YAML syntax (with the
line), duplicate keys, unknown sections and model entries that ``tune`` cannot run.
"""

from __future__ import annotations

import abc
import dataclasses
import datetime as dt
import math
import numbers
import types
import zoneinfo
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import yaml

from tmaxedge.core.errors import ParamsError

# the sections of params.yaml; a misspelt one would otherwise be ignored while its stage
# silently runs on defaults or fails much later
SECTIONS = (
    "simulate",
    "ingest",
    "cities",
    "features",
    "windows",
    "models",
    "tune",
    "calibrate",
    "pool",
    "coherence",
    "compute",
    "summarize",
    "backtest",
    "gate",
)
# the model types a ``tune`` entry can have (its ``type``, else its name): modeling.tuning
MODEL_TYPES = ("ridge", "elasticnet", "lasso", "tmax_dist")
# the params.yaml keys each per-window step reads (``section.key`` for one key of a section):
# the step_params stage copies them into one file per step, which is what DVC watches for that
# step's stages instead of params.yaml itself (why: stages/step_params.py)
STEP_KEYS = {
    "tune": ("models", "tune", "gate.beta_max"),
    "calibrate": ("models", "calibrate", "pool", "gate.beta_max"),
    "evaluate": ("models", "coherence"),
}


def broken(key: str, rule: str, value: Any) -> ParamsError:
    """The one message format of a broken rule: the key, the rule, the value."""
    return ParamsError(f"{key} must be {rule}; got {value!r}.")


def _is_int(value: Any) -> bool:
    # bool is an int to Python, never to a user; numpy ints are Integral, not int
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    return real and not math.isnan(value)


def _number_text(value: float) -> str:
    return str(value) if _is_int(value) else f"{value:g}"


# --- constraints -------------------------------------------------------------------------------


class Constraint(abc.ABC):
    """What one field must be: ``rule`` says it in words, ``accepts`` checks a value."""

    rule: str = ""

    @abc.abstractmethod
    def accepts(self, value: Any) -> bool:
        """Whether ``value`` keeps the rule; every kind of constraint says how."""

    def violation(self, key: str, value: Any) -> ParamsError | None:
        """The error for ``value`` at ``key``, or None when it is fine."""
        return None if self.accepts(value) else broken(key, self.rule, value)


@dataclasses.dataclass(frozen=True)
class Interval(Constraint):
    """An int (``kind=int``) or a number (``kind=float``) between ``low`` and ``high``.

    None leaves a side open; ``closed`` is "both", "left", "right" or "neither", as in
    scikit-learn. NaN and bools are refused; ints are numbers.
    """

    kind: type
    low: float | None
    high: float | None
    closed: str = "both"

    def accepts(self, value: Any) -> bool:
        typed = _is_int(value) if self.kind is int else _is_number(value)
        return typed and self._above_low(value) and self._below_high(value)

    def _above_low(self, value: float) -> bool:
        if self.low is None:
            return True
        return value >= self.low if self.closed in ("both", "left") else value > self.low

    def _below_high(self, value: float) -> bool:
        if self.high is None:
            return True
        return value <= self.high if self.closed in ("both", "right") else value < self.high

    @property
    def rule(self) -> str:
        noun = "an int" if self.kind is int else "a number"
        left, right = self.closed in ("both", "left"), self.closed in ("both", "right")
        if self.low is not None and self.high is not None:
            low, high = _number_text(self.low), _number_text(self.high)
            return f"{noun} in {'[' if left else '('}{low}, {high}{']' if right else ')'}"
        if self.low is not None:
            return f"{noun} {'>=' if left else '>'} {_number_text(self.low)}"
        if self.high is not None:
            return f"{noun} {'<=' if right else '<'} {_number_text(self.high)}"
        return noun


@dataclasses.dataclass(frozen=True)
class Options(Constraint):
    """One of a few strings."""

    values: tuple[str, ...]

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.values

    @property
    def rule(self) -> str:
        return f"a str among {list(self.values)}"


@dataclasses.dataclass(frozen=True)
class Subset(Constraint):
    """A list whose items are among ``values``; ``nonempty`` and ``distinct`` as named."""

    values: tuple[str, ...]
    nonempty: bool = False
    distinct: bool = False

    def accepts(self, value: Any) -> bool:
        if not isinstance(value, list | tuple):
            return False
        known = all(isinstance(item, str) and item in self.values for item in value)
        filled = bool(value) or not self.nonempty
        unique = len(set(value)) == len(value) or not self.distinct
        return known and filled and unique

    @property
    def rule(self) -> str:
        size = "a non-empty list" if self.nonempty else "a list"
        return f"{size} among {list(self.values)}{' without repeats' if self.distinct else ''}"


@dataclasses.dataclass(frozen=True)
class Nullable(Constraint):
    """null, or what ``inner`` accepts."""

    inner: Constraint

    def accepts(self, value: Any) -> bool:
        return value is None or self.inner.accepts(value)

    @property
    def rule(self) -> str:
        return f"null or {self.inner.rule}"


@dataclasses.dataclass(frozen=True)
class Keyed(Constraint):
    """A mapping with exactly the keys ``keys``, each value accepted by ``each``."""

    keys: tuple[str, ...]
    each: Constraint

    def accepts(self, value: Any) -> bool:
        return self.violation("", value) is None

    @property
    def rule(self) -> str:
        return f"a mapping of {list(self.keys)} to {self.each.rule}"

    def violation(self, key: str, value: Any) -> ParamsError | None:
        # the key set first, then each value under its own key (beta_max.less), so the message
        # points at the one entry to fix
        if not isinstance(value, Mapping):
            return broken(key, self.rule, value)
        if set(value) != set(self.keys):
            got = sorted(map(str, value))
            return ParamsError(f"{key} must have exactly the keys {list(self.keys)}; got {got}.")
        errors = (self.each.violation(f"{key}.{name}", value[name]) for name in self.keys)
        return next((error for error in errors if error is not None), None)


class Boolean(Constraint):
    rule = "true or false"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, bool)


class Text(Constraint):
    rule = "a non-empty str"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and bool(value.strip())


class IsoDate(Constraint):
    rule = "a date 'YYYY-MM-DD'"

    def accepts(self, value: Any) -> bool:
        try:
            dt.date.fromisoformat(value)
        except (TypeError, ValueError):
            return False
        return True


class TimeZone(Constraint):
    rule = "an IANA time zone such as 'America/Chicago'"

    def accepts(self, value: Any) -> bool:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
            return False
        return True


# --- checking a params object ------------------------------------------------------------------


def first_violation(
    constraints: Mapping[str, Constraint], values: Mapping[str, Any], where: str = ""
) -> ParamsError | None:
    """The error of the first value in ``values`` that breaks its constraint; keys are
    ``<where>.<name>`` (just ``<name>`` without ``where``). Unconstrained values pass."""
    for name, value in values.items():
        if name in constraints:
            error = constraints[name].violation(f"{where}.{name}" if where else name, value)
            if error is not None:
                return error
    return None


def check_params(params: Any) -> None:
    """Raise the ParamsError of the first field of ``params`` that breaks its constraint."""
    constraints = type(params).constraints
    unknown = sorted(set(constraints) - {f.name for f in dataclasses.fields(params)})
    if unknown:  # a typo in a declaration would silently leave a field unchecked
        raise TypeError(f"{type(params).__name__}.constraints names no field {unknown}")
    values = {name: getattr(params, name) for name in constraints}
    error = first_violation(constraints, values)
    if error is not None:
        raise error


def declare(**constraints: Constraint) -> Mapping[str, Constraint]:
    """A class's constraints, field name to constraint, read-only: every instance shares them."""
    return types.MappingProxyType(constraints)


class Params:
    """Base of the params dataclasses: ``constraints`` are checked when one is created."""

    constraints: ClassVar[Mapping[str, Constraint]] = types.MappingProxyType({})

    def __post_init__(self) -> None:
        check_params(self)


# --- params.yaml as a whole --------------------------------------------------------------------


class UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *anchor` may repeat and be overridden by design
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):
                continue  # the SafeLoader itself refuses it, with its own message
            if key in first_line:
                problem = f"duplicate key {key!r} (first on line {first_line[key] + 1})"
                raise yaml.constructor.ConstructorError(None, None, problem, key_node.start_mark)
            first_line[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def _yaml_error_line(path: Path, error: yaml.YAMLError) -> str:
    """One line: file, line and column, and what is wrong (PyYAML's own text spans lines)."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    context = getattr(error, "context", None)
    place = f"{path}: line {mark.line + 1}, column {mark.column + 1}" if mark else f"{path}"
    return f"{place}: {problem}{f' ({context})' if context else ''}"


def load_yaml(path: Path) -> Any:
    """Parse a YAML file; a missing file, bad syntax or a duplicate key is a ParamsError."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: file not found.")
    try:
        return yaml.load(path.read_text(), Loader=UniqueKeyLoader)  # a SafeLoader
    except yaml.YAMLError as error:
        raise ParamsError(_yaml_error_line(path, error)) from None


def unknown_sections(content: Mapping[str, Any]) -> list[str]:
    return sorted(str(name) for name in content if name not in SECTIONS)


def model_entry_problem(name: Any, tune: Mapping[str, Any]) -> str | None:
    """Why ``models`` cannot run entry ``name``, or None: it must be a section of ``tune``
    whose ``type`` (else its name) is a model type."""
    if not isinstance(name, str) or name not in tune:
        return f"names {name!r}, which is not a section of tune; tune has {sorted(tune)}"
    entry = tune[name]
    kind = entry.get("type") if isinstance(entry, Mapping) else None
    if (kind or name) not in MODEL_TYPES:
        return (
            f"names {name!r}, but tune.{name} has no type among {list(MODEL_TYPES)} "
            f"(its name is not one); got type {kind!r}"
        )
    return None


def check_params_file(path: Path) -> dict[str, Any]:
    """Read params.yaml once and refuse what no stage could run; return its content.

    Called first by the cheap early stages, so a typo fails in seconds instead of after the
    upstream work; each section's values are checked by the stage that reads it.
    """
    content = load_yaml(path)
    if not isinstance(content, dict):
        raise ParamsError(f"{path}: must hold a mapping of sections; got {type(content).__name__}.")
    unknown = unknown_sections(content)
    if unknown:
        raise ParamsError(f"{path}: unknown section(s) {unknown}; known are {list(SECTIONS)}.")
    models, tune = content.get("models", []), content.get("tune", {})
    if not isinstance(models, list) or not isinstance(tune, dict):
        raise ParamsError(f"{path}: models must be a list and tune a mapping of model entries.")
    problems = (model_entry_problem(name, tune) for name in models)
    problem = next((p for p in problems if p is not None), None)
    if problem is not None:
        raise ParamsError(f"{path}: models {problem}.")
    return content


def step_part(content: Mapping[str, Any], step: str, path: Path) -> dict[str, Any]:
    """The part of a params file's ``content`` that ``step`` reads (``STEP_KEYS``), nested as in
    the file, so that the params loaders read it as they read params.yaml."""
    part: dict[str, Any] = {}
    for key in STEP_KEYS[step]:
        section, _, inner = key.partition(".")
        found = content.get(section, {}) if inner else content
        if not isinstance(found, Mapping) or (inner or section) not in found:
            raise ParamsError(f"{path}: {key} is missing; the {step} step reads it.")
        if inner:
            part.setdefault(section, {})[inner] = found[inner]
        else:
            part[section] = found[section]
    return part
