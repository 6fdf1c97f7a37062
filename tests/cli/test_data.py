"""The data commands' helpers: a city named by its code, series ticker or name."""

import pytest

from tmaxedge.cli.data import city_code
from tmaxedge.core.config import DEFAULT_CITIES
from tmaxedge.core.errors import ParamsError


@pytest.mark.parametrize(
    "text, code",
    [
        ("chi", "chi"),
        ("CHI", "chi"),
        ("Chicago", "chi"),
        ("KXHIGHCHI", "chi"),
        ("los angeles", "lax"),
        ("Los_Angeles", "lax"),
        ("New York", "nyc"),
        ("new-york", "nyc"),
        ("Philadelphia", "phl"),
    ],
)
def test_a_city_is_found_by_its_code_series_or_name(text, code):
    assert city_code(text, DEFAULT_CITIES) == code


def test_a_city_params_yaml_lacks_is_refused_naming_those_it_has():
    with pytest.raises(ParamsError, match=r"--city 'Boston': not a city .*aus \(Austin\), chi"):
        city_code("Boston", DEFAULT_CITIES)
    only_chicago = {"chi": DEFAULT_CITIES["chi"]}
    with pytest.raises(ParamsError, match=r"cities: chi \(Chicago\)\.$"):
        city_code("Miami", only_chicago)  # a name we know, but not a city of this params file
