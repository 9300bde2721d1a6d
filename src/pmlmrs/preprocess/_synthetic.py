"""Synthetic lesion-like multi-coil, multi-transient SVS data with known truth (tests, benchmarks).

The metabolite FID has NAA, Cr and Cho singlets (Lorentzian), broad lipids at 0.9 and 1.3 ppm
(PML-lesion-like) and a residual water line; each transient gets a frequency drift (Gaussian
random walk, Hz), a phase drift (random walk, degrees), and chosen transients are corrupted
(amplitude loss, broadening, jumps: motion). Each coil sees the same signal times a complex
sensitivity, plus complex Gaussian noise with a known covariance between coils.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pmlmrs.core import Header, Spectrum, axes

__all__ = ["SyntheticSVS", "lesion_like_svs", "LESION_PEAKS"]

#: (ppm, FID amplitude, Lorentzian FWHM Hz) of each component.
LESION_PEAKS: dict[str, tuple[float, float, float]] = {
    "NAA": (2.008, 1.0, 6.0),
    "Cr": (3.027, 0.9, 6.0),
    "Cho": (3.185, 1.0, 6.0),
    "Lip13": (1.30, 4.0, 28.0),
    "Lip09": (0.90, 1.5, 28.0),
}


@dataclass
class SyntheticSVS:
    """Synthetic data and the truth behind it."""

    metab: Spectrum                      #: dims ("coil", "dyn")
    water: Spectrum                      #: dims ("coil", "dyn") water reference
    clean: NDArray[np.complex128]        #: (n,) noise-free metabolite FID without water or drift
    water_line: NDArray[np.complex128]   #: (n,) residual water component in ``clean``'s frame
    sensitivities: NDArray[np.complex128]  #: (n_coils,)
    noise_cov: NDArray[np.complex128]    #: (n_coils, n_coils) complex noise covariance
    freq_drift_hz: NDArray[np.float64]   #: (n_transients,)
    phase_drift_deg: NDArray[np.float64]  #: (n_transients,)
    corrupted: tuple[int, ...]


def _lines(t: NDArray, ppm_ref: float, mhz: float, peaks) -> NDArray[np.complex128]:
    fid = np.zeros(t.size, complex)
    for ppm, amp, fwhm in peaks:
        hz = (ppm - ppm_ref) * mhz
        fid += amp * np.exp((2j * np.pi * hz - np.pi * fwhm) * t)
    return fid


def lesion_like_svs(rng: np.random.Generator, *, n_coils: int = 8, n_transients: int = 64,
                    n_points: int = 2048, dwell_time: float = 5e-4, mhz: float = 127.75,
                    noise_sd: float = 0.5, water_amplitude: float = 8.0,
                    freq_step_hz: float = 0.4, phase_step_deg: float = 2.0,
                    corrupted: tuple[int, ...] = (11, 29, 47),
                    eddy_phase_rad: float = 0.0) -> SyntheticSVS:
    """Generate lesion-like SVS data (see the module docstring).

    ``noise_sd`` is the SD of each real channel of one coil's noise, in units of the NAA FID
    amplitude at a unit sensitivity. ``eddy_phase_rad`` adds an eddy-current phase
    ``eddy_phase_rad * exp(-t / 30 ms)`` to both the data and the water reference.
    """
    t = axes.time_axis(n_points, dwell_time)
    ppm_ref = 4.65
    clean = _lines(t, ppm_ref, mhz, LESION_PEAKS.values())
    water_line = _lines(t, ppm_ref, mhz, [(4.68, water_amplitude * 0.8, 7.0), (4.62, water_amplitude * 0.2, 12.0)])
    eddy = np.exp(1j * eddy_phase_rad * np.exp(-t / 0.03))
    sens = (0.3 + 0.7 * rng.random(n_coils)) * np.exp(2j * np.pi * rng.random(n_coils))
    mix = np.eye(n_coils) + 0.15 * (rng.standard_normal((n_coils, n_coils)) + 1j * rng.standard_normal((n_coils, n_coils))) / np.sqrt(2)
    scale = noise_sd * (0.8 + 0.4 * rng.random(n_coils))
    mix = scale[:, None] * mix / np.linalg.norm(mix, axis=1, keepdims=True)
    noise_cov = 2 * mix @ mix.conj().T  # E[n n^H] with real-channel SD ~ noise_sd

    freq = np.cumsum(rng.normal(0, freq_step_hz, n_transients))
    phase = np.cumsum(rng.normal(0, phase_step_deg, n_transients))
    freq -= freq.mean()
    phase -= phase.mean()
    signal = np.empty((n_transients, n_points), complex)
    for k in range(n_transients):
        s = (clean + water_line) * eddy
        if k in corrupted:
            kind = corrupted.index(k) % 3
            if kind == 0:    # amplitude loss (motion dephasing)
                s = 0.3 * s
            elif kind == 1:  # broadening and a frequency jump
                s = 0.6 * s * np.exp(-np.pi * 15.0 * t) * np.exp(2j * np.pi * 6.0 * t)
            else:            # signal from shifted tissue: partial cancellation + jumps
                s = s * (0.5 + 0.5 * np.exp(2j * np.pi * 9.0 * t)) * np.exp(1j * np.pi / 2)
        signal[k] = s * np.exp(1j * (2 * np.pi * freq[k] * t + np.radians(phase[k])))
    white = (rng.standard_normal((n_coils, n_transients, n_points))
             + 1j * rng.standard_normal((n_coils, n_transients, n_points)))
    noise = np.einsum("ij,jkt->ikt", mix, white)
    data = sens[:, None, None] * signal[None] + noise

    # water reference: 4 transients, same coils, water ~ 300x the NAA amplitude
    w_fid = _lines(t, ppm_ref, mhz, [(4.68, 300.0, 7.0)]) * eddy + 0.02 * clean
    w_white = rng.standard_normal((n_coils, 4, n_points)) + 1j * rng.standard_normal((n_coils, 4, n_points))
    w_data = sens[:, None, None] * w_fid[None, None, :] + np.einsum("ij,jkt->ikt", mix, w_white)

    header = Header(mhz, dwell_time, echo_time=0.035, repetition_time=2.0,
                    acquisition={"WaterSuppressed": True})
    metab = Spectrum(data, header, dims=("coil", "dyn"), source="synthetic_lesion_svs")
    water = Spectrum(w_data, header.replace(acquisition={"WaterSuppressed": False}), dims=("coil", "dyn"),
                     source="synthetic_lesion_ref")
    return SyntheticSVS(metab, water, clean, water_line, sens, noise_cov, freq, phase, tuple(corrupted))
