"""ppm-reference calibration and reference-peak (TMS/DSS) detection and removal, on synthetic shifts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pmlmrs.basis import calibrate_ppm_reference, find_reference_peaks, load_basis, singlet_offsets
from pmlmrs.core import axes

TEST_BASIS = Path(__file__).resolve().parents[1] / "data" / "basis" / "lcmodel_test_3t.basis"


@pytest.fixture
def basis():
    return load_basis(TEST_BASIS).subset(["NAA", "Cr", "PCr", "Lac", "Ins"])


def _shift(b, ppm: float):
    t = axes.time_axis(b.n_points, b.dwell_time)
    return b.replace(fids=b.fids * np.exp(2j * np.pi * ppm * b.spectrometer_frequency * t))


@pytest.mark.parametrize("offset", [-0.05, 0.03, 0.1])
def test_calibration_undoes_a_known_offset(basis, offset):
    shifted = _shift(basis, offset)
    assert singlet_offsets(shifted)["NAA"] == pytest.approx(offset, abs=0.002)
    fixed = calibrate_ppm_reference(shifted)
    assert fixed.ppm_reference == pytest.approx(basis.ppm_reference - offset, abs=0.002)
    assert fixed.meta["ppm_check"]["corrected"] is True
    assert fixed.peak_ppm("NAA", 1.9, 2.1) == pytest.approx(2.008, abs=0.003)
    assert fixed.peak_ppm("Cr", 2.9, 3.1) == pytest.approx(3.027, abs=0.003)


def test_small_offsets_and_far_offsets_are_left_alone(basis):
    small = calibrate_ppm_reference(_shift(basis, 0.002))
    assert small.ppm_reference == basis.ppm_reference and small.meta["ppm_check"]["corrected"] is False
    far = calibrate_ppm_reference(_shift(basis, 0.5))  # not a reference problem: report, do not guess
    assert far.ppm_reference == basis.ppm_reference
    assert "warning" in far.meta["ppm_check"]
    none = calibrate_ppm_reference(basis.subset(["Lac", "Ins"]))
    assert none.meta["ppm_check"]["checked"] is False


def test_reference_peak_detected_and_removed(basis, rng):
    t = axes.time_axis(basis.n_points, basis.dwell_time)
    hz = float(axes.ppm_to_hz(0.0, basis.spectrometer_frequency, basis.ppm_reference))
    tms = 0.05 * np.abs(basis.fid("NAA")[1]) * np.exp((2j * np.pi * hz - np.pi * 1.5) * t)
    with_ref = basis.replace(fids=basis.fids + np.outer([1, 1, 0, 0, 0], tms))
    assert find_reference_peaks(basis) == {}
    found = find_reference_peaks(with_ref)
    assert set(found) == {"NAA", "Cr"}
    assert found["NAA"] == pytest.approx(0.0, abs=0.005)
    clean = with_ref.remove_reference_peak()
    removed = clean.meta["reference_peak_removed"]
    assert set(removed) == {"NAA", "Cr"}
    assert removed["NAA"]["lorentzian_fwhm_hz"] == pytest.approx(1.5, abs=0.05)
    for name in ("NAA", "Cr"):
        assert np.abs(clean.fid(name) - basis.fid(name)).max() < 2e-3 * np.abs(basis.fid(name)).max()
    np.testing.assert_array_equal(clean.fid("Lac"), basis.fid("Lac"))  # untouched
    assert find_reference_peaks(clean) == {}


def test_read_options_from_basis(basis):
    o = basis.read_options()
    assert o.central_frequency == pytest.approx(127.7861)
    assert o.spectral_width == pytest.approx(2000.0)
    assert o.echo_time is None
