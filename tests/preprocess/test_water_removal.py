"""HLSVD: model recovery and residual water below 5 % of the NAA peak."""

from __future__ import annotations

import numpy as np
import pytest

from pmlmrs.core import Spectrum, axes
from pmlmrs.preprocess import WaterRemovalOptions, hlsvd, remove_water
from pmlmrs.preprocess._synthetic import lesion_like_svs


def test_hlsvd_recovers_damped_sinusoids():
    dwell, n = 5e-4, 1024
    t = np.arange(n) * dwell
    truth = [(-120.0, 20.0, 1.0 + 0.5j), (35.0, 40.0, 2.0), (310.0, 80.0, -0.7j)]
    fid = sum(a * np.exp((2j * np.pi * f - d) * t) for f, d, a in truth)
    model = hlsvd(fid, dwell, n_components=3, n_fit=n)
    order = np.argsort(model.frequency)
    np.testing.assert_allclose(model.frequency[order], [f for f, _, _ in truth], atol=1e-6)
    np.testing.assert_allclose(model.damping[order], [d for _, d, _ in truth], atol=1e-6)
    np.testing.assert_allclose(model.amplitude[order], [a for _, _, a in truth], atol=1e-8)


def test_residual_water_below_5_percent_of_naa(rng):
    syn = lesion_like_svs(rng, n_coils=1, n_transients=1, water_amplitude=20.0)
    noise = 0.02 * (rng.standard_normal(syn.clean.size) + 1j * rng.standard_normal(syn.clean.size))
    data = syn.clean + syn.water_line + noise
    s = Spectrum(data, syn.metab.header)
    out = remove_water(s)
    # what HLSVD left of the water (and took from anything else): output minus (data - water)
    leftover = axes.fid_to_spectrum(np.asarray(out.data) - (data - syn.water_line))
    naa = np.real(axes.fid_to_spectrum(syn.clean))[s.slice_ppm(1.9, 2.1)].max()
    water_height = np.abs(axes.fid_to_spectrum(syn.water_line)).max()
    assert water_height / naa > 10  # residual water 10x the NAA peak to begin with
    assert np.abs(leftover).max() / naa < 0.05
    sel = s.slice_ppm(0.5, 4.0)  # metabolites and lipids untouched
    assert np.abs(leftover[sel]).max() / naa < 0.02
    step = out.provenance[-1]
    assert step.name == "water_removal" and step.params["components_removed"] >= 1


def test_a_line_below_the_water_window_is_kept_whole(rng):
    """A broad line at 4.1-4.3 ppm (ISMRM 2016 dataset 24 has one; HLSVD models it as components at
    4.11, 4.22 and 4.28 ppm) is not water; a window reaching down to 4.2 ppm removed part of it. Water at 4.7 ppm
    goes; the 4.15 ppm line stays (to 2 % of its height)."""
    syn = lesion_like_svs(rng, n_coils=1, n_transients=1, water_amplitude=20.0)
    h = syn.metab.header
    t = np.arange(syn.clean.size) * h.dwell_time
    mhz, ref = h.spectrometer_frequency, h.ppm_reference
    # the components HLSVD finds in dataset 24's line: (ppm, FWHM Hz, amplitude)
    broad = sum(a * np.exp((2j * np.pi * (p - ref) * mhz - np.pi * w) * t)
                for p, w, a in ((4.11, 29.0, 3.0), (4.22, 30.0, 2.2j), (4.28, 84.0, -0.75)))
    noise = 0.02 * (rng.standard_normal(t.size) + 1j * rng.standard_normal(t.size))
    s = Spectrum(syn.clean + broad + syn.water_line + noise, h)
    out = remove_water(s)
    leftover = axes.fid_to_spectrum(np.asarray(out.data) - (syn.clean + broad + noise))
    height = np.abs(axes.fid_to_spectrum(broad)).max()
    assert np.abs(leftover[s.slice_ppm(3.9, 4.3)]).max() / height < 0.02
    water = np.abs(axes.fid_to_spectrum(syn.water_line)).max()
    assert np.abs(leftover[s.slice_ppm(4.5, 4.9)]).max() / water < 0.05


def test_options_are_validated():
    with pytest.raises(ValueError):
        WaterRemovalOptions(n_components=0)
    assert WaterRemovalOptions(ppm_range=(5.2, 4.2)).ppm_range == (4.2, 5.2)
    assert WaterRemovalOptions().ppm_range == (4.4, 5.0)  # water +- 0.3 ppm
