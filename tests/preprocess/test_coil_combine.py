"""Coil combination: SNR against the optimum with known sensitivities; contracts."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from pmlmrs.core import Header, Spectrum
from pmlmrs.errors import IncompatibleDataError
from pmlmrs.preprocess import CoilCombineOptions, coil_combine, coil_weights


def _snr_ratio(w, syn):
    """SNR of combination ``w`` over the optimum ``sqrt(s^H Psi^-1 s)`` (known truth)."""
    s, psi = syn.sensitivities, syn.noise_cov
    snr = abs(w @ s) / np.sqrt(np.real(w @ psi @ w.conj()))
    return snr / np.sqrt(np.real(s.conj() @ np.linalg.solve(psi, s)))


@pytest.mark.parametrize("use_water", [False, True])
def test_svd_combination_within_5_percent_of_optimum(synthetic, use_water):
    w = coil_weights(synthetic.metab, synthetic.water if use_water else None)
    # whitened SVD with weights from the water reference or the data: >= 95 % of optimal SNR
    assert _snr_ratio(w, synthetic) > 0.95


def test_snr_weighted_sum_is_close_to_optimum(synthetic):
    w = coil_weights(synthetic.metab, synthetic.water, CoilCombineOptions(method="snr"))
    # S/N^2 ignores the noise correlation between coils; still well above a plain sum
    assert _snr_ratio(w, synthetic) > 0.75
    phase_only = np.exp(-1j * np.angle(synthetic.sensitivities))  # equal-weight, phased sum
    assert _snr_ratio(w, synthetic) > _snr_ratio(phase_only, synthetic)


def test_measured_snr_after_combination(synthetic):
    """Empirical check: noise SD of the combined data matches what the weights predict."""
    out = coil_combine(synthetic.metab, synthetic.water)
    assert out.dims == ("dyn",)
    step = out.provenance[-1]
    assert step.name == "coil_combine" and step.params["weights_from"] == "water reference"
    assert len(step.params["weight_magnitude"]) == 8
    tail = np.asarray(out.data)[:, -512:]
    rms_coil_sd = np.sqrt(np.real(np.trace(synthetic.noise_cov)) / 8 / 2)
    assert np.std(tail.real) == pytest.approx(rms_coil_sd, rel=0.1)


def test_mismatched_coils_and_missing_dim(synthetic, caplog):
    water = synthetic.water.replace(data=np.asarray(synthetic.water.data)[:4])
    with pytest.raises(IncompatibleDataError, match="4 coils but the data have 8"):
        coil_combine(synthetic.metab, water)
    one = Spectrum(np.ones((3, 64), complex), Header(127.0, 5e-4), dims=("dyn",))
    with caplog.at_level(logging.INFO, logger="pmlmrs"):
        assert coil_combine(one) is one
    assert "no 'coil' dim" in caplog.text


def test_nan_is_refused():
    data = np.ones((4, 128), complex)
    data[2, 5] = np.nan
    s = Spectrum(data, Header(127.0, 5e-4), dims=("coil",))
    with pytest.raises(IncompatibleDataError, match="NaN"):
        coil_combine(s)
