"""Typed keys: a (city, strike type) group, written on disk as ``<city>_<strike type>``.

File names, JSON keys and report columns keep the string form (``chi_between``); code that
needs the parts asks a ``Group`` for them instead of cutting the string itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from tmaxedge.core.config import STRIKE_TYPES

SEPARATOR = "_"


@dataclass(frozen=True, order=True)
class Group:
    """The markets of one city and one strike type (``between``, ``greater``, ``less``)."""

    city: str
    strike_type: str

    def __post_init__(self) -> None:
        if not self.city:
            raise ValueError(f"a group needs a city; got strike type {self.strike_type!r} alone.")
        if self.strike_type not in STRIKE_TYPES:
            raise ValueError(
                f"strike_type must be one of {list(STRIKE_TYPES)}; got {self.strike_type!r}."
            )

    @property
    def name(self) -> str:
        """The on-disk form: ``chi_between``."""
        return f"{self.city}{SEPARATOR}{self.strike_type}"

    @classmethod
    def parse(cls, name: str) -> Group:
        """The group written as ``name`` (``chi_between``); the strike type follows the last
        underscore, so a city code may itself hold one."""
        city, separator, strike_type = str(name).rpartition(SEPARATOR)
        if not separator:
            raise ValueError(
                f"a group name is '<city>_<strike type>' (e.g. 'chi_between'); got {name!r}."
            )
        try:
            return cls(city, strike_type)
        except ValueError as error:
            raise ValueError(f"{name!r} is not a group name: {error}") from None

    def __str__(self) -> str:
        return self.name
