"""Synthetic spectra with known truth from a basis (for tests, benchmarks and the demo).

:func:`synthesize` builds ``sum_k a_k basis_k(t)`` plus simulated lipids/MM, applies a Voigt broadening,
a frequency shift, zero/first-order phase and an optional smooth baseline, and adds seeded complex
white noise scaled to a requested SNR (NAA peak height over the SD of the real spectrum noise).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from pmlmrs.basis.basis import Basis
from pmlmrs.basis.lipids import proton_area, simulate_components
from pmlmrs.core import Header, Spectrum, axes
from pmlmrs.fit._forward import GAUSS_C

__all__ = ["synthesize"]


def synthesize(basis: Basis, amps: Mapping[str, float], *, lipids: Mapping[str, float] | None = None,
               header: Header | None = None, shift_hz: float = 2.0, lorentz_hz: float = 3.0,
               gauss_hz: float = 4.0, lip_shift_hz: float | None = None, phase0_deg: float = 25.0,
               phase1_deg_per_ppm: float = 0.0, baseline: float = 0.0, snr: float | None = 50.0,
               rng: np.random.Generator | None = None,
               noise_sd_time: float | None = None, lipid_model: str = "fatty_acyl",
               lip_lorentz_hz: float | None = None) -> tuple[Spectrum, float]:
    """A synthetic spectrum on the basis grid with known truth.

    Parameters
    ----------
    basis : Basis
        Its grid is the spectrum's grid (``header`` defaults to the basis values).
    amps : mapping
        Basis amplitudes by name.
    lipids : mapping, optional
        Simulated lipid/MM amplitudes (``Lip13``, ...; lines of *lipid_model*), in the units of
        :mod:`pmlmrs.basis.lipids`.
    shift_hz, lorentz_hz, gauss_hz : float
        Shift and extra Lorentzian/Gaussian FWHM of every component (lipids: ``lip_shift_hz`` and
        ``lip_lorentz_hz`` when given).
    phase0_deg, phase1_deg_per_ppm : float
        Phase added to the data (first order about the ppm reference).
    baseline : float
        Height of a smooth complex baseline relative to the NAA peak (0: none).
    snr : float or None
        NAA peak height over the real-part noise SD (None: no noise unless ``noise_sd_time``).
    rng : numpy Generator
        Seeded generator (default ``default_rng(0)``).
    noise_sd_time : float, optional
        Time-domain noise SD per real/imaginary part (overrides ``snr``).
    lipid_model : {"fatty_acyl", "lcmodel"}
        Lipid lines that the ``Lip*`` names of *lipids* refer to.

    Returns
    -------
    spectrum : Spectrum
    noise_sd_time : float
    """
    n = basis.n_points
    dwell = basis.dwell_time
    mhz = basis.spectrometer_frequency
    ref = basis.ppm_reference
    if header is None:
        header = Header(mhz, dwell, echo_time=basis.echo_time, ppm_reference=ref)
    t = axes.time_axis(n, dwell)
    env = np.exp((2j * np.pi * shift_hz - np.pi * lorentz_hz) * t - GAUSS_C * gauss_hz ** 2 * t ** 2)
    fid = sum(a * basis.fid(k) for k, a in amps.items()) * env
    if lipids:
        sim = simulate_components(tuple(lipids), n, dwell, mhz, ref, proton_area=proton_area(basis),
                                  lipid_model=lipid_model)
        ls = shift_hz if lip_shift_hz is None else lip_shift_hz
        ll = lorentz_hz if lip_lorentz_hz is None else lip_lorentz_hz
        lenv = np.exp((2j * np.pi * ls - np.pi * ll) * t - GAUSS_C * gauss_hz ** 2 * t ** 2)
        fid = fid + (np.array(list(lipids.values())) @ sim.fids) * lenv
    spec = axes.fid_to_spectrum(fid)
    ppm = axes.ppm_axis(n, dwell, mhz, ref)
    ref_name = "NAA" if "NAA" in amps else next(iter(amps))
    height = float(np.max(np.abs(axes.fid_to_spectrum(amps[ref_name] * basis.fid(ref_name) * env))))
    if baseline:
        bl = baseline * height * (0.3 * np.exp(-((ppm - 2.6) / 1.2) ** 2) + 0.1 * (ppm - 2.2) / 2.0)
        bl = bl * (ppm > -1) * (ppm < 6)
        spec = spec + bl * (1 + 0.3j)
    phase = np.deg2rad(phase0_deg + phase1_deg_per_ppm * (ppm - ref))
    fid = axes.spectrum_to_fid(spec * np.exp(1j * phase))
    sd_t = 0.0
    if snr is not None or noise_sd_time is not None:
        sd_t = float(noise_sd_time) if noise_sd_time is not None else height / snr / np.sqrt(n)
        rng = rng if rng is not None else np.random.default_rng(0)
        fid = fid + sd_t * (rng.standard_normal(n) + 1j * rng.standard_normal(n))
    return Spectrum(fid, header), sd_t
