"""Group keys: the typed (city, strike type) behind every ``chi_between`` folder and JSON key."""

import pytest

from tmaxedge.core.keys import Group


@pytest.mark.parametrize("name", ["chi_between", "nyc_greater", "aus_less", "new_york_less"])
def test_a_group_name_round_trips(name):
    group = Group.parse(name)
    assert group.name == name and str(group) == name
    assert Group(group.city, group.strike_type) == group


def test_the_parts_are_the_city_and_the_strike_type():
    assert Group.parse("new_york_between") == Group("new_york", "between")
    assert Group("chi", "less").name == "chi_less"


@pytest.mark.parametrize(
    "name, message",
    [
        ("chi", "a group name is '<city>_<strike type>'"),
        ("chi_above", "strike_type must be one of"),
        ("_between", "a group needs a city"),
        ("chi_", "strike_type must be one of"),
    ],
)
def test_a_malformed_name_is_refused_saying_what_a_name_is(name, message):
    with pytest.raises(ValueError, match=message) as error:
        Group.parse(name)
    assert repr(name) in str(error.value)


def test_groups_sort_as_their_names():
    names = ["nyc_less", "chi_greater", "aus_between", "chi_between"]
    assert [g.name for g in sorted(map(Group.parse, names))] == sorted(names)
