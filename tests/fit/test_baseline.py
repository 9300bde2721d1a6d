"""Baseline designs: the cubic B-spline basis on any fit window."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pmlmrs.fit import FitOptions, LinearCombinationModel
from pmlmrs.fit.baseline import spline_design


@settings(max_examples=300, deadline=None)
@given(lo=st.floats(-1.0, 1.0), width=st.floats(0.5, 5.0), n=st.integers(50, 900),
       spacing=st.floats(0.1, 1.0))
def test_spline_design_covers_any_window(lo: float, width: float, n: int, spacing: float) -> None:
    """Every window and knot spacing gives a design (the last knot interval may round below the
    window edge; 45 of 3000 random windows raised before the fix) whose rows sum to 1."""
    ppm = np.linspace(lo, lo + width, n)
    design = spline_design(ppm, spacing)
    np.testing.assert_allclose(design.matrix.sum(axis=1), 1.0, atol=1e-12)
    assert design.matrix.shape[1] >= 4


def test_fit_with_window_that_failed() -> None:
    """The window 0.2-4.0 ppm on a grid like Siemens SVS_30's (1024 points, 1200.48 Hz, 123.234655 MHz,
    ppm reference 4.6565) raised ValueError from the spline basis before the fix."""
    from pmlmrs.basis import bundled_basis
    from pmlmrs.core import Header, Spectrum

    mhz, dwell, n = 123.234655, 1 / 1200.48, 1024
    t = np.arange(n) * dwell
    fid = sum(amp * np.exp(2j * np.pi * (ppm - 4.65) * mhz * t - np.pi * 5.0 * t)
              for ppm, amp in ((2.008, 3.0), (3.027, 2.0), (3.21, 1.5), (3.92, 1.2)))
    rng = np.random.default_rng(3)
    fid = fid + 0.01 * (rng.standard_normal(n) + 1j * rng.standard_normal(n))
    spec = Spectrum(fid, Header(mhz, dwell, echo_time=0.03, ppm_reference=4.6565))
    res = LinearCombinationModel(bundled_basis(), FitOptions(ppm_range=(0.2, 4.0))).fit(spec)
    assert res.ppm.min() >= 0.2 and res.ppm.max() <= 4.0
    assert res.amplitude("NAA") > 0 and res.amplitude("Cr") + res.amplitude("PCr") > 0
