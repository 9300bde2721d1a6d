"""Follow-up: per-patient trajectories and a random-intercept mixed model over time since PML onset."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pmlmrs._logging import logger
from pmlmrs.stats._data import KEYS, _lesion_nawm, prepare_voxels, resolve_options
from pmlmrs.stats.options import StatsOptions

__all__ = ["Longitudinal", "longitudinal", "TRAJECTORY_COLUMNS", "FIXED_EFFECT_COLUMNS"]

TRAJECTORY_COLUMNS = ["participant_id", "session_id", "stage", "days_since_pml_onset", "voi", "ratio",
                      "value", "sd"]
FIXED_EFFECT_COLUMNS = ["ratio", "voi", "term", "coef", "se", "ci_low", "ci_high", "p", "n_patients",
                        "n_exams", "fitted", "reason"]
#: The time covariate of the mixed model, in years (days / 365.25) for readable slopes.
TIME_TERM = "years_since_pml_onset"


@dataclass(frozen=True)
class Longitudinal:
    """Result of :func:`longitudinal`.

    Attributes
    ----------
    trajectories : DataFrame
        Long table, one row per exam × compartment × ratio: ``participant_id, session_id, stage,
        days_since_pml_onset, voi (lesion|nawm), ratio, value, sd`` (sd from the CRLBs).
    fixed_effects : DataFrame
        One row per ratio × compartment × term (``Intercept``, ``years_since_pml_onset``):
        ``coef, se, ci_low, ci_high, p, n_patients, n_exams, fitted, reason``. Where the model was
        not fitted there is one row with ``term`` empty, ``fitted`` False and the reason.
    """

    trajectories: pd.DataFrame
    fixed_effects: pd.DataFrame


def _fit_one(d: pd.DataFrame, ratio: str, voi: str, opts: StatsOptions) -> list[dict]:
    import statsmodels.formula.api as smf

    base = {"ratio": ratio, "voi": voi, "n_patients": int(d["participant_id"].nunique()),
            "n_exams": int(len(d))}
    per_patient = d.groupby("participant_id").size()
    n_followed = int((per_patient >= opts.min_exams_per_patient).sum())
    if n_followed < opts.min_patients_mixed:
        return [{**base, "term": "", "coef": np.nan, "se": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                 "p": np.nan, "fitted": False,
                 "reason": (f"not fitted: {n_followed} patient(s) with ≥ {opts.min_exams_per_patient} "
                            f"exams (need ≥ {opts.min_patients_mixed})")}]
    if d["value"].nunique() < 2 or d[TIME_TERM].nunique() < 2:
        return [{**base, "term": "", "coef": np.nan, "se": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                 "p": np.nan, "fitted": False, "reason": "not fitted: no variation in the ratio or time"}]
    res, notes, errors = None, set(), []
    # statsmodels' default optimiser first; derivative-free fall-backs when it fails or does not
    # converge (typically when the random-intercept variance collapses to the boundary).
    for method in (None, "powell", "nm"):
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                model = smf.mixedlm(f"value ~ {TIME_TERM}", d, groups=d["participant_id"])
                fit = model.fit(reml=True) if method is None else model.fit(reml=True, method=method)
        except (np.linalg.LinAlgError, ValueError) as exc:
            errors.append(f"{method or 'lbfgs'}: {exc}")
            continue
        msgs = " ".join(str(w.message) for w in caught).lower()
        these = set()
        if "boundary" in msgs or "singular" in msgs:
            these.add("random-intercept variance on the boundary (≈ 0)")
        if res is None or (fit.converged and not res.converged):
            res, notes = fit, these
        if fit.converged:
            break
    if res is None:
        return [{**base, "term": "", "coef": np.nan, "se": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                 "p": np.nan, "fitted": False, "reason": "not fitted: " + "; ".join(errors)}]
    with warnings.catch_warnings():
        # A singular covariance gives negative variances: NaN SEs, reported below, not a warning.
        warnings.simplefilter("ignore")
        ci = res.conf_int(alpha=opts.alpha)
        se, pv, coef = res.bse_fe, res.pvalues, res.fe_params
    reason = "MixedLM (REML), random intercept per patient"
    if not res.converged:
        reason += "; did not converge"
    if notes:
        reason += "; " + "; ".join(sorted(notes))
    if not np.all(np.isfinite([float(se[t]) for t in ("Intercept", TIME_TERM)])):
        reason += "; standard errors undefined (singular covariance of the estimates)"
    rows = []
    for term in ("Intercept", TIME_TERM):
        rows.append({**base, "term": term, "coef": float(coef[term]),
                     "se": float(se[term]), "ci_low": float(ci.loc[term, 0]),
                     "ci_high": float(ci.loc[term, 1]), "p": float(pv[term]),
                     "fitted": True, "reason": reason})
    return rows


def longitudinal(voxels: pd.DataFrame, exams: pd.DataFrame | None = None,
                 options: StatsOptions | None = None) -> Longitudinal:
    """Per-patient trajectories and a linear mixed model of each ratio over time since PML onset.

    Parameters
    ----------
    voxels : DataFrame
        DESIGN group/voxels.tsv (``days_since_pml_onset`` needed).
    exams : DataFrame, optional
        When given, its ``days_since_pml_onset`` and ``stage`` fill gaps in the voxels table.
    options : StatsOptions, optional
        ``ratios``, ``mixed_vois``, ``min_patients_mixed`` (3), ``min_exams_per_patient`` (2),
        ``alpha`` (CI level), ``exclude_failed_qc``.

    Returns
    -------
    Longitudinal
        ``trajectories`` and ``fixed_effects`` (see :class:`Longitudinal`). The model is
        ``ratio ~ 1 + years_since_pml_onset + (1 | patient)``, fitted by REML with
        statsmodels ``MixedLM`` on every exam of every patient (patients with one exam inform the
        intercept), when at least ``min_patients_mixed`` patients have ≥ ``min_exams_per_patient``
        exams with a value; otherwise the reason is given.
    """
    opts = resolve_options(options)
    v = prepare_voxels(voxels, opts)
    ex = _lesion_nawm(v, opts)
    if exams is not None and "days_since_pml_onset" in exams.columns:
        e = exams[KEYS + ["days_since_pml_onset"]].copy()
        e["participant_id"] = e["participant_id"].astype(str)
        e["session_id"] = e["session_id"].astype(str)
        e = e.drop_duplicates(KEYS).rename(columns={"days_since_pml_onset": "_days"})
        ex = ex.merge(e, on=KEYS, how="left")
        ex["days_since_pml_onset"] = ex["days_since_pml_onset"].fillna(
            pd.to_numeric(ex["_days"], errors="coerce"))
        ex = ex.drop(columns="_days")
    ratios = [r for r in opts.ratios if f"{r}_lesion" in ex.columns]
    traj = []
    for r in ratios:
        for voi in ("lesion", "nawm"):
            t = ex[KEYS + ["stage", "days_since_pml_onset"]].copy()
            t["voi"] = voi
            t["ratio"] = r
            t["value"] = ex[f"{r}_{voi}"]
            t["sd"] = ex[f"{r}_{voi}_sd"]
            traj.append(t)
    trajectories = (
        pd.concat(traj, ignore_index=True)[TRAJECTORY_COLUMNS]
        .sort_values(["ratio", "voi", "participant_id", "days_since_pml_onset"], kind="stable")
        .reset_index(drop=True)
        if traj else pd.DataFrame(columns=TRAJECTORY_COLUMNS)
    )
    rows: list[dict] = []
    for r in ratios:
        for voi in opts.mixed_vois:
            d = trajectories[(trajectories["ratio"] == r) & (trajectories["voi"] == voi)]
            d = d.dropna(subset=["value", "days_since_pml_onset"])
            d = d[np.isfinite(d["value"].to_numpy(float))].copy()
            d[TIME_TERM] = d["days_since_pml_onset"].astype(float) / 365.25
            rows.extend(_fit_one(d, r, voi, opts))
    fe = pd.DataFrame(rows, columns=FIXED_EFFECT_COLUMNS)
    n_fit = int(fe.loc[fe["fitted"], ["ratio", "voi"]].drop_duplicates().shape[0]) if len(fe) else 0
    logger.info("longitudinal: mixed model fitted for %d ratio × compartment combination(s)", n_fit)
    return Longitudinal(trajectories=trajectories, fixed_effects=fe)
