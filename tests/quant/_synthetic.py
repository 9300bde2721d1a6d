"""Synthetic FitResults with known truth, for tests of quant, qc, report and the fit outputs.

Components are Lorentzian multiplets on the ISMRM-challenge grid (123.2 MHz, 4000 Hz, 2048 points);
data = components + baseline + seeded noise; covariance = sigma² (JᵀJ)⁻¹ of the linear model (real
parts over the window), so CRLBs are the true linear-model bounds, not made-up numbers.
"""

from __future__ import annotations

import numpy as np

from pmlmrs.core import Header, Spectrum, axes
from pmlmrs.fit import FitResult

MHZ, SW, N = 123.2, 4000.0, 2048
#: name -> list of (ppm, protons)
PEAKS = {
    "NAA": [(2.008, 3), (2.49, 1), (2.67, 1)],
    "NAAG": [(2.042, 3), (2.52, 1)],
    "Cr": [(3.027, 3), (3.913, 2)],
    "PCr": [(3.029, 3), (3.930, 2)],
    "GPC": [(3.212, 9), (3.67, 2)],
    "PCho": [(3.208, 9), (3.64, 2)],
    "Ins": [(3.52, 2), (3.61, 2), (4.05, 1), (3.27, 1)],
    "Glu": [(2.34, 2), (2.08, 2), (3.74, 1)],
    "Gln": [(2.44, 2), (2.12, 2), (3.76, 1)],
    "Lip09": [(0.89, 3)],
    "Lip13a": [(1.28, 6)],
    "Lip13b": [(1.43, 4)],
}
TRUTH = {"NAA": 10.0, "NAAG": 1.5, "Cr": 5.0, "PCr": 3.0, "GPC": 1.0, "PCho": 0.6, "Ins": 5.5,
         "Glu": 8.0, "Gln": 3.0, "Lip09": 0.5, "Lip13a": 0.7, "Lip13b": 0.4}
GROUP = {n: ("lipids_mm" if n.startswith("Lip") else "metabolites") for n in PEAKS}


def component_spectra(lw_hz: float = 6.0, lip_lw_hz: float = 20.0, lip_phase_deg: float = 0.0,
                      names=tuple(PEAKS)) -> np.ndarray:
    """(n_components, N) unit-amplitude spectra on the full grid."""
    t = axes.time_axis(N, 1 / SW)
    out = []
    for n in names:
        fid = np.zeros(N, complex)
        lw = lip_lw_hz if n.startswith("Lip") else lw_hz
        ph = np.deg2rad(lip_phase_deg) if n.startswith("Lip") else 0.0
        for ppm, protons in PEAKS[n]:
            hz = (ppm - 4.65) * MHZ
            fid += protons * np.exp(2j * np.pi * hz * t - np.pi * lw * t + 1j * ph)
        fid[0] *= 0.5
        out.append(axes.fid_to_spectrum(fid))
    return np.array(out)


def make_result(rng: np.random.Generator, *, amplitudes: dict | None = None, lw_hz: float = 6.0,
                noise_sd: float = 2.0, lip_phase_deg: float = 0.0, data_lip_phase_deg: float | None = None,
                converged: bool = True, names=tuple(PEAKS), window=(0.2, 4.2),
                extra_signal: np.ndarray | None = None) -> FitResult:
    """A FitResult of a linear fit of the synthetic components to synthetic data.

    ``data_lip_phase_deg`` puts the lipids in the *data* at another phase than in the model (out-of-voxel
    lipids); the amplitudes are then the least-squares ones, as a fit would give.
    """
    amps = dict(TRUTH if amplitudes is None else amplitudes)
    truth = np.array([amps.get(n, 0.0) for n in names])
    ppm_full = axes.ppm_axis(N, 1 / SW, MHZ, 4.65)
    sl = axes.ppm_slice(ppm_full, *window)
    ppm = ppm_full[sl]
    model_c = component_spectra(lw_hz, lip_phase_deg=lip_phase_deg, names=names)[:, sl]
    data_c = model_c if data_lip_phase_deg is None else component_spectra(
        lw_hz, lip_phase_deg=data_lip_phase_deg, names=names)[:, sl]
    baseline = (50.0 + 10.0 * (ppm - 2.0)).astype(complex)
    noise = rng.normal(0, noise_sd, ppm.size) + 1j * rng.normal(0, noise_sd, ppm.size)
    data = truth @ data_c + baseline + noise
    if extra_signal is not None:
        data = data + extra_signal[sl]
    # linear least squares on the real part (baseline known), covariance sigma² (JᵀJ)⁻¹
    J = model_c.real.T
    y = (data - baseline).real
    a, *_ = np.linalg.lstsq(J, y, rcond=None)
    a = np.clip(a, 0, None)
    cov = noise_sd**2 * np.linalg.inv(J.T @ J)
    comps = a[:, None] * model_c
    fit = comps.sum(axis=0) + baseline
    # the full-grid FID of the data, for the Spectrum
    full = np.zeros(N, complex)
    full[sl] = data
    spec = Spectrum(axes.spectrum_to_fid(full), Header(MHZ, 1 / SW, echo_time=0.030), source="/tmp/synthetic_1.nii.gz")
    return FitResult(
        spectrum=spec, names=tuple(names), groups=tuple(GROUP[n] for n in names), amplitudes=a, covariance=cov,
        crlb=np.sqrt(np.diag(cov)),
        params={"phase0_deg": 0.0, "phase1_deg_per_ppm": 0.0, "shift_hz": {"metabolites": 0.0, "lipids_mm": 0.0},
                "lorentz_hz": {"metabolites": lw_hz, "lipids_mm": 20.0}, "gauss_hz": {"metabolites": 0.0}},
        ppm=ppm, data=data, fit=fit, baseline=baseline, components=comps, noise_sd=noise_sd,
        converged=converged, message="ok" if converged else "maximum iterations reached", n_iterations=12,
        options={"ppm_range": list(window), "backend": "numpy"},
    )
