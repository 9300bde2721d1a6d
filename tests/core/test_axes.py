"""Axis maths: ppm <-> Hz <-> index inverses, FFT round trip, ppm slices (Hypothesis properties)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pmlmrs.core import axes

n_points = st.integers(min_value=2, max_value=8192)
dwell = st.floats(min_value=1e-5, max_value=5e-3, allow_nan=False)
mhz = st.floats(min_value=10.0, max_value=600.0, allow_nan=False)
ref = st.floats(min_value=-10.0, max_value=10.0, allow_nan=False)
fast = settings(max_examples=60, deadline=None)


@fast
@given(ppm=st.floats(min_value=-50, max_value=50, allow_nan=False), f=mhz, r=ref)
def test_ppm_hz_inverse(ppm: float, f: float, r: float) -> None:
    hz = axes.ppm_to_hz(ppm, f, r)
    assert axes.hz_to_ppm(hz, f, r) == pytest.approx(ppm, abs=1e-9)


@fast
@given(n=n_points, dw=dwell, f=mhz, r=ref, frac=st.floats(min_value=0, max_value=1))
def test_index_ppm_inverse(n: int, dw: float, f: float, r: float, frac: float) -> None:
    idx = frac * (n - 1)
    ppm = axes.index_to_ppm(idx, n, dw, f, r)
    assert axes.ppm_to_index(ppm, n, dw, f, r) == pytest.approx(idx, abs=1e-6)


@fast
@given(n=n_points, dw=dwell, f=mhz, r=ref)
def test_axes_agree_with_index_helpers(n: int, dw: float, f: float, r: float) -> None:
    ppm = axes.ppm_axis(n, dw, f, r)
    hz = axes.hz_axis(n, dw)
    assert ppm.shape == hz.shape == (n,)
    assert np.all(np.diff(ppm) > 0) and np.all(np.diff(hz) > 0)  # ascending
    assert hz[n // 2] == 0.0 and ppm[n // 2] == pytest.approx(r)
    np.testing.assert_allclose(axes.hz_to_index(hz, n, dw), np.arange(n), atol=1e-6)
    np.testing.assert_allclose(axes.index_to_ppm(np.arange(n), n, dw, f, r), ppm, atol=1e-9)
    # spacing is 1 / (n * dwell) Hz
    assert np.diff(hz).mean() == pytest.approx(1.0 / (n * dw), rel=1e-9)


@fast
@given(n=n_points, dw=dwell)
def test_time_axis(n: int, dw: float) -> None:
    t = axes.time_axis(n, dw)
    assert t[0] == 0.0 and t.shape == (n,)
    assert t[-1] == pytest.approx((n - 1) * dw)


@fast
@given(n=st.integers(min_value=2, max_value=1024), seed=st.integers(0, 2**31 - 1),
       lead=st.sampled_from([(), (3,), (2, 4)]))
def test_fft_round_trip(n: int, seed: int, lead: tuple[int, ...]) -> None:
    rng = np.random.default_rng(seed)
    fid = rng.standard_normal(lead + (n,)) + 1j * rng.standard_normal(lead + (n,))
    back = axes.spectrum_to_fid(axes.fid_to_spectrum(fid))
    np.testing.assert_allclose(back, fid, atol=1e-10 * (1 + np.abs(fid).max()))


@fast
@given(n=st.integers(min_value=16, max_value=4096), dw=dwell, f=mhz,
       offset_bins=st.integers(min_value=-4, max_value=4))
def test_positive_frequency_is_higher_ppm(n: int, dw: float, f: float, offset_bins: int) -> None:
    """A complex exponential exp(2 pi i f t) peaks at +f Hz, i.e. at ref + f/MHz ppm."""
    hz = offset_bins / (n * dw)
    fid = np.exp(2j * np.pi * hz * axes.time_axis(n, dw))
    spec = axes.fid_to_spectrum(fid)
    peak = int(np.argmax(np.abs(spec)))
    assert axes.hz_axis(n, dw)[peak] == pytest.approx(hz, abs=1e-6 / dw)
    assert axes.ppm_axis(n, dw, f, 4.65)[peak] == pytest.approx(4.65 + hz / f, abs=1e-6)


@fast
@given(n=st.integers(min_value=2, max_value=4096), dw=dwell, f=mhz, r=ref,
       a=st.floats(min_value=-30, max_value=30), b=st.floats(min_value=-30, max_value=30))
def test_ppm_slice(n: int, dw: float, f: float, r: float, a: float, b: float) -> None:
    ppm = axes.ppm_axis(n, dw, f, r)
    sl = axes.ppm_slice(ppm, a, b)
    lo, hi = min(a, b), max(a, b)
    inside = ppm[sl]
    assert np.all((inside >= lo) & (inside <= hi))
    # everything outside the slice is outside the range
    outside = np.concatenate([ppm[: sl.start], ppm[sl.stop:]])
    assert not np.any((outside >= lo) & (outside <= hi))
    assert axes.ppm_slice(ppm, b, a) == sl  # order of the limits does not matter


def test_known_values() -> None:
    # 8 points, 1 ms dwell -> 125 Hz bins; at 100 MHz, 1.25 ppm per bin, 4.65 at index 4
    ppm = axes.ppm_axis(8, 1e-3, 100.0, 4.65)
    np.testing.assert_allclose(ppm, 4.65 + np.arange(-4, 4) * 1.25)
    assert axes.ppm_to_hz(2.01, 123.2, 4.65) == pytest.approx((2.01 - 4.65) * 123.2)
