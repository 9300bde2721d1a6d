"""Resampling a basis to a data grid, and Basis.match against a Spectrum."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pmlmrs.basis import Basis, load_basis, resample_fids
from pmlmrs.core import Header, Spectrum, axes
from pmlmrs.errors import IncompatibleDataError

TEST_BASIS = Path(__file__).resolve().parents[1] / "data" / "basis" / "lcmodel_test_3t.basis"


def _lines(t: np.ndarray, freqs: list[float], damp: float = 8.0) -> np.ndarray:
    return sum(np.exp((2j * np.pi * f - damp) * t) for f in freqs)


def _area(b: Basis, name: str, centre: float, half: float = 0.1, lb_hz: float = 3.0) -> float:
    """Peak area as a fraction of fid(0): grid-independent (same broadening on both grids)."""
    t = axes.time_axis(b.n_points, b.dwell_time)
    spec = axes.fid_to_spectrum(b.fid(name) * np.exp(-np.pi * lb_hz * t)).real / b.n_points
    return float(spec[axes.ppm_slice(b.ppm_axis, centre - half, centre + half)].sum())


@pytest.mark.parametrize("d1, n1", [(5e-4, 2048), (2.5e-4, 4096), (1.25e-4, 2048), (0.3e-3, 1500)])
def test_analytic_lines_are_reproduced(d1, n1):
    """Damped lines within the new bandwidth: the spectrum on the new grid matches the analytic one."""
    d0, n0 = 2.5e-4, 8192
    freqs = [-400.0, -120.0, 250.0]
    x = _lines(axes.time_axis(n0, d0), freqs)
    y = resample_fids(x, d0, d1, n1)[0]
    want = _lines(axes.time_axis(n1, d1), freqs)
    sy, sw = axes.fid_to_spectrum(y), axes.fid_to_spectrum(want)
    hz = axes.hz_axis(n1, d1)
    inband = np.abs(hz) < 0.8 * min(0.5 / d1, 0.5 / d0)
    # the only difference: analytic sampling folds the Lorentzian tails back, resampling drops them
    assert np.abs(sy - sw)[inband].max() < 0.01 * np.abs(sw).max()
    for f in freqs:
        assert hz[np.argmax(np.abs(sy) * (np.abs(hz - f) < 20))] == pytest.approx(f, abs=1 / (n1 * d1))
    # away from t = 0 (where the dropped tails ring) the FID values agree
    mid = slice(n1 // 10, n1 // 2)
    assert np.abs(y - want)[mid].max() < 0.01 * np.abs(want).max()


@pytest.mark.parametrize("d0", [2.5e-4, 2.07357807e-4])
def test_no_aliasing_when_decimating(d0):
    """A line outside the new bandwidth is removed, not folded into the metabolite region."""
    n0 = int(round(2.048 / d0))
    t0 = axes.time_axis(n0, d0)
    x = _lines(t0, [-300.0]) + _lines(t0, [1500.0])  # 1500 Hz is outside +-1000 Hz
    y = resample_fids(x, d0, 5e-4, 2048, centre_hz=-270.0)[0]
    spec = np.abs(axes.fid_to_spectrum(y))
    hz = axes.hz_axis(2048, 5e-4)
    alias = np.argmin(np.abs(hz - (1500.0 - 2000.0)))  # where it would fold to (-500 Hz)
    main = np.argmin(np.abs(hz + 300.0))
    assert spec[alias] < 0.02 * spec[main]


def test_osprey_basis_to_data_grid_keeps_positions_and_areas(invivo):
    """8192 pts / 0.25 ms -> 2048 pts / 0.5 ms: NAA and Cr positions and areas within 1 %."""
    b = load_basis(invivo / "basis" / "lcmodel" / "3T_PRESS_Philips_35ms_noMM.BASIS")
    r = b.resample(5e-4, 2048)
    assert r.n_points == 2048 and r.dwell_time == 5e-4 and r.names == b.names
    assert r.spectrometer_frequency == b.spectrometer_frequency and r.ppm_reference == b.ppm_reference
    assert r.meta["resampled_from"]["n_points"] == 8192
    for name, shift in (("NAA", 2.008), ("Cr", 3.027)):
        assert r.peak_ppm(name, shift - 0.1, shift + 0.1) == pytest.approx(b.peak_ppm(name, shift - 0.1, shift + 0.1),
                                                                           abs=0.002)
        assert r.peak_ppm(name, shift - 0.1, shift + 0.1) == pytest.approx(shift, abs=0.01)
        assert _area(r, name, shift) == pytest.approx(_area(b, name, shift), rel=0.01)


def test_non_integer_dwell_ratio_uses_spline(invivo):
    """suspect basis: 4944 pts / 0.2074 ms -> 2048 pts / 0.5 ms (not a whole number of dwells)."""
    b = load_basis(invivo / "basis" / "lcmodel" / "suspect_press_30ms_3T.basis")
    r = b.subset(["NAA", "Cr"]).resample(5e-4, 2048)
    for name, shift in (("NAA", 2.008), ("Cr", 3.027)):
        assert r.peak_ppm(name, shift - 0.1, shift + 0.1) == pytest.approx(shift, abs=0.01)
        assert _area(r, name, shift) == pytest.approx(_area(b, name, shift), rel=0.01)


def test_retune_field_and_ppm_reference():
    b = load_basis(TEST_BASIS).subset(["NAA", "Cr"])
    # data at 127.5 MHz (0.2 % lower) with a 4.7 ppm reference: the ppm positions must stay
    r = b.resample(5e-4, 1024, spectrometer_frequency=127.5, ppm_reference=4.7)
    assert r.spectrometer_frequency == 127.5 and r.ppm_reference == 4.7
    assert r.peak_ppm("NAA", 1.9, 2.1) == pytest.approx(b.peak_ppm("NAA", 1.9, 2.1), abs=0.003)
    assert r.peak_ppm("Cr", 2.9, 3.1) == pytest.approx(b.peak_ppm("Cr", 2.9, 3.1), abs=0.003)
    np.testing.assert_allclose(abs(r.fid("NAA")[0]), abs(b.fid("NAA")[0]), rtol=0.02)


def test_match_checks_nucleus_and_field():
    b = load_basis(TEST_BASIS)
    same = Spectrum(np.ones(1024, complex), Header(127.7861, 5e-4))
    assert b.match(same) is b  # nothing to do
    data = Spectrum(np.ones(2048, complex), Header(127.75, 2.5e-4, ppm_reference=4.7))
    m = b.match(data)
    assert (m.n_points, m.dwell_time, m.spectrometer_frequency, m.ppm_reference) == (2048, 2.5e-4, 127.75, 4.7)
    assert m.peak_ppm("NAA", 1.9, 2.1) == pytest.approx(2.008, abs=0.01)
    with pytest.raises(IncompatibleDataError, match="MHz"):
        b.match(Spectrum(np.ones(1024, complex), Header(297.2, 1 / 6000)))
    with pytest.raises(IncompatibleDataError, match="MHz"):
        b.match(Spectrum(np.ones(1024, complex), Header(120.0, 5e-4)))  # 6.5 % off (2.89 T vs 3 T is 3.7 %)
    with pytest.raises(IncompatibleDataError, match="31P"):
        b.match(Spectrum(np.ones(1024, complex), Header(127.7861, 5e-4, nucleus="31P")))


def test_match_rescales_a_3t_basis_to_2p89t_data_with_a_warning(caplog):
    """A 3.0 T basis (127.79 MHz) on 2.89 T Siemens data (123.23 MHz, 3.7 % apart) is rescaled, not refused;
    singlets stay at their ppm and the J-coupling caveat is logged."""
    b = load_basis(TEST_BASIS)
    with caplog.at_level("WARNING", logger="pmlmrs"):
        m = b.match(Spectrum(np.ones(1024, complex), Header(123.2347, 1 / 1200.0)))
    assert m.spectrometer_frequency == 123.2347
    assert m.peak_ppm("NAA", 1.9, 2.1) == pytest.approx(2.008, abs=0.01)
    assert m.peak_ppm("Cr", 2.9, 3.1) == pytest.approx(3.027, abs=0.01)
    assert "3.7 % apart" in caplog.text and "J-coupled" in caplog.text


def test_check_compatible_refuses_field_and_nucleus_and_warns_about_echo_time():
    from pmlmrs.basis import check_compatible

    te = 0.030
    b = load_basis(TEST_BASIS).replace(echo_time=te)
    same = Spectrum(np.ones(1024, complex), Header(127.7861, 5e-4, echo_time=te), source="same.nii.gz")
    assert check_compatible(same, b) == []
    other_te = Spectrum(np.ones(1024, complex), Header(127.7861, 5e-4, echo_time=te + 0.050), source="te.SDAT")
    (msg,) = check_compatible(other_te, b)
    assert msg.startswith("te.SDAT: echo time") and f"made for {te * 1e3:.4g} ms" in msg
    with pytest.raises(IncompatibleDataError, match=r"seven\.rda: spectrometer frequency 297\.200 MHz"):
        check_compatible(Spectrum(np.ones(1024, complex), Header(297.2, 5e-4), source="seven.rda"), b)
    with pytest.raises(IncompatibleDataError, match="nucleus 31P"):
        check_compatible(Spectrum(np.ones(1024, complex), Header(127.7861, 5e-4, nucleus="31P")), b)
