"""Preprocessing benchmarks: throughput of the default pipeline and the accuracy of its steps.

Data: synthetic lesion-like SVS from :func:`pmlmrs.preprocess._synthetic.lesion_like_svs`
(NAA/Cr/Cho + broad lipids + residual water, 2048 points, 2000 Hz, 127.75 MHz, random-walk frequency
and phase drift, 3 motion-corrupted transients, seeded), with a 4-transient water reference.

- *throughput*: transients per CPU second and per wall-clock second of
  :func:`pmlmrs.preprocess.preprocess` (coil combination, alignment, rejection, averaging, ECC,
  HLSVD, phasing, referencing, QC) on 32 coils x 64 transients, after one warm-up call, BLAS
  limited to one thread (threadpoolctl).
- *accuracy* (8 coils x 64 transients, NAA SNR ~120 after averaging): RMS and maximum error of the
  recovered per-transient frequency (Hz) and phase (deg) drift, SNR of the SVD combination over
  the optimum with known sensitivities, residual water after HLSVD (% of the NAA peak), and
  whether exactly the corrupted transients were rejected.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np


def _throughput(n_coils: int, n_transients: int, repeats: int) -> dict[str, float]:
    from threadpoolctl import threadpool_limits

    from pmlmrs.preprocess import preprocess
    from pmlmrs.preprocess._synthetic import lesion_like_svs

    syn = lesion_like_svs(np.random.default_rng(1), n_coils=n_coils, n_transients=n_transients)
    with threadpool_limits(limits=1):
        preprocess(syn.metab, syn.water)  # warm-up (imports, FFT plans)
        wall, cpu = [], []
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            preprocess(syn.metab, syn.water)
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    return {"wall_s": float(np.median(wall)), "cpu_s": float(np.median(cpu)), "n": n_transients}


def _accuracy(seed: int, noise_sd: float = 0.35) -> dict[str, float]:
    from pmlmrs.core import axes
    from pmlmrs.preprocess import coil_weights, preprocess
    from pmlmrs.preprocess._synthetic import lesion_like_svs

    syn = lesion_like_svs(np.random.default_rng(seed), noise_sd=noise_sd)
    res = preprocess(syn.metab, syn.water)
    good = [i for i in range(64) if i not in syn.corrupted]
    ef = np.asarray(res.qc["frequency_drift_hz"])[good] - syn.freq_drift_hz[good]
    ep = np.asarray(res.qc["phase_drift_deg"])[good] - syn.phase_drift_deg[good]
    ef, ep = ef - ef.mean(), ep - ep.mean()
    s, psi = syn.sensitivities, syn.noise_cov
    w = coil_weights(syn.metab, syn.water)
    snr_ratio = (abs(w @ s) / np.sqrt(np.real(w @ psi @ w.conj()))) / np.sqrt(np.real(s.conj() @ np.linalg.solve(psi, s)))
    # HLSVD on the noise-free average: what is left of the water, in % of the NAA peak
    from pmlmrs.core import Spectrum
    from pmlmrs.preprocess import remove_water

    clean = Spectrum(syn.clean + syn.water_line, syn.metab.header)
    out = np.asarray(remove_water(clean).data)
    naa = np.real(axes.fid_to_spectrum(syn.clean))[clean.slice_ppm(1.9, 2.1)].max()
    left = np.abs(axes.fid_to_spectrum(out - syn.clean)).max() / naa
    return {
        "f_rms": float(np.sqrt(np.mean(ef ** 2))), "f_max": float(np.abs(ef).max()),
        "p_rms": float(np.sqrt(np.mean(ep ** 2))), "p_max": float(np.abs(ep).max()),
        "snr_ratio": float(snr_ratio), "water_left": float(left),
        "qc_residual_water": float(res.qc["residual_water"]),
        "rejected_ok": sorted(r["index"] for r in res.qc["rejected"]) == sorted(syn.corrupted),
        "snr_after": float(res.qc["snr_after"]),
    }


def run(full: bool = False) -> list[dict[str, Any]]:
    """The benchmark rows (see ``benchmarks/run_all.py`` for the row keys)."""
    rows: list[dict[str, Any]] = []
    for n_coils in ((32, 8) if full else (32,)):
        m = _throughput(n_coils, 64, 5 if full else 3)
        case = f"default pipeline, {n_coils} coils x 64 transients, 1 thread"
        notes = "2048 points, water reference 4 transients; median of repeats after a warm-up"
        rows.append({"case": case, "metric": "throughput (CPU time)", "value": m["n"] / m["cpu_s"],
                     "unit": "transients/CPU-s", "n": m["n"], "notes": notes})
        rows.append({"case": case, "metric": "throughput (wall clock)", "value": m["n"] / m["wall_s"],
                     "unit": "transients/s", "n": m["n"], "notes": notes + "; depends on machine load"})
    seeds = range(5 if full else 2)
    acc = [_accuracy(s) for s in seeds]
    mean = {k: float(np.mean([a[k] for a in acc])) for k in acc[0] if k != "rejected_ok"}
    worst = {k: float(np.max([a[k] for a in acc])) for k in ("f_max", "p_max")}
    n = len(acc)
    snr = f"NAA SNR {mean['snr_after']:.0f} after averaging (~15 per transient); {n} seeds"
    rows += [
        {"case": "drift recovery, 8 coils x 64", "metric": "frequency error RMS", "value": mean["f_rms"], "unit": "Hz",
         "target": "<= 0.1", "ok": mean["f_rms"] <= 0.1, "n": n, "notes": snr + f"; max {worst['f_max']:.3f} Hz"},
        {"case": "drift recovery, 8 coils x 64", "metric": "phase error RMS", "value": mean["p_rms"], "unit": "deg",
         "target": "<= 1", "ok": mean["p_rms"] <= 1.0, "n": n, "notes": snr + f"; max {worst['p_max']:.2f} deg"},
        {"case": "SVD coil combination, weights from water", "metric": "SNR / optimum", "value": 100 * mean["snr_ratio"],
         "unit": "%", "target": ">= 95", "ok": mean["snr_ratio"] >= 0.95, "n": n,
         "notes": "optimum: sqrt(s^H Psi^-1 s) with the true sensitivities and noise covariance"},
        {"case": "HLSVD water removal (noise-free)", "metric": "water left", "value": 100 * mean["water_left"],
         "unit": "% of NAA", "target": "<= 5", "ok": mean["water_left"] <= 0.05, "n": n,
         "notes": "max |spectrum of (output - true metabolite FID)|; water 8x the NAA FID amplitude"},
        {"case": "pipeline QC residual water", "metric": "residual water", "value": 100 * mean["qc_residual_water"],
         "unit": "% of NAA", "target": "<= 5", "ok": mean["qc_residual_water"] <= 0.05, "n": n,
         "notes": "pmlmrs.preprocess.residual_water on the noisy output (noise-limited)"},
        {"case": "outlier rejection", "metric": "corrupted transients rejected exactly", "value": float(sum(a["rejected_ok"] for a in acc)),
         "unit": f"of {n} runs", "target": f"= {n}", "ok": all(a["rejected_ok"] for a in acc), "n": n,
         "notes": "3 motion-corrupted transients of 64"},
    ]
    return rows


if __name__ == "__main__":  # pragma: no cover
    for row in run():
        print(row)
