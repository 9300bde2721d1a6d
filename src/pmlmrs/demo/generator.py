"""A synthetic PML cohort in MRS-BIDS, shaped like the findings of Schneider et al. 2017.

Nothing here is patient data. Spectra are simulated from the bundled ISMRM 2016 basis (PRESS,
TE 30 ms, 123.2 MHz) with NAWM-like concentrations, simulated lipids (LCModel Lip09, Lip13a,
Lip13b, Lip20: broad Gaussians at 0.9/1.3/2.0 ppm) and the measured macromolecules, a Voigt
lineshape (Lorentzian x Gaussian), a frequency offset, a zero-order phase and complex Gaussian
noise. Lesion voxels carry stage effects (:data:`LESION_EFFECTS`):

- Lip/tCr up in pre-IRIS (lipids up, tCr down), highest in IRIS, above normal in early post-PML,
  normal in late post-PML;
- tCho/tCr up only in IRIS;
- tNAA/tCho down in pre-IRIS, IRIS and early post-PML; tNAA/tCr down in pre-IRIS and early
  post-PML;
- a latent per-exam severity lowers NAA, raises choline and lipids and worsens KPS/EDSS, so that in
  post-PML exams the KPS change correlates with tNAA/tCho (+), tCho/tCr (−) and the lipid rise (−).

Dates follow the stage rules of :mod:`pmlmrs.study.stages` (symptom onset; 19/23 months), KPS is
in steps of 10 and EDSS in steps of 0.5. Some voxels are stored raw (coil x dyn transients with
frequency drift and phase jitter, ``coil_combine``/``align`` needed); the others are averaged
spectra. Every voxel has a water reference.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from pmlmrs.errors import WriteError

__all__ = [
    "DEMO_BASIS",
    "NAWM_CONCENTRATIONS",
    "NAWM_LIPIDS",
    "LESION_EFFECTS",
    "SCHEDULE",
    "DemoCohort",
    "make_demo_cohort",
    "simulate_voxel",
]

#: The bundled basis the demo is simulated from (and fitted with).
DEMO_BASIS = "ismrm2016_press_3T_30ms"

#: NAWM concentrations (mM; basis units), adult frontal/parietal white matter at 3 T.
NAWM_CONCENTRATIONS: dict[str, float] = {
    "NAA": 8.0, "NAAG": 1.5, "Cr": 3.6, "PCr": 2.6, "GPC": 1.1, "PCho": 0.4, "Ins": 4.2,
    "Glu": 6.0, "Gln": 2.0, "GSH": 1.3, "Tau": 0.8, "Lac": 0.4, "GABA": 0.9, "Asp": 1.3, "sIns": 0.2,
    "Glc": 0.8, "PE": 1.0, "Ala": 0.2, "Asc": 0.8, "Gly": 0.4, "Ace": 0.0, "Mac": 8.0,
}
#: NAWM lipid components (basis units; LCModel simulated components).
NAWM_LIPIDS: dict[str, float] = {"Lip09": 0.5, "Lip13a": 0.7, "Lip13b": 0.5, "Lip20": 0.3}

#: Lesion / NAWM factors per stage (before the per-exam severity and the biological noise).
LESION_EFFECTS: dict[str, dict[str, float]] = {
    "pre_iris": {"NAA": 0.55, "NAAG": 0.55, "Cr": 0.8, "PCr": 0.8, "GPC": 0.82, "PCho": 0.82,
                 "lipids": 4.0, "Ins": 1.0, "Glu": 0.7},
    "iris": {"NAA": 0.7, "NAAG": 0.7, "Cr": 0.75, "PCr": 0.75, "GPC": 1.55, "PCho": 1.55,
             "lipids": 9.0, "Ins": 1.4, "Glu": 0.75, "Lac": 3.0},
    "early_post_pml": {"NAA": 0.58, "NAAG": 0.58, "Cr": 0.82, "PCr": 0.82, "GPC": 0.85, "PCho": 0.85,
                       "lipids": 3.0, "Ins": 1.2, "Glu": 0.7},
    "late_post_pml": {"NAA": 0.93, "NAAG": 0.93, "Cr": 0.97, "PCr": 0.97, "lipids": 1.0, "Ins": 1.1},
    "unassigned": {"NAA": 0.8, "NAAG": 0.8, "Cr": 0.9, "PCr": 0.9, "lipids": 1.4, "Ins": 1.1},
}

#: Exams per patient (stages in order); the first five multi-exam rows are the follow-up patients.
#: Ordered so that a short prefix still covers every stage.
SCHEDULE: tuple[tuple[str, ...], ...] = (
    ("pre_iris", "iris", "early_post_pml"),
    ("late_post_pml",),
    ("iris",),
    ("pre_iris", "iris"),
    ("early_post_pml",),
    ("iris", "early_post_pml", "late_post_pml"),
    ("pre_iris",),
    ("early_post_pml",),
    ("late_post_pml",),
    ("pre_iris", "iris", "early_post_pml"),
    ("iris",),
    ("early_post_pml",),
    ("late_post_pml",),
    ("pre_iris",),
    ("iris", "early_post_pml", "unassigned"),
    ("early_post_pml",),
    ("iris",),
    ("late_post_pml",),
    ("early_post_pml",),
    ("pre_iris",),
)
_WITHOUT_IRIS = {8}   # patient index (0-based) with PML but no IRIS: staged by time since onset
_EXPLICIT = {12}      # patient index whose sessions.tsv gives the stage explicitly

_SEVERITY = {"NAA": -0.07, "NAAG": -0.07, "GPC": 0.06, "PCho": 0.06, "lipids": 0.8}
_KPS_BASE = {"pre_iris": -20, "iris": -40, "early_post_pml": -35, "late_post_pml": -25, "unassigned": -30}
_EDSS_BASE = {"pre_iris": 1.0, "iris": 2.0, "early_post_pml": 1.75, "late_post_pml": 1.25, "unassigned": 1.5}


@dataclasses.dataclass(frozen=True)
class DemoCohort:
    """What :func:`make_demo_cohort` wrote.

    Attributes
    ----------
    bids_dir : Path
    n_patients, n_exams, n_voxels, n_raw : int
        ``n_raw`` voxels are stored as coil x dyn transients.
    truth : Path
        ``demo_truth.tsv``: the simulated stage, severity and concentrations of every voxel.
    """

    bids_dir: Path
    n_patients: int
    n_exams: int
    n_voxels: int
    n_raw: int
    truth: Path


def _lineshape(t: np.ndarray, lorentz_hz: float, gauss_hz: float, shift_hz: float, phase_rad: float) -> np.ndarray:
    return np.exp(-np.pi * lorentz_hz * t - (np.pi * gauss_hz * t) ** 2 / (4 * np.log(2))
                  + 2j * np.pi * shift_hz * t + 1j * phase_rad)


def simulate_voxel(basis: Any, amplitudes: dict[str, float], *, n_points: int, lorentz_hz: float,
                   gauss_hz: float, shift_hz: float = 0.0, phase_deg: float = 0.0) -> np.ndarray:
    """Noise-free FID ``(n_points,)`` of a voxel: sum of basis and lipid components with one lineshape.

    Parameters
    ----------
    basis : Basis
        Metabolite basis; its dwell time is the data's, its FIDs are truncated to ``n_points``.
    amplitudes : dict
        Component -> amplitude (basis units); ``Lip*`` names are simulated Gaussian components.
    n_points : int
    lorentz_hz, gauss_hz : float
        Extra Lorentzian / Gaussian FWHM.
    shift_hz, phase_deg : float
    """
    from pmlmrs.basis.lipids import proton_area, simulate_components

    lip_names = [n for n in amplitudes if n.startswith("Lip")]
    t = np.arange(n_points) * basis.dwell_time
    fid = np.zeros(n_points, complex)
    for name, amp in amplitudes.items():
        if name in lip_names or amp == 0:
            continue
        src = basis.fid(name)
        seg = np.zeros(n_points, complex)
        m = min(n_points, src.shape[0])
        seg[:m] = src[:m]
        fid += amp * seg
    if lip_names:
        lips = simulate_components(lip_names, n_points, basis.dwell_time, basis.spectrometer_frequency,
                                   basis.ppm_reference, proton_area=proton_area(basis), lipid_model="lcmodel")
        for name in lip_names:
            fid += amplitudes[name] * lips.fid(name)
    return fid * _lineshape(t, lorentz_hz, gauss_hz, shift_hz, math.radians(phase_deg))


def _naa_height(basis: Any, n_points: int, lorentz_hz: float, gauss_hz: float, conc: float) -> float:
    t = np.arange(n_points) * basis.dwell_time
    seg = np.zeros(n_points, complex)
    m = min(n_points, basis.n_points)
    seg[:m] = basis.fid("NAA")[:m]
    spec = np.fft.fftshift(np.fft.fft(conc * seg * _lineshape(t, lorentz_hz, gauss_hz, 0.0, 0.0)))
    return float(np.max(spec.real))


def _days(d: _dt.date, n: int) -> _dt.date:
    return d + _dt.timedelta(days=int(n))


def _exam_date(stage: str, p: dict[str, Any], rng: np.random.Generator) -> _dt.date:
    onset, diag, ion, iend = p["pml_onset"], p["pml_diagnosis"], p["iris_onset"], p["iris_end"]
    month = 365.25 / 12
    if stage == "pre_iris":
        return _days(diag, rng.integers(3, max(4, (ion - diag).days - 5)))
    if stage == "iris":
        return _days(ion, rng.integers(5, max(6, (iend - ion).days - 5)))
    after = (iend if iend is not None else diag)
    if stage == "early_post_pml":
        lo = (after - onset).days + 15
        return _days(onset, rng.integers(lo, max(lo + 1, int(17.5 * month))))
    if stage == "late_post_pml":
        return _days(onset, rng.integers(int(24.5 * month), int(42 * month)))
    return _days(onset, rng.integers(int(19.8 * month), int(22.2 * month)))  # unassigned window


def make_demo_cohort(out_dir: str | Path, *, seed: int = 20170454, n_patients: int = 20,
                     n_points: int = 1024, raw_every: int = 4, coils: int = 4, dyns: int = 16,
                     snr_range: tuple[float, float] = (12.0, 22.0), force: bool = False,
                     basis: Any = None) -> DemoCohort:
    """Write a synthetic MRS-BIDS PML cohort to *out_dir*.

    Parameters
    ----------
    out_dir : path
        The BIDS folder to create.
    seed : int
        Seed of every random draw: the same seed gives the same files (byte for byte, except the
        NIfTI-MRS creation time stamps, which the writer may add).
    n_patients : int
        1 to 20 (:data:`SCHEDULE`); patients 1, 4, 6, 10 and 15 have follow-up exams.
    n_points : int
        Time points per FID (at 4000 Hz).
    raw_every : int
        Both voxels of every ``raw_every``-th exam are stored as ``coil x dyn`` transients (0: none).
    coils, dyns : int
    snr_range : (float, float)
        NAA peak-height SNR of the averaged NAWM spectrum.
    force : bool
        Replace an existing *out_dir* (WriteError otherwise).
    basis : Basis, optional
        Default: the bundled :data:`DEMO_BASIS`.

    Returns
    -------
    DemoCohort
    """
    from pmlmrs.core import Geometry, Header, ProcessingStep, Spectrum
    from pmlmrs.io import save
    from pmlmrs.quant.outputs import write_tsv
    from pmlmrs.quant.water import QuantOptions, concentration_scale

    if not 1 <= n_patients <= len(SCHEDULE):
        from pmlmrs.errors import ConfigError

        raise ConfigError(f"'n_patients' must be 1-{len(SCHEDULE)}, but got {n_patients!r} instead.")
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        if not force:
            raise WriteError("exists and is not empty; use --force (force=True) to replace it", out)
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    if basis is None:
        from pmlmrs.basis import bundled_basis

        basis = bundled_basis(DEMO_BASIS)
    rng = np.random.default_rng(seed)
    dwell = basis.dwell_time
    f0 = basis.spectrometer_frequency
    te = basis.echo_time or 0.03
    t = np.arange(n_points) * dwell
    # Water amplitude that makes water scaling return the simulated concentrations (mM).
    water_unit = concentration_scale(1.0, QuantOptions(), echo_time=te)
    # A fixed time stamp keeps the files byte-identical for one seed (re-runs reuse their fits).
    step = ProcessingStep("simulate", params={"seed": seed, "basis": DEMO_BASIS},
                          details="pmlmrs demo: synthetic spectrum (not patient data)",
                          time="2017-08-31T00:00:00+00:00")

    (out / "dataset_description.json").write_text(json.dumps({
        "Name": "pmlmrs demo cohort (synthetic natalizumab-associated PML, 1H MRS)",
        "BIDSVersion": "1.9.0", "DatasetType": "raw", "License": "CC0",
        "Authors": ["pmlmrs"],
        "GeneratedBy": [{"Name": "pmlmrs demo", "Description": f"make_demo_cohort(seed={seed})"}],
        "HowToAcknowledge": "Synthetic data; no patient data. Effects shaped like Schneider et al. 2017, "
                            "doi:10.3389/fneur.2017.00454.",
    }, indent=2) + "\n", encoding="utf-8")
    (out / ".bidsignore").write_text("demo_truth.tsv\n", encoding="utf-8")
    (out / "README").write_text(
        "Synthetic PML cohort generated by `pmlmrs demo` (see pmlmrs.demo.generator). Not patient data.\n",
        encoding="utf-8")

    participants, truth = [], []
    n_exams = n_voxels = n_raw = 0
    for k in range(n_patients):
        pid = f"sub-{k + 1:02d}"
        onset = _days(_dt.date(2010, 1, 1), rng.integers(0, 6 * 365))
        diag = _days(onset, rng.integers(20, 55))
        stop = _days(diag, rng.integers(0, 4))
        iris_on = _days(stop, rng.integers(30, 70))
        iris_end = _days(iris_on, rng.integers(60, 120))
        if k in _WITHOUT_IRIS:
            iris_on = iris_end = None
        p = {"participant_id": pid, "sex": str(rng.choice(["F", "M"], p=[0.6, 0.4])),
             "age": int(rng.integers(24, 58)), "pml_onset": onset, "pml_diagnosis": diag,
             "natalizumab_stop": stop, "iris_onset": iris_on, "iris_end": iris_end,
             "kps_pre": int(rng.choice([90, 100], p=[0.4, 0.6])),
             "edss_pre": float(rng.choice([1.5, 2.0, 2.5, 3.0, 3.5, 4.0]))}
        participants.append(p)
        sub = out / pid
        sub.mkdir()
        sessions = []
        patient_factor = {m: float(rng.normal(0, 0.05)) for m in NAWM_CONCENTRATIONS}
        for j, stage in enumerate(SCHEDULE[k]):
            sid = f"ses-{j + 1:02d}"
            date = _exam_date(stage, p, rng)
            severity = float(rng.normal(0, 1))
            dk = _KPS_BASE[stage] - 15 * severity + rng.normal(0, 5)
            kps = int(np.clip(round((p["kps_pre"] + dk) / 10) * 10, 10, 100))
            de = _EDSS_BASE[stage] + 0.8 * severity + rng.normal(0, 0.4)
            edss = float(np.clip(round((p["edss_pre"] + de) * 2) / 2, 0, 9.5))
            enh_p = {"pre_iris": 0.3, "iris": 0.9, "early_post_pml": 0.15}.get(stage, 0.0)
            sessions.append({"session_id": sid, "acq_time": date.isoformat(), "kps": kps, "edss": edss,
                             "lesion_enhancing": bool(rng.random() < enh_p),
                             "stage": stage if k in _EXPLICIT else None})
            mrs = sub / sid / "mrs"
            mrs.mkdir(parents=True)
            for voi in ("lesion", "nawm"):
                eff = LESION_EFFECTS[stage] if voi == "lesion" else {}
                amps: dict[str, float] = {}
                for m, c in NAWM_CONCENTRATIONS.items():
                    if m not in basis.names:
                        continue
                    f = eff.get(m, 1.0) * math.exp(patient_factor[m] + rng.normal(0, 0.06))
                    if voi == "lesion":
                        f *= math.exp(_SEVERITY.get(m, 0.0) * severity)
                    amps[m] = c * f
                lip_f = eff.get("lipids", 1.0) * math.exp(rng.normal(0, 0.12))
                if voi == "lesion":
                    lip_f *= math.exp(_SEVERITY["lipids"] * severity)
                for m, c in NAWM_LIPIDS.items():
                    amps[m] = c * lip_f
                lor = float(rng.uniform(2.5, 3.5) + (0.6 if voi == "lesion" else 0.0))
                gau = float(rng.uniform(4.0, 5.5))
                shift = float(rng.normal(0, 2.0))
                phase = float(rng.normal(0, 12.0))
                fid = simulate_voxel(basis, amps, n_points=n_points, lorentz_hz=lor, gauss_hz=gau,
                                     shift_hz=shift, phase_deg=phase)
                snr = float(rng.uniform(*snr_range)) * (0.85 if voi == "lesion" else 1.0)
                height = _naa_height(basis, n_points, lor, gau, NAWM_CONCENTRATIONS["NAA"])
                sigma = height / (snr * math.sqrt(n_points))  # per-point SD of the averaged FID
                water_amp = water_unit * float(rng.uniform(0.95, 1.05))
                water = water_amp * _lineshape(t, lor, gau, shift, math.radians(phase))
                geom = Geometry(np.diag([15.0, 15.0, 15.0, 1.0]) + np.array(
                    [[0, 0, 0, float(rng.uniform(-40, 40))], [0, 0, 0, float(rng.uniform(-30, 30))],
                     [0, 0, 0, float(rng.uniform(0, 40))], [0, 0, 0, 0]]))
                acq = {"Manufacturer": "pmlmrs demo (synthetic)", "ManufacturersModelName": "simulated 3T",
                       "SequenceName": "PRESS", "WaterSuppressed": True}
                hdr = Header(f0, dwell, echo_time=te, repetition_time=2.0, field_strength=None,
                             ppm_reference=basis.ppm_reference, geometry=geom, acquisition=acq)
                raw = raw_every > 0 and n_exams % raw_every == 1 % raw_every
                if raw:
                    sens = rng.uniform(0.4, 1.0, coils) * np.exp(1j * rng.uniform(-np.pi, np.pi, coils))
                    drift = np.linspace(0, float(rng.uniform(2.0, 5.0)), dyns) + rng.normal(0, 0.4, dyns)
                    jitter = np.radians(rng.normal(0, 8.0, dyns))
                    tr_mod = np.exp(2j * np.pi * drift[:, None] * t[None, :] + 1j * jitter[:, None])
                    sig = sens[:, None, None] * (fid[None, :] * tr_mod)[None, :, :]
                    # Per-transient noise so that the optimally combined average has SD sigma.
                    s_tr = sigma * math.sqrt(dyns * float(np.sum(np.abs(sens) ** 2)))
                    noise = rng.normal(0, s_tr / math.sqrt(2), sig.shape) + 1j * rng.normal(
                        0, s_tr / math.sqrt(2), sig.shape)
                    data, dims = sig + noise, ("coil", "dyn")
                    wsig = sens[:, None] * water[None, :]
                    wnoise = rng.normal(0, s_tr / math.sqrt(2), wsig.shape) + 1j * rng.normal(
                        0, s_tr / math.sqrt(2), wsig.shape)
                    wdata, wdims = wsig + wnoise, ("coil",)
                    n_raw += 1
                else:
                    noise = rng.normal(0, sigma / math.sqrt(2), n_points) + 1j * rng.normal(
                        0, sigma / math.sqrt(2), n_points)
                    data, dims = fid + noise, ()
                    wnoise = rng.normal(0, sigma / math.sqrt(2), n_points) + 1j * rng.normal(
                        0, sigma / math.sqrt(2), n_points)
                    wdata, wdims = water + wnoise, ()
                stem = f"{pid}_{sid}_acq-press_voi-{voi}"
                spec = Spectrum(data.astype(np.complex64).astype(np.complex128), hdr, dims=dims,
                                provenance=(step,))
                save(spec, mrs / f"{stem}_svs.nii.gz", force=True)
                whdr = dataclasses.replace(hdr, acquisition={**acq, "WaterSuppressed": False})
                save(Spectrum(wdata.astype(np.complex64).astype(np.complex128), whdr, dims=wdims,
                              provenance=(step,)), mrs / f"{stem}_mrsref.nii.gz", force=True)
                n_voxels += 1
                tr = {"participant_id": pid, "session_id": sid, "voi": voi, "stage": stage,
                      "severity": round(severity, 4), "raw": raw, "snr_target": round(snr, 2),
                      "lorentz_hz": round(lor, 3), "gauss_hz": round(gau, 3), "shift_hz": round(shift, 3),
                      "phase_deg": round(phase, 2)}
                tr.update({m: round(v, 5) for m, v in amps.items()})
                tcr = amps["Cr"] + amps["PCr"]
                tr["tNAA_tCr"] = round((amps["NAA"] + amps["NAAG"]) / tcr, 5)
                tr["tCho_tCr"] = round((amps["GPC"] + amps["PCho"]) / tcr, 5)
                tr["tNAA_tCho"] = round((amps["NAA"] + amps["NAAG"]) / (amps["GPC"] + amps["PCho"]), 5)
                tr["Lip_tCr"] = round((amps["Lip09"] + amps["Lip13a"] + amps["Lip13b"]) / tcr, 5)
                truth.append(tr)
            n_exams += 1
        cols = ["session_id", "acq_time", "kps", "edss", "lesion_enhancing"]
        if k in _EXPLICIT:
            cols.append("stage")
        write_tsv(sub / f"{pid}_sessions.tsv", sessions, cols)
    write_tsv(out / "participants.tsv", participants,
              ["participant_id", "sex", "age", "pml_onset", "pml_diagnosis", "natalizumab_stop", "iris_onset",
               "iris_end", "kps_pre", "edss_pre"])
    (out / "participants.json").write_text(json.dumps({
        "pml_onset": {"Description": "date of the first PML symptoms (ISO 8601)"},
        "pml_diagnosis": {"Description": "date PML was diagnosed (ISO 8601)"},
        "natalizumab_stop": {"Description": "date natalizumab was stopped (ISO 8601)"},
        "iris_onset": {"Description": "IRIS onset (ISO 8601); n/a: no IRIS"},
        "iris_end": {"Description": "IRIS end (ISO 8601); n/a with an onset: ongoing"},
        "kps_pre": {"Description": "Karnofsky Performance Scale about one year before PML (0-100, steps of 10)"},
        "edss_pre": {"Description": "EDSS about one year before PML (0-10, steps of 0.5)"},
    }, indent=2) + "\n", encoding="utf-8")
    tcols = list(dict.fromkeys(k for r in truth for k in r))
    write_tsv(out / "demo_truth.tsv", truth, tcols)
    return DemoCohort(out, n_patients, n_exams, n_voxels, n_raw, out / "demo_truth.tsv")
