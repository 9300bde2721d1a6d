"""A held-out synthetic PML cohort for the acceptance check of ``pmlmrs run``.

Usage::

    .venv/bin/python validation/heldout_cohort.py [--out validation_out] [--seed 4540] [--workers 1]
    .venv/bin/python validation/heldout_cohort.py --generate-only BIDS_DIR

Independent of :mod:`pmlmrs.demo` (nothing is imported from it) and of the model's simulated
lipids: only the metabolite shapes come from the bundled ISMRM 2016 basis
(``pmlmrs.basis.bundled_basis()``, PRESS TE 30 ms, 123.2 MHz, 4000 Hz). Everything else is written
here:

* lipids: Lorentzian/Gaussian line groups (CH3 0.89 ppm as a 7 Hz triplet, CH2 1.30 ppm with
  shoulders at 1.22/1.38, 1.58, 2.02, 2.24 ppm), each with its own width, in units of one Cr proton;
* lineshape: a two-component Voigt (a main line and a 25 % shoulder offset by 1-3 Hz, as after an
  imperfect shim), a frequency shift, zero-order phase (any) and a small first-order phase;
* a residual water peak, complex white noise for a target NAA SNR;
* files: NIfTI-MRS written with :func:`pmlmrs.io.save`; some as unaveraged ``dyn`` transients with
  drift and phase jitter, some at 2000 Hz / 1024 points (``acq-svs30``), some without a water
  reference, some sessions with only the lesion voxel.

The clinical tables vary what a real cohort varies: a patient without IRIS (``iris_onset`` n/a),
an ongoing IRIS (``iris_end`` n/a), explicit stages typed as clinicians type them ("IRIS",
"pre-IRIS", "early post-PML"), ``n/a`` scores. Planted effects (lesion vs NAWM, STUDY.md
"Findings"): :data:`PLANTED`. A latent per-exam severity lowers NAA, raises choline and lipids and
worsens the KPS change, so in post-PML exams delta_kps correlates with tNAA/tCho (+), tCho/tCr (-)
and the lipid rise (-).

The report (``OUT/heldout.md``) sets each recovered finding beside the same test on the planted
(noise-free) values, so that a draw too weak to show an effect is told apart from a loss in the
pipeline, and checks that a second ``--force`` run refits nothing. Seed 4540 recovers every finding.
Over seeds 1-5 (2026-11-23) the metabolite findings were recovered whenever the planted values
showed them; what failed were the lipid measures: lesion-vs-NAWM Lip/tCr in 2 of 15 planted cells
and the lipid-rise correlation in 4 of 5 seeds (planted rho -0.65 to -0.92, recovered -0.22 to -0.50),
because the fitted NAWM Lip/tCr barely follows the planted one (rank rho 0.1-0.4; lesion ~0.9, but
~30 % low).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

#: NAWM concentrations (basis units, mM-like).
NAWM = {"NAA": 7.6, "NAAG": 1.3, "Cr": 3.9, "PCr": 2.8, "GPC": 1.25, "PCho": 0.35, "Ins": 4.6, "Glu": 6.4,
        "Gln": 2.3, "GSH": 1.2, "Tau": 0.6, "Lac": 0.3, "GABA": 1.0, "Asp": 1.4, "sIns": 0.25, "Glc": 1.0,
        "PE": 1.1, "Ala": 0.3, "Asc": 0.9, "Gly": 0.5, "Mac": 0.7}
#: NAWM mobile lipid (CH3 + CH2 in Cr-proton units: the scale of Lip09 + Lip13).
NAWM_LIPID = 1.2

#: Lesion / NAWM factors per stage (tNAA, tCr, tCho, Ins, Glx, lipid) before severity and noise.
STAGE_FACTORS: dict[str, dict[str, float]] = {
    "pre_iris": {"naa": 0.58, "cr": 0.82, "cho": 0.80, "ins": 1.05, "glx": 0.8, "lip": 4.0, "lac": 2.0},
    "iris": {"naa": 0.74, "cr": 0.78, "cho": 1.65, "ins": 1.3, "glx": 0.8, "lip": 9.0, "lac": 4.0},
    "early_post_pml": {"naa": 0.5, "cr": 0.86, "cho": 0.84, "ins": 1.2, "glx": 0.75, "lip": 2.8, "lac": 1.5},
    "late_post_pml": {"naa": 0.96, "cr": 0.98, "cho": 1.0, "ins": 1.05, "glx": 0.95, "lip": 1.0, "lac": 1.0},
}
#: Per-exam severity s ~ N(0, 1): lesion factor exp(k * s * SEVERITY_SCALE[stage]) and delta_kps += -15 s.
SEVERITY = {"naa": -0.14, "cho": 0.2, "lip": 0.5}
KPS_SEVERITY = -15.0
SEVERITY_SCALE = {"pre_iris": 0.5, "iris": 0.5, "early_post_pml": 1.0, "late_post_pml": 1.0}
KPS_BASE = {"pre_iris": -20, "iris": -40, "early_post_pml": -35, "late_post_pml": -20}

#: Planted findings (lesion vs NAWM per stage; "" = no planted difference) and correlations.
PLANTED: dict[str, dict[str, str]] = {
    "Lip_tCr": {"pre_iris": "up", "iris": "up", "early_post_pml": "up", "late_post_pml": ""},
    "tCho_tCr": {"pre_iris": "", "iris": "up", "early_post_pml": "", "late_post_pml": ""},
    "tNAA_tCho": {"pre_iris": "down", "iris": "down", "early_post_pml": "down", "late_post_pml": ""},
    "tNAA_tCr": {"pre_iris": "down", "iris": "", "early_post_pml": "down", "late_post_pml": ""},
}
PLANTED_CORRELATIONS = {"tNAA_tCho": "+", "tCho_tCr": "-", "lipid_rise": "-"}

#: Per patient: stages of its exams in order (20 patients, 35 exams).
SCHEDULE: tuple[tuple[str, ...], ...] = (
    ("pre_iris", "iris", "early_post_pml"),
    ("pre_iris", "iris", "early_post_pml", "late_post_pml"),
    ("iris", "early_post_pml"),
    ("pre_iris", "iris"),
    ("pre_iris", "iris", "early_post_pml"),
    ("early_post_pml",),
    ("late_post_pml",),
    ("iris",),
    ("pre_iris",),
    ("early_post_pml", "late_post_pml"),
    ("early_post_pml", "late_post_pml"),   # no IRIS
    ("iris",),                             # explicit stages
    ("late_post_pml",),
    ("pre_iris",),
    ("early_post_pml",),
    ("iris", "late_post_pml"),
    ("early_post_pml",),
    ("late_post_pml",),
    ("pre_iris", "early_post_pml"),        # explicit stages (one n/a)
    ("pre_iris", "iris", "late_post_pml"),
)
NO_IRIS = 10          # patient index with iris_onset n/a
ONGOING_IRIS = 7      # iris_end n/a
EXPLICIT = {11: ["IRIS"], 18: ["pre-IRIS", None]}
SVS30 = {2, 6, 9, 13, 16}          # patients scanned at 2000 Hz / 1024 points (acq-svs30)
NO_NAWM = {(5, 0), (12, 0), (1, 3)}  # (patient, exam) with only the lesion voxel
KPS_NA = {(8, 0), (16, 0)}          # (patient, exam) with kps n/a
EDSS_PRE_NA = {3}

_F0 = 123.2
_REF = 4.65


def _lipid_fid(t: np.ndarray, area: float, rng: np.random.Generator) -> np.ndarray:
    """Mobile lipids: line groups in Cr-proton units; Lip09 + Lip13 scale = area(0.9)/3 + area(1.3)/2."""
    ch2_ch3 = rng.uniform(7.0, 11.0)           # CH2 : CH3 proton ratio of the chains
    # split the planted Lip09+Lip13 scale between CH3 (3 H) and CH2 (2 H units)
    ch3_h = area / (1.0 / 3.0 + ch2_ch3 / 3.0 / 2.0) if area > 0 else 0.0  # CH3 protons
    ch2_h = ch3_h * ch2_ch3 / 3.0
    own = rng.normal(0, 1.5)                   # lipid shift against the metabolites (Hz)
    lines = [  # (ppm, protons, lorentz Hz, gauss Hz)
        (0.89 - 7.0 / _F0, ch3_h * 0.25, 9, 10), (0.89, ch3_h * 0.5, 9, 10), (0.89 + 7.0 / _F0, ch3_h * 0.25, 9, 10),
        (1.30, ch2_h * 0.72, 12, 14), (1.22, ch2_h * 0.12, 14, 10), (1.38, ch2_h * 0.16, 14, 10),
        (1.58, ch3_h * 0.5, 14, 8), (2.02, ch3_h * 0.9, 15, 10), (2.24, ch3_h * 0.5, 14, 8),
    ]
    fid = np.zeros(t.shape, complex)
    for ppm, h, lw, gw in lines:
        hz = (ppm - _REF) * _F0 + own
        fid += h * np.exp(2j * np.pi * hz * t - np.pi * lw * t - (np.pi * gw * t) ** 2 / (4 * math.log(2)))
    return fid


def _lineshape(t: np.ndarray, lor: float, gau: float, shoulder_hz: float) -> np.ndarray:
    v = np.exp(-np.pi * lor * t - (np.pi * gau * t) ** 2 / (4 * math.log(2)))
    return v * (0.75 + 0.25 * np.exp(2j * np.pi * shoulder_hz * t))


def _metab_fids(basis: Any, decimate: int, n: int) -> dict[str, np.ndarray]:
    out = {}
    for name in basis.names:
        f = np.asarray(basis.fid(name))[::decimate][:n]
        seg = np.zeros(n, complex)
        seg[: f.shape[0]] = f
        out[name] = seg
    return out


def _voxel_fid(fids: dict[str, np.ndarray], amps: dict[str, float], lip: float, t: np.ndarray,
               rng: np.random.Generator, *, lor: float, gau: float, shift: float, phase0: float,
               phase1_deg_ppm: float, water_res: float) -> np.ndarray:
    fid = sum(a * fids[m] for m, a in amps.items() if m in fids) + _lipid_fid(t, lip, rng)
    fid = fid + water_res * np.exp(2j * np.pi * (4.68 - _REF) * _F0 * t - np.pi * 6 * t)
    fid = fid * _lineshape(t, lor, gau, rng.uniform(1, 3)) * np.exp(2j * np.pi * shift * t + 1j * phase0)
    if phase1_deg_ppm:
        n, dwell = t.size, t[1] - t[0]
        hz = np.fft.fftfreq(n, dwell)
        spec = np.fft.fft(fid) * np.exp(1j * math.radians(phase1_deg_ppm) * (hz / _F0))
        fid = np.fft.ifft(spec)
    return fid


def _noise(rng: np.random.Generator, sd: float, shape: tuple[int, ...]) -> np.ndarray:
    return rng.normal(0, sd / math.sqrt(2), shape) + 1j * rng.normal(0, sd / math.sqrt(2), shape)


def _days(d: _dt.date, n: int) -> _dt.date:
    return d + _dt.timedelta(days=int(n))


def _exam_date(stage: str, p: dict[str, Any], rng: np.random.Generator) -> _dt.date:
    month = 365.25 / 12
    onset, diag, ion, iend = p["pml_onset"], p["pml_diagnosis"], p["iris_onset"], p["iris_end"]
    if stage == "pre_iris":
        return _days(diag, rng.integers(1, max(2, (ion - diag).days - 2)))
    if stage == "iris":
        end = iend if iend is not None else _days(ion, 60)
        return _days(ion, rng.integers(2, max(3, (end - ion).days - 2)))
    if stage == "early_post_pml":
        after = iend if iend is not None else diag
        lo = (after - onset).days + 10
        return _days(onset, rng.integers(lo, max(lo + 1, int(18 * month))))
    return _days(onset, rng.integers(int(24 * month), int(48 * month)))


def make_heldout_cohort(out_dir: str | Path, *, seed: int = 4540, n_patients: int = 20,
                        patients: tuple[int, ...] | list[int] | None = None,
                        n_points: int = 2048, dyn_every: int = 5, no_ref_every: int = 6,
                        snr_range: tuple[float, float] = (10.0, 30.0)) -> dict[str, Any]:
    """Write the held-out MRS-BIDS cohort to *out_dir* (replaced if it exists).

    ``patients`` (0-based :data:`SCHEDULE` rows) overrides ``n_patients`` (the first n rows); the
    participant ids keep the row number (``sub-h<row + 1>``). ``n_points`` is the length at
    4000 Hz (acq-press); acq-svs30 has half as many at 2000 Hz.
    Returns ``{"bids_dir", "n_patients", "n_exams", "n_voxels", "truth" (path), "exams" (list)}``.
    """
    from pmlmrs.basis import bundled_basis
    from pmlmrs.core import Geometry, Header, Spectrum
    from pmlmrs.io import save
    from pmlmrs.quant.outputs import write_tsv

    rows = list(range(n_patients)) if patients is None else sorted(set(int(k) for k in patients))
    if not rows or rows[0] < 0 or rows[-1] >= len(SCHEDULE):
        raise ValueError(f"patients must be rows 0-{len(SCHEDULE) - 1} of SCHEDULE")
    out = Path(out_dir)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    basis = bundled_basis("ismrm2016_press_3T_30ms")
    rng = np.random.default_rng(seed)
    grids = {}
    for acq, dec, n in (("press", 1, n_points), ("svs30", 2, max(256, n_points // 2))):
        dwell = basis.dwell_time * dec
        grids[acq] = (dwell, n, np.arange(n) * dwell, _metab_fids(basis, dec, n))

    (out / "dataset_description.json").write_text(json.dumps({
        "Name": "pmlmrs held-out synthetic PML cohort", "BIDSVersion": "1.9.0", "DatasetType": "raw",
        "License": "CC0", "GeneratedBy": [{"Name": "validation/heldout_cohort.py", "Description": f"seed {seed}"}],
    }, indent=2) + "\n", encoding="utf-8")
    (out / ".bidsignore").write_text("heldout_truth.tsv\n", encoding="utf-8")

    participants, truth, exams = [], [], []
    n_vox = 0
    exam_no = 0
    for k in rows:
        pid = f"sub-h{k + 1:02d}"
        onset = _days(_dt.date(2011, 3, 1), rng.integers(0, 5 * 365))
        diag = _days(onset, rng.integers(20, 60))
        stop = _days(diag, rng.integers(0, 5))
        ion = _days(stop, rng.integers(25, 60))
        iend = _days(ion, rng.integers(50, 100))
        if k == NO_IRIS:
            ion = iend = None
        if k == ONGOING_IRIS:
            iend = None
        p = {"participant_id": pid, "sex": str(rng.choice(["F", "M"])), "age": int(rng.integers(22, 60)),
             "pml_onset": onset, "pml_diagnosis": diag, "natalizumab_stop": stop, "iris_onset": ion,
             "iris_end": iend, "kps_pre": int(rng.choice([80, 90, 100])),
             "edss_pre": None if k in EDSS_PRE_NA else float(rng.choice(np.arange(1.0, 5.5, 0.5)))}
        participants.append(p)
        acq = "svs30" if k in SVS30 else "press"
        dwell, n, t, fids = grids[acq]
        pf = {m: float(rng.normal(0, 0.06)) for m in list(NAWM) + ["lip"]}
        sessions = []
        explicit = EXPLICIT.get(k)
        for j, stage in enumerate(SCHEDULE[k]):
            sid = f"ses-{j + 1}"
            date = _exam_date(stage, p, rng)
            sev = float(rng.normal(0, 1))
            dk = KPS_BASE[stage] + KPS_SEVERITY * sev + rng.normal(0, 3)
            kps = int(np.clip(round((p["kps_pre"] + dk) / 10) * 10, 10, 100))
            edss = float(np.clip(round(((p["edss_pre"] or 3.0) + 1.0 + 0.7 * sev + rng.normal(0, 0.3)) * 2) / 2,
                                 0, 9.5))
            row = {"session_id": sid, "acq_time": date.isoformat(), "kps": None if (k, j) in KPS_NA else kps,
                   "edss": edss, "lesion_enhancing": stage == "iris" or bool(rng.random() < 0.15)}
            if explicit is not None:
                row["stage"] = explicit[j] if j < len(explicit) else None
            sessions.append(row)
            exams.append({"participant_id": pid, "session_id": sid, "stage": stage, "severity": sev})
            mrs = out / pid / sid / "mrs"
            mrs.mkdir(parents=True)
            vois = ("lesion",) if (k, j) in NO_NAWM else ("lesion", "nawm")
            for voi in vois:
                f = STAGE_FACTORS[stage] if voi == "lesion" else {}
                s = sev * SEVERITY_SCALE[stage] if voi == "lesion" else 0.0
                g = {"naa": f.get("naa", 1) * math.exp(SEVERITY["naa"] * s), "cr": f.get("cr", 1),
                     "cho": f.get("cho", 1) * math.exp(SEVERITY["cho"] * s), "ins": f.get("ins", 1),
                     "glx": f.get("glx", 1), "lac": f.get("lac", 1)}
                group = {"NAA": "naa", "NAAG": "naa", "Cr": "cr", "PCr": "cr", "GPC": "cho", "PCho": "cho",
                         "Ins": "ins", "Glu": "glx", "Gln": "glx", "Lac": "lac"}
                amps = {m: c * g.get(group.get(m, ""), 1.0) * math.exp(pf[m] + rng.normal(0, 0.05))
                        for m, c in NAWM.items()}
                lip = NAWM_LIPID * f.get("lip", 1) * math.exp(SEVERITY["lip"] * s + pf["lip"] + rng.normal(0, 0.15))
                lor = float(rng.uniform(2.0, 4.5) + (1.0 if voi == "lesion" else 0.0))
                gau = float(rng.uniform(3.0, 6.0))
                shift = float(rng.normal(0, 3.0))
                fid = _voxel_fid(fids, amps, lip, t, rng, lor=lor, gau=gau, shift=shift,
                                 phase0=float(rng.uniform(-np.pi, np.pi)), phase1_deg_ppm=float(rng.uniform(-3, 3)),
                                 water_res=float(rng.uniform(5, 40)))
                # noise for the target NAA SNR (peak height of the real spectrum / noise SD)
                spec_naa = np.fft.fft(amps["NAA"] * fids["NAA"] * _lineshape(t, lor, gau, 0.0))
                snr = float(rng.uniform(*snr_range)) * (0.8 if voi == "lesion" else 1.0)
                sd = float(np.max(spec_naa.real)) / max(amps["NAA"], 1e-9) * NAWM["NAA"] / (snr * math.sqrt(n))
                stored_dyn = dyn_every > 0 and exam_no % dyn_every == 2
                if stored_dyn:
                    nd = int(rng.choice([8, 16, 32]))
                    drift = np.cumsum(rng.normal(0, 0.4, nd))
                    jit = rng.normal(0, math.radians(6), nd)
                    data = fid[None, :] * np.exp(2j * np.pi * drift[:, None] * t[None, :] + 1j * jit[:, None])
                    data = data + _noise(rng, sd * math.sqrt(nd), data.shape)
                    dims: tuple[str, ...] = ("dyn",)
                else:
                    data, dims = fid + _noise(rng, sd, (n,)), ()
                geom = Geometry(np.array([[18.0, 0, 0, rng.uniform(-40, 40)], [0, 18.0, 0, rng.uniform(-30, 30)],
                                          [0, 0, 18.0, rng.uniform(0, 40)], [0, 0, 0, 1.0]]))
                acqd = {"Manufacturer": "heldout (synthetic)", "ManufacturersModelName": "sim3T",
                        "SequenceName": "svs_se" if acq == "svs30" else "PRESS", "WaterSuppressed": True}
                hdr = Header(_F0, dwell, echo_time=0.030, repetition_time=float(rng.choice([1.5, 2.0])),
                             field_strength=2.89, ppm_reference=_REF, geometry=geom, acquisition=acqd)
                stem = f"{pid}_{sid}_acq-{acq}_voi-{voi}"
                save(Spectrum(np.asarray(data, complex), hdr, dims=dims), mrs / f"{stem}_svs.nii.gz", force=True)
                has_ref = not (no_ref_every > 0 and (n_vox % no_ref_every == 3))
                if has_ref:
                    w = 5.4e4 * math.exp(rng.normal(0, 0.05)) * np.exp(2j * np.pi * (4.65 - _REF) * _F0 * t)
                    w = w * _lineshape(t, lor, gau, 1.5) * np.exp(2j * np.pi * shift * t + 1j * rng.uniform(-3, 3))
                    whdr = Header(_F0, dwell, echo_time=0.030, repetition_time=hdr.repetition_time,
                                  field_strength=2.89, ppm_reference=_REF, geometry=geom,
                                  acquisition={**acqd, "WaterSuppressed": False})
                    save(Spectrum(w + _noise(rng, sd, (n,)), whdr), mrs / f"{stem}_mrsref.nii.gz", force=True)
                tcr = amps["Cr"] + amps["PCr"]
                tcho = amps["GPC"] + amps["PCho"]
                tnaa = amps["NAA"] + amps["NAAG"]
                truth.append({"participant_id": pid, "session_id": sid, "voi": voi, "stage": stage,
                              "acq": acq, "severity": round(sev, 4), "dyn": stored_dyn, "water_ref": has_ref,
                              "snr_target": round(snr, 2), "tNAA_tCr": round(tnaa / tcr, 4),
                              "tCho_tCr": round(tcho / tcr, 4), "tNAA_tCho": round(tnaa / tcho, 4),
                              "Lip_tCr": round(lip / tcr, 4)})
                n_vox += 1
            exam_no += 1
        cols = ["session_id", "acq_time", "kps", "edss", "lesion_enhancing"] + (["stage"] if explicit else [])
        write_tsv(out / pid / f"{pid}_sessions.tsv", sessions, cols)
    write_tsv(out / "participants.tsv", participants,
         ["participant_id", "sex", "age", "pml_onset", "pml_diagnosis", "natalizumab_stop", "iris_onset",
          "iris_end", "kps_pre", "edss_pre"])
    write_tsv(out / "heldout_truth.tsv", truth, list(truth[0]))
    return {"bids_dir": out, "n_patients": len(rows), "n_exams": len(exams), "n_voxels": n_vox,
            "truth": out / "heldout_truth.tsv", "exams": exams}


# ------------------------------------------------------------------------------------------------
# comparison with the planted truth
# ------------------------------------------------------------------------------------------------
def truth_correlations(bids_dir: str | Path, out_dir: str | Path) -> dict[str, tuple[float, float, int]]:
    """Spearman (rho, p, n) of the *planted* lesion measures with delta_kps in post-PML exams (the
    oracle: what a perfect fit would give), on the exams the pipeline used."""
    import pandas as pd
    from scipy.stats import spearmanr

    t = pd.read_csv(Path(bids_dir) / "heldout_truth.tsv", sep="\t")
    e = pd.read_csv(Path(out_dir) / "group" / "exams.tsv", sep="\t", na_values=["n/a"], keep_default_na=False)
    keys = ["participant_id", "session_id"]
    les = t[t["voi"] == "lesion"].merge(t[t["voi"] == "nawm"][keys + ["Lip_tCr"]], on=keys, how="left",
                                       suffixes=("", "_nawm"))
    les["lipid_rise"] = les["Lip_tCr"] / les["Lip_tCr_nawm"]
    d = les.merge(e[keys + ["stage", "delta_kps"]], on=keys, suffixes=("_truth", ""))
    d = d[d["stage"].isin(["early_post_pml", "late_post_pml"])]
    out = {}
    for m in PLANTED_CORRELATIONS:
        x = d[[m, "delta_kps"]].dropna()
        r = spearmanr(x[m], x["delta_kps"]) if len(x) >= 3 else None
        out[m] = (float(r.statistic), float(r.pvalue), len(x)) if r is not None else (np.nan, np.nan, len(x))
    return out


def truth_stage_tests(bids_dir: str | Path) -> dict[tuple[str, str], tuple[str, float]]:
    """(ratio, stage) -> (direction, Wilcoxon p) of the *planted* lesion vs NAWM values (the oracle)."""
    import pandas as pd
    from scipy.stats import wilcoxon

    t = pd.read_csv(Path(bids_dir) / "heldout_truth.tsv", sep="\t")
    keys = ["participant_id", "session_id"]
    out = {}
    for ratio, stages in PLANTED.items():
        w = t.pivot_table(index=keys + ["stage"], columns="voi", values=ratio).dropna().reset_index()
        for stage in stages:
            d = w[w["stage"] == stage]
            if len(d) >= 2:
                diff = d["lesion"] - d["nawm"]
                out[(ratio, stage)] = ("up" if diff.median() > 0 else "down",
                                       float(wilcoxon(d["lesion"], d["nawm"]).pvalue))
    return out


def compare(out_dir: str | Path, alpha: float = 0.05, bids_dir: str | Path | None = None) -> dict[str, Any]:
    """Planted vs recovered: lesion-vs-NAWM rows of stage_stats.tsv, correlations.tsv, iris.tsv."""
    import pandas as pd

    g = Path(out_dir) / "group"
    oracle = truth_correlations(bids_dir, out_dir) if bids_dir is not None else {}
    oracle_ss = truth_stage_tests(bids_dir) if bids_dir is not None else {}
    ss = pd.read_csv(g / "stage_stats.tsv", sep="\t", na_values=["n/a"], keep_default_na=False)
    cor = pd.read_csv(g / "correlations.tsv", sep="\t", na_values=["n/a"], keep_default_na=False)
    iris = pd.read_csv(g / "iris.tsv", sep="\t", na_values=["n/a"], keep_default_na=False)
    rows, ok_all = [], True
    ln = ss[ss["comparison"] == "lesion_vs_nawm"]
    for ratio, stages in PLANTED.items():
        for stage, want in stages.items():
            r = ln[(ln["ratio"] == ratio) & (ln["stage"] == stage)]
            if r.empty:
                rows.append({"what": f"{ratio} {stage}", "planted": want or "none", "recovered": "missing",
                             "ok": False})
                ok_all = False
                continue
            r = r.iloc[0]
            sig = bool(r["p"] < alpha)
            got = f"{r['direction']} p={r['p']:.3g} (n={int(r['n_a'])}/{int(r['n_b'])}, " \
                  f"median {r['median_a']:.3g} vs {r['median_b']:.3g})"
            ok = (sig and r["direction"] == want) if want else True   # a planted null may still reach p<.05
            ok_all &= ok or not want
            planted = want or "none"
            if (ratio, stage) in oracle_ss:
                planted += " (truth {} p={:.2g})".format(*oracle_ss[(ratio, stage)])
            rows.append({"what": f"{ratio} lesion vs NAWM, {stage}", "planted": planted, "recovered": got,
                         "ok": ok})
    # Lip/tCr maximal in IRIS among lesion medians
    med = ln[ln["ratio"] == "Lip_tCr"].set_index("stage")["median_a"]
    ok = bool(med.idxmax() == "iris") if len(med) else False
    ok_all &= ok
    rows.append({"what": "Lip_tCr lesion median maximal in iris", "planted": "iris",
                 "recovered": ", ".join(f"{k} {v:.3g}" for k, v in med.items()), "ok": ok})
    for m, sign in PLANTED_CORRELATIONS.items():
        r = cor[(cor["measure"] == m) & (cor["clinical"] == "delta_kps") & (cor["unit"] == "exam")]
        if r.empty:
            rows.append({"what": f"rho({m}, delta_kps)", "planted": sign, "recovered": "missing", "ok": False})
            ok_all = False
            continue
        r = r.iloc[0]
        ok = bool(r["p"] < alpha and np.sign(r["rho"]) == (1 if sign == "+" else -1))
        ok_all &= ok
        if m in oracle:
            sign = f"{sign} (truth rho={oracle[m][0]:.2f} p={oracle[m][1]:.2g} n={oracle[m][2]})"
        rows.append({"what": f"rho({m}, delta_kps) {r['subset']}", "planted": sign,
                     "recovered": f"rho={r['rho']:.3f} p={r['p']:.3g} n={int(r['n'])}", "ok": ok})
    # IRIS scores: IRIS exams above the others (Mann-Whitney AUC)
    sc = iris.dropna(subset=["iris_score"])
    a = sc[sc["stage"] == "iris"]["iris_score"].to_numpy(float)
    b = sc[sc["stage"] != "iris"]["iris_score"].to_numpy(float)
    if len(a) and len(b):
        auc = float(np.mean([(x > y) + 0.5 * (x == y) for x in a for y in b]))
        flag_iris = int(iris[iris["stage"] == "iris"]["iris_flag"].astype(str).str.lower().eq("true").sum())
        flag_other = int(iris[iris["stage"] != "iris"]["iris_flag"].astype(str).str.lower().eq("true").sum())
        ok = auc >= 0.75
        ok_all &= ok
        rows.append({"what": "iris_score IRIS vs other lesion exams", "planted": "higher in IRIS",
                     "recovered": f"AUC={auc:.2f}; flagged {flag_iris}/{len(a)} IRIS, "
                                  f"{flag_other}/{len(b)} others", "ok": ok})
    return {"rows": rows, "ok": ok_all}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="validation_out")
    ap.add_argument("--seed", type=int, default=4540)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--generate-only", metavar="BIDS_DIR")
    a = ap.parse_args(argv)
    if a.generate_only:
        info = make_heldout_cohort(a.generate_only, seed=a.seed)
        print(f"{info['n_patients']} patients, {info['n_exams']} exams, {info['n_voxels']} voxels")
        return 0
    work = Path(a.out) / "heldout"
    bids, res = work / "bids", work / "derivatives"
    info = make_heldout_cohort(bids, seed=a.seed)
    if res.exists():
        shutil.rmtree(res)
    exe = Path(sys.executable).with_name("pmlmrs")
    rc = subprocess.run([str(exe), "run", str(bids), str(res), "--workers", str(a.workers)]).returncode
    if rc != 0:
        print(f"pmlmrs run exited {rc}")
        return 1
    cmp = compare(res, bids_dir=bids)
    # A second run must refit nothing and change no group table.
    before = {n: (res / "group" / n).read_text() for n in ("stage_stats.tsv", "correlations.tsv", "iris.tsv")}
    rc2 = subprocess.run([str(exe), "run", str(bids), str(res), "--force", "--workers", str(a.workers)],
                         capture_output=True, text=True).returncode
    log = json.loads(sorted((res / "logs").glob("run-*_all.json"))[-1].read_text())
    same = all((res / "group" / n).read_text() == t for n, t in before.items())
    idem = rc2 == 0 and log["counts"]["fitted"] == 0 and same
    cmp["rows"].append({"what": "second run (--force)", "planted": "nothing refitted, same tables",
                        "recovered": f"exit {rc2}, {log['counts']['fitted']} refitted, "
                                     f"{log['counts']['reused']} reused, tables {'identical' if same else 'CHANGED'}",
                        "ok": idem})
    cmp["ok"] &= idem
    lines = [f"# Held-out cohort (seed {a.seed}): {info['n_patients']} patients, {info['n_exams']} exams, "
             f"{info['n_voxels']} voxels", "", "| finding | planted | recovered | ok |", "|---|---|---|---|"]
    lines += [f"| {r['what']} | {r['planted']} | {r['recovered']} | {'yes' if r['ok'] else 'NO'} |"
              for r in cmp["rows"]]
    lines += ["", f"all planted findings recovered: {cmp['ok']}"]
    (Path(a.out) / "heldout.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0 if cmp["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
