"""Outlier rejection, averaging, eddy-current correction, phasing, referencing, apodisation."""

from __future__ import annotations

import numpy as np
import pytest

from pmlmrs.core import Header, Spectrum
from pmlmrs.errors import ConfigError, IncompatibleDataError
from pmlmrs.preprocess import (
    N_TRANSIENTS_KEY, PhaseOptions, ReferenceOptions, RejectOptions, align, apodize, average, coil_combine,
    eddy_current_correction, find_peak, frequency_reference, linewidth, phase_correct, reject_outliers,
    snr, truncate, zero_fill,
)
from pmlmrs.preprocess._synthetic import LESION_PEAKS, _lines

MHZ, DWELL, N = 127.75, 5e-4, 2048
T = np.arange(N) * DWELL
HEADER = Header(MHZ, DWELL)


def test_corrupted_transients_rejected_with_reasons(synthetic):
    aligned = align(coil_combine(synthetic.metab, synthetic.water))
    out = reject_outliers(aligned)
    step = out.provenance[-1]
    rejected = [r["index"] for r in step.params["rejected"]]
    assert rejected == sorted(synthetic.corrupted)
    assert all("robust SD above the median" in r["reason"] for r in step.params["rejected"])
    assert out.dim_sizes["dyn"] == 64 - len(synthetic.corrupted) == step.params["n_kept"]


def test_reject_respects_max_fraction_and_small_counts(synthetic):
    aligned = align(coil_combine(synthetic.metab, synthetic.water))
    out = reject_outliers(aligned, RejectOptions(threshold=0.1, max_fraction=0.1))
    assert len(out.provenance[-1].params["rejected"]) <= 6
    few = aligned.replace(data=np.asarray(aligned.data)[:3])
    assert reject_outliers(few) is few


def test_average_counts_transients():
    s = Spectrum(np.ones((5, 32), complex) * np.arange(1, 6)[:, None], HEADER, dims=("dyn",))
    out = average(s)
    assert out.dims == () and np.allclose(out.data, 3.0)
    assert out.header.acquisition[N_TRANSIENTS_KEY] == 5
    assert out.header.vendor[N_TRANSIENTS_KEY]["Value"] == 5
    assert out.provenance[-1].params["n_averaged"] == 5


def test_eddy_current_correction_restores_lineshape():
    clean = _lines(T, 4.65, MHZ, LESION_PEAKS.values())
    eddy = np.exp(1j * 1.5 * np.exp(-T / 0.02))  # decaying eddy-current phase (rad)
    water_off = 3.0  # Hz water offset: ECC moves water to the receiver frequency
    water = Spectrum(300 * np.exp((2j * np.pi * water_off - np.pi * 7) * T) * eddy * np.exp(0.7j), HEADER)
    metab = Spectrum(clean * eddy * np.exp(0.7j), HEADER)
    out = eddy_current_correction(metab, water)
    expected = clean * np.exp(-2j * np.pi * water_off * T)
    assert np.max(np.abs(np.asarray(out.data) - expected)) < 1e-6 * np.max(np.abs(clean))
    assert out.provenance[-1].name == "eddy_current_correction"


def test_eddy_current_reference_must_match():
    metab = Spectrum(np.ones(2048, complex), HEADER, source="act.sdat")
    water = Spectrum(np.ones(1024, complex), Header(MHZ, 2.5e-4), source="ref.sdat")
    with pytest.raises(IncompatibleDataError) as info:
        eddy_current_correction(metab, water)
    msg = str(info.value)
    assert "2048 vs 1024 points" in msg and "act.sdat" in msg and "ref.sdat" in msg and "dwell" in msg


def test_phase_and_reference_recover_known_values():
    clean = _lines(T, 4.65, MHZ, LESION_PEAKS.values())
    s = Spectrum(clean * np.exp(1j * np.radians(70.0)) * np.exp(2j * np.pi * 4.0 * T), HEADER)
    ref = frequency_reference(s, ReferenceOptions(peak="cr"))
    assert find_peak(ref, "cr") == pytest.approx(3.027, abs=0.002)
    assert ref.provenance[-1].params["shift_hz"] == pytest.approx(-4.0, abs=0.15)
    ph = phase_correct(ref, PhaseOptions(peak="cr"))
    assert ph.provenance[-1].params["phase_deg"] == pytest.approx(-70.0, abs=1.0)
    turned = phase_correct(ph, phase_deg=70.0)
    np.testing.assert_allclose(turned.data, np.asarray(ph.data) * np.exp(1j * np.radians(70.0)), atol=1e-12)
    with pytest.raises(ConfigError, match="Allowed values"):
        ReferenceOptions(peak="lactate")


def test_apodize_truncate_zero_fill():
    s = Spectrum(np.exp((2j * np.pi * 10 - np.pi * 4.0) * T), HEADER)
    assert linewidth(s, (4.6, 4.8))["fwhm_hz"] == pytest.approx(4.0, abs=0.3)
    assert linewidth(apodize(s, 3.0), (4.6, 4.8))["fwhm_hz"] == pytest.approx(7.0, abs=0.3)
    assert truncate(s, 1024).n_points == 1024
    z = zero_fill(s, 4096)
    assert z.n_points == 4096 and np.all(np.asarray(z.data)[2048:] == 0)
    with pytest.raises(ConfigError):
        zero_fill(s, 100)
    with pytest.raises(ConfigError):
        apodize(s, 2.0, kind="sinebell")


def test_snr_of_known_signal(rng):
    fid = _lines(T, 4.65, MHZ, [(2.008, 1.0, 6.0)])
    sd = 0.05
    noise = sd * (rng.standard_normal(N) + 1j * rng.standard_normal(N))
    s = Spectrum(fid + noise, HEADER)
    height = np.real(np.fft.fftshift(np.fft.fft(fid))).max()
    assert snr(s) == pytest.approx(height / (sd * np.sqrt(N)), rel=0.1)
