"""A synthetic cohort with planted effects, for testing the statistics and the reports.

Amplitudes are drawn per voxel and the ratios computed from them, so every ratio, combination and
CRLB column is mutually consistent. Nothing here is real patient data.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from pmlmrs.stats.options import STAGES

__all__ = ["PAPER_EFFECTS", "synthetic_cohort"]

#: Lesion effects (log-scale multiplicative, relative to NAWM) loosely shaped like the findings in
#: STUDY.md: lipids up before IRIS, highest in IRIS, lower early post-PML, normal late; choline up
#: in IRIS only; NAA down in pre-IRIS, IRIS and early post-PML.
PAPER_EFFECTS: dict[tuple[str, str], float] = {
    ("Lip", "pre_iris"): np.log(3.0), ("Lip", "iris"): np.log(8.0), ("Lip", "early_post_pml"): np.log(2.0),
    ("tCho", "iris"): np.log(1.6),
    ("tNAA", "pre_iris"): np.log(0.6), ("tNAA", "iris"): np.log(0.6), ("tNAA", "early_post_pml"): np.log(0.6),
    ("tCr", "iris"): np.log(0.85),
}

# NAWM amplitudes (basis units) and relative CRLBs (%) at unit noise.
_BASE = {"tNAA": 1.8, "tCr": 1.0, "tCho": 0.6, "Ins": 0.7, "Glx": 1.5, "Lip09": 0.06, "Lip13": 0.15}
_CRLB = {"tNAA": 4.0, "tCr": 5.0, "tCho": 6.0, "Ins": 9.0, "Glx": 12.0, "Lip09": 30.0, "Lip13": 25.0}
_DAYS = {"pre_iris": (20, 60), "iris": (70, 150), "early_post_pml": (200, 560),
         "late_post_pml": (720, 1400)}


def synthetic_cohort(
    n_patients: int = 20,
    *,
    rng: np.random.Generator | int | None = None,
    effects: Mapping[tuple[str, str], float] | None = None,
    noise: float = 0.15,
    patient_sd: float = 0.08,
    exams_per_patient: tuple[int, int] = (1, 3),
    clinical_slope: float = 0.0,
    unassigned_exams: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Patients, exams and voxels tables (the shapes :mod:`pmlmrs.stats` reads).

    Parameters
    ----------
    n_patients : int
    rng : Generator or int, optional
        Seeded generator (or seed).
    effects : mapping, optional
        ``{(metabolite, stage): log factor}`` applied to the lesion voxel of exams in that stage;
        metabolites are ``tNAA, tCr, tCho, Ins, Glx, Lip`` (Lip scales Lip09 and Lip13). Default
        :data:`PAPER_EFFECTS`; ``{}`` for no effect at all.
    noise : float
        Log-normal SD of each amplitude per voxel (biological + measurement).
    patient_sd : float
        Log-normal SD of a per-patient factor shared by both voxels of all the patient's exams.
    exams_per_patient : (min, max)
        Exams per patient, each in a distinct stage chosen at random (in clinical order).
    clinical_slope : float
        ``delta_kps = −20 + clinical_slope · z(log lesion tNAA_tCho) · 10 + noise`` (rounded to
        steps of 10): a positive slope plants a positive Spearman ρ with tNAA_tCho.
    unassigned_exams : int
        Extra exams in the unassigned window (19–23 months), spread over patients.

    Returns
    -------
    patients, exams, voxels : DataFrame
        As described in the brief of :mod:`pmlmrs.stats` (dates are pandas Timestamps).
    """
    rng = np.random.default_rng(rng)
    eff = dict(PAPER_EFFECTS if effects is None else effects)
    start = pd.Timestamp("2009-01-01")
    patients, exams, voxels = [], [], []
    for k in range(n_patients):
        pid = f"sub-p{k + 1:02d}"
        onset = start + pd.Timedelta(days=int(rng.integers(0, 1500)))
        diag = onset + pd.Timedelta(days=int(rng.integers(5, 20)))
        iris_on = onset + pd.Timedelta(days=int(rng.integers(62, 70)))
        iris_end = onset + pd.Timedelta(days=int(rng.integers(155, 190)))
        kps_pre = int(rng.choice([80, 90, 100]))
        edss_pre = float(rng.choice([2.0, 2.5, 3.0, 3.5, 4.0]))
        patients.append({
            "participant_id": pid, "sex": str(rng.choice(["F", "M"])), "age": int(rng.integers(25, 55)),
            "pml_onset": onset, "pml_diagnosis": diag,
            "natalizumab_stop": diag + pd.Timedelta(days=2),
            "iris_onset": iris_on, "iris_end": iris_end, "kps_pre": kps_pre, "edss_pre": edss_pre,
        })
        n_ex = int(rng.integers(exams_per_patient[0], exams_per_patient[1] + 1))
        stages = sorted(rng.choice(len(STAGES), size=min(n_ex, len(STAGES)), replace=False))
        stage_list = [STAGES[i] for i in stages]
        if k < unassigned_exams:
            stage_list.append("unassigned")
        pfac = {m: rng.normal(0, patient_sd) for m in _BASE}
        for j, stage in enumerate(stage_list):
            lo, hi = _DAYS.get(stage, (600, 690))
            days = int(rng.integers(lo, hi))
            sid = f"ses-{j + 1:02d}"
            acq = onset + pd.Timedelta(days=days)
            vals = {}
            for voi in ("lesion", "nawm"):
                amp = {}
                for m, base in _BASE.items():
                    key = "Lip" if m.startswith("Lip") else m
                    shift = eff.get((key, stage), 0.0) if voi == "lesion" else 0.0
                    amp[m] = base * np.exp(pfac[m] + shift + rng.normal(0, noise))
                crlb = {}
                for m in amp:
                    # CRLB (absolute SD) fixed by the noise level: relative CRLB falls as the amplitude grows.
                    crlb[m] = _CRLB[m] * _BASE[m] / amp[m] * np.exp(rng.normal(0, 0.1))
                amp["Lip"] = amp["Lip09"] + amp["Lip13"]
                sd_lip = np.hypot(crlb["Lip09"] * amp["Lip09"], crlb["Lip13"] * amp["Lip13"])
                crlb["Lip"] = sd_lip / amp["Lip"]
                row = {"participant_id": pid, "session_id": sid, "voi": voi, "stage": stage,
                       "days_since_pml_onset": float(days), "spectrum": f"{pid}_{sid}_voi-{voi}_svs"}
                for m in amp:
                    row[m] = amp[m]
                    row[f"{m}_crlb"] = crlb[m]
                tcr = amp["tCr"]
                row.update({
                    "tNAA_tCr": amp["tNAA"] / tcr, "tCho_tCr": amp["tCho"] / tcr,
                    "tNAA_tCho": amp["tNAA"] / amp["tCho"], "Ins_tCr": amp["Ins"] / tcr,
                    "Glx_tCr": amp["Glx"] / tcr, "Lip_tCr": amp["Lip"] / tcr,
                    "Lip09_tCr": amp["Lip09"] / tcr, "Lip13_tCr": amp["Lip13"] / tcr,
                    "snr": float(rng.uniform(15, 40)), "fwhm_ppm": float(rng.uniform(0.03, 0.08)),
                    "fit_quality": float(rng.uniform(1.0, 1.3)), "qc_pass": True, "error": "",
                })
                voxels.append(row)
                vals[voi] = row
            enhancing = bool(stage == "iris" or (stage == "pre_iris" and rng.random() < 0.3))
            exams.append({
                "participant_id": pid, "session_id": sid, "acq_time": acq, "stage": stage,
                "stage_rule": f"synthetic: planted {stage}", "days_since_pml_onset": float(days),
                "_naa_cho": np.log(vals["lesion"]["tNAA_tCho"]), "kps_pre": kps_pre,
                "edss_pre": edss_pre, "lesion_enhancing": enhancing,
            })
    ex = pd.DataFrame(exams)
    z = (ex["_naa_cho"] - ex["_naa_cho"].mean()) / ex["_naa_cho"].std()
    dk = -20 + clinical_slope * 10 * z + rng.normal(0, 10, len(ex))
    ex["delta_kps"] = (np.round(dk / 10) * 10).clip(-100, 20)
    ex["kps"] = (ex["kps_pre"] + ex["delta_kps"]).clip(0, 100)
    ex["delta_kps"] = ex["kps"] - ex["kps_pre"]
    de = 1.5 - clinical_slope * z + rng.normal(0, 1.0, len(ex))
    ex["edss"] = (ex["edss_pre"] + np.round(de * 2) / 2).clip(0, 10)
    ex["delta_edss"] = ex["edss"] - ex["edss_pre"]
    ex = ex.drop(columns=["_naa_cho", "kps_pre", "edss_pre"])
    ex = ex[["participant_id", "session_id", "acq_time", "stage", "stage_rule", "days_since_pml_onset",
             "kps", "edss", "delta_kps", "delta_edss", "lesion_enhancing"]]
    return pd.DataFrame(patients), ex, pd.DataFrame(voxels)
