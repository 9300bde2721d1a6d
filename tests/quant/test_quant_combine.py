"""Combinations and ratios: values, CRLBs from the covariance (wᵀCw), delta-method ratio SDs."""

from __future__ import annotations

import numpy as np
import pytest

from _synthetic import TRUTH, make_result
from pmlmrs.errors import ConfigError
from pmlmrs.quant import (
    COMBINATIONS,
    RATIOS,
    combination_weights,
    combinations,
    is_mm_name,
    measure,
    ratio,
    ratios,
)


def test_combination_values_recover_truth(rng):
    r = make_result(rng, noise_sd=0.5)
    c = combinations(r)
    # linear least squares on a well-conditioned synthetic spectrum: within 2 % of the truth
    for name, members in {"tNAA": ("NAA", "NAAG"), "tCr": ("Cr", "PCr"), "tCho": ("GPC", "PCho"),
                          "Glx": ("Glu", "Gln"), "Lip13": ("Lip13a", "Lip13b")}.items():
        assert c[name].value == pytest.approx(sum(TRUTH[m] for m in members), rel=0.02)
        assert c[name].members == members
    assert c["Lip"].members == ("Lip09", "Lip13a", "Lip13b")
    assert c["Lip"].value == pytest.approx(c["Lip13"].value + r.amplitude("Lip09"))
    assert "MM" not in c  # no MM component in this fit


def test_combination_variance_is_wCw():
    names = ("NAA", "NAAG", "Cr")
    a = np.array([8.0, 2.0, 6.0])
    cov = np.array([[0.04, -0.03, 0.0], [-0.03, 0.09, 0.0], [0.0, 0.0, 0.01]])
    m = measure(names, a, cov, "tNAA")
    assert m.value == 10.0
    assert m.sd == pytest.approx(np.sqrt(0.04 + 0.09 - 2 * 0.03))  # anti-correlated: smaller than sqrt(sum)
    assert m.crlb_percent == pytest.approx(100 * m.sd / 10.0)
    assert measure(names, a, cov, "tCho").members == ()
    assert np.isnan(measure(names, a, cov, "tCho").value)


def test_ratio_sd_matches_monte_carlo():
    rng = np.random.default_rng(7)
    names = ("NAA", "NAAG", "Cr", "PCr")
    a = np.array([8.0, 1.5, 4.0, 3.0])
    L = rng.normal(size=(4, 4)) * 0.05
    cov = L @ L.T + np.diag([0.02, 0.03, 0.01, 0.015])

    class R:  # the attributes ratio() reads
        pass
    r = R()
    r.names, r.amplitudes, r.covariance = names, a, cov
    m = ratio(r, "tNAA", "tCr")
    draws = rng.multivariate_normal(a, cov, size=200_000)
    mc = (draws[:, 0] + draws[:, 1]) / (draws[:, 2] + draws[:, 3])
    assert m.value == pytest.approx(9.5 / 7.0)
    assert m.sd == pytest.approx(mc.std(), rel=0.03)  # first-order delta method, small relative errors


def test_ratios_columns_and_missing(rng):
    r = make_result(rng, names=("NAA", "Cr", "PCr", "GPC", "PCho", "Ins"))
    rr = ratios(r)
    assert tuple(rr) == RATIOS
    assert rr["tNAA_tCr"].value == pytest.approx(r.amplitude("NAA") / (r.amplitude("Cr") + r.amplitude("PCr")))
    for name in ("Lip_tCr", "Lip09_tCr", "Lip13_tCr", "Glx_tCr"):
        assert np.isnan(rr[name].value)


def test_custom_definitions_and_mm():
    names = ("NAA", "Cr", "MM09", "MM20", "Mac", "Lip20", "Lip09")
    w = combination_weights(names, "MM")
    assert list(w) == [0, 0, 1, 1, 1, 0, 0]
    w2 = combination_weights(names, "Lip", {"Lip": ["Lip09", "Lip13", "Lip20"]})
    assert list(w2) == [0, 0, 0, 0, 0, 1, 1]
    assert is_mm_name("MM14") and is_mm_name("Mac") and not is_mm_name("Lip13a")
    with pytest.raises(ConfigError):
        combination_weights(names, "X", {"X": "NAA"})
    assert set(COMBINATIONS) >= {"tNAA", "tCr", "tCho", "Glx", "Lip13", "Lip", "MM"}


def test_fitted_component_wins_over_combination():
    names = ("NAA", "Cr", "Lip13")
    w = combination_weights(names, "Lip13")
    assert list(w) == [0, 0, 1]

    class R:
        pass
    r = R()
    r.names, r.amplitudes, r.covariance = names, np.ones(3), np.eye(3)
    assert "Lip13" not in combinations(r)
    assert combinations(r)["Lip"].members == ("Lip13",)


def test_ratio_with_zero_denominator_is_nan():
    class R:
        pass
    r = R()
    r.names, r.amplitudes, r.covariance = ("NAA", "Cr"), np.array([1.0, 0.0]), np.eye(2)
    assert np.isnan(ratio(r, "NAA", "Cr").value)
    with pytest.raises(ConfigError):
        ratios(r, ["NAA_Cr_x"])


def test_sum_with_a_member_at_zero_is_as_precise_as_the_singlet():
    """GPC and PCho share the 3.2 ppm singlet. When the fit holds PCho at zero, tCho's CRLB comes from the
    covariance with PCho left free (its anticorrelation with GPC kept): about the tCho CRLB of the same
    spectrum fitted with PCho > 0, not GPC's variance plus PCho's in full (which gave 8.1 % here)."""
    from pmlmrs.basis import bundled_basis
    from pmlmrs.fit import FitOptions, LinearCombinationModel
    from pmlmrs.fit.synthetic import synthesize
    from pmlmrs.quant import combinations, ratios

    basis = bundled_basis()
    amps = {"NAA": 8.0, "NAAG": 1.5, "Cr": 3.5, "PCr": 2.5, "GPC": 1.7, "PCho": 0.0, "Ins": 4.0, "Glu": 6.0,
            "Gln": 2.0, "GSH": 1.0, "Tau": 1.0, "Mac": 1.0}
    model = LinearCombinationModel(basis, FitOptions())
    crlbs = {}
    for seed in (2, 0, 3):   # seed 2: PCho fitted at 0; seeds 0 and 3: PCho 0.16 and 0.22
        spec, _ = synthesize(basis, amps, snr=40.0, rng=np.random.default_rng(seed))
        r = model.fit(spec)
        crlbs[seed] = combinations(r)["tCho"].crlb_percent
        if seed == 2:
            assert r.amplitude("PCho") == 0.0 and r.covariance_free is not None
            i, j = r.index("GPC"), r.index("PCho")
            fixed_rule = 100 * np.sqrt(r.covariance[i, i] + r.covariance[j, j]) / r.amplitude("GPC")
            ratio_sd = ratios(r)["tCho_tCr"].sd / ratios(r)["tCho_tCr"].value
    assert crlbs[2] < 1.3 * max(crlbs[0], crlbs[3]) and fixed_rule > 2 * crlbs[2]
    assert 100 * ratio_sd < 1.5 * crlbs[2] + 3.0  # the ratio's SD uses the same covariance
