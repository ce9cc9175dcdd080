"""PLL settings against those icepll and ecppll print for the same frequencies."""
import pytest

from spikegen.boards._pll import ecp5_pll, ice40_pll


@pytest.mark.parametrize("fout, expected", [
    (24e6, {"DIVR": 0, "DIVF": 63, "DIVQ": 5, "FILTER_RANGE": 1}),
    (18e6, {"DIVR": 0, "DIVF": 47, "DIVQ": 5, "FILTER_RANGE": 1}),
    (48e6, {"DIVR": 0, "DIVF": 63, "DIVQ": 4, "FILTER_RANGE": 1}),
])
def test_ice40(fout, expected):
    assert ice40_pll(12e6, fout) == expected


@pytest.mark.parametrize("fout, expected", [
    (60e6, (5, 12, 10)),
    (75e6, (1, 3, 8)),
    (30e6, (5, 6, 20)),
    (45e6, (5, 9, 13)),
    (50e6, (1, 2, 12)),
])
def test_ecp5(fout, expected):
    params = ecp5_pll(25e6, fout)
    assert (params["CLKI_DIV"], params["CLKFB_DIV"], params["CLKOP_DIV"]) == expected


def test_impossible():
    assert ice40_pll(12e6, 16e6) is None        # no exact setting from 12 MHz
    assert ice40_pll(12e6, 12e6) is None        # below the PLL's 16 MHz
    assert ecp5_pll(25e6, 61e6) is None
