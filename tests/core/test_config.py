"""``pmlmrs.config.parse_bool``: one reading of true/false/missing table cells for every table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pmlmrs.config import parse_bool


@pytest.mark.parametrize("value", [True, np.bool_(True), 1, 1.0, np.int64(1), "true", " TRUE ", "yes", "Y", "t", "1", np.str_("yes")])
def test_true(value):
    assert parse_bool(value) is True


@pytest.mark.parametrize("value", [False, np.bool_(False), 0, 0.0, "false", "No", "n", "F", "0"])
def test_false(value):
    assert parse_bool(value) is False


@pytest.mark.parametrize("value", [None, math.nan, np.nan, pd.NA, pd.NaT, np.datetime64("NaT"), "", "n/a", "NA", "nan", "None",
                                   "<NA>"])
def test_missing(value):
    assert parse_bool(value) is None


@pytest.mark.parametrize("value", [2, -1.0, 0.5, "maybe", "2", "truee", np.datetime64("2020-01-01"), object()])
def test_other_values_are_refused(value):
    with pytest.raises(ValueError, match="not a truth value"):
        parse_bool(value)
