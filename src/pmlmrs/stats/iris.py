"""IRIS alerts (decision support, not diagnosis): the Gheuens et al. 2012 rule and a cohort model.

Two independent signals per lesion exam, each stating its rule and numbers:

1. **Gheuens 2012 advisory rule.** Gheuens S, Ngo L, Wang X, Alsop DC, Lenkinski RE, Koralnik IJ.
   Metabolic profile of PML lesions in patients with and without IRIS: an observational study.
   *Neurology* 2012;79:1041. In 42 PML patients (mostly HIV-associated), a lesion Lip1/Cr (lipid
   at ≈ 1.3 ppm over creatine) > 1.5 together with contrast enhancement in the voxel gave a 79 %
   probability of IRIS vs 13 % without. Not validated for natalizumab-associated PML; the
   threshold assumes LCModel-like lipid scaling.
2. **Cohort model.** An L2-regularised logistic regression (fitted here with
   ``scipy.optimize.minimize``) of ``stage == "iris"`` on lesion Lip/tCr and tCho/tCr relative to
   NAWM (log quotients) and their change since the patient's previous exam judged against the
   measurement uncertainty from the CRLBs (``z = Δ / sqrt(σ₁² + σ₂²)``). Evaluated by
   leave-one-patient-out (LOPO) cross-validation: AUC in the Mann–Whitney formulation with a
   seeded patient-level bootstrap interval. Each exam's score comes from the model fitted without
   its patient.

Notes
-----
Leave-one-out style cross-validation is biased *below* 0.5 when there is no signal (each held-out
patient shifts the training prevalence against itself): over 30 synthetic null cohorts of 20
patients the LOPO AUC averaged 0.44 (SD 0.13). With the planted effects of
:data:`pmlmrs.stats.synthetic.PAPER_EFFECTS` it averaged 0.996. The model's scores raise flags
only when its LOPO AUC reaches ``StatsOptions.iris_min_auc`` (0.7).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pmlmrs._logging import logger
from pmlmrs.stats._data import KEYS, _lesion_nawm, prepare_voxels, resolve_options, to_bool
from pmlmrs.stats.options import DISCLAIMER, StatsOptions

__all__ = [
    "IRIS_COLUMNS", "GHEUENS_SOURCE", "GHEUENS_QUOTE", "FEATURES", "IrisModel", "gheuens_rule",
    "iris_features", "fit_logistic", "auc", "bootstrap_auc", "lopo_scores", "score_exams",
]

#: DESIGN.md group/iris.tsv, in order.
IRIS_COLUMNS = ["participant_id", "session_id", "stage", "iris_score", "iris_flag", "rule", "reason"]
GHEUENS_SOURCE = (
    "Gheuens S, Ngo L, Wang X, Alsop DC, Lenkinski RE, Koralnik IJ. Metabolic profile of PML "
    "lesions in patients with and without IRIS: an observational study. Neurology 2012;79:1041"
)
GHEUENS_QUOTE = (
    "Lip1/Cr > 1.5 together with contrast enhancement in the voxel: 79 % probability of IRIS vs "
    "13 % without (Gheuens et al. 2012, 42 PML patients, mostly HIV; not validated for "
    "natalizumab PML)"
)
#: Model features, in order.
FEATURES = ("log_Lip_tCr_quotient", "log_tCho_tCr_quotient", "z_change_Lip_tCr", "z_change_tCho_tCr")
_Z_CLIP = 10.0
_INTERCEPT_PENALTY = 1e-3


# --------------------------------------------------------------------------------------------
# Rule 1: Gheuens et al. 2012


def gheuens_rule(lip_tcr: float, enhancing: bool | None, threshold: float = 1.5,
                 label: str = "Lip13/tCr", sd: float | None = None) -> tuple[bool | None, str]:
    """The Gheuens 2012 advisory rule for one lesion voxel.

    Parameters
    ----------
    lip_tcr : float
        Lesion lipid (≈ 1.3 ppm) over total creatine.
    enhancing : bool or None
        Contrast enhancement in the voxel; None when unknown.
    threshold : float
        1.5 in the source.
    label : str
        Name of the lipid measure, for the message.
    sd : float, optional
        SD of the lipid ratio from the CRLBs. When given, the message states it ("2.31 ± 0.12") and
        marks a value within 2 SD of the threshold ("within 2 SD of 1.5"): the flag itself follows
        the rule as published. The CRLB is a lower bound; on the project's lesion suite the spread
        of lesion Lip/tCr errors (SD of error / SD) is 1.4-1.6, and 2.2-2.8 with baseline humps.

    Returns
    -------
    flag : bool or None
        True when lipid > threshold and the voxel enhances; False when either is known to fail;
        None when it cannot be decided (lipid unknown, or lipid above threshold with unknown
        enhancement).
    text : str
        The rule with the numbers, e.g. ``"Lip13/tCr 2.31 > 1.5 with enhancement (Gheuens 2012 rule)"``.
    """
    src = "(Gheuens 2012 rule)"
    if lip_tcr is None or not np.isfinite(lip_tcr):
        return None, f"{label} unavailable, Gheuens 2012 rule not evaluable"
    above = lip_tcr > threshold
    cmp = ">" if above else "≤"
    value = f"{label} {lip_tcr:.2f}"
    if sd is not None and np.isfinite(sd):
        value += f" ± {sd:.2f}"
        if abs(lip_tcr - threshold) <= 2.0 * sd:
            cmp = f"(within 2 SD of {threshold:g}) {cmp}"
    if enhancing is None or enhancing is pd.NA:
        if above:
            return None, f"{value} {cmp} {threshold:g}, enhancement unknown {src}: not evaluable"
        return False, f"{value} {cmp} {threshold:g} {src}"
    enh = "with enhancement" if enhancing else "without enhancement"
    return bool(above and enhancing), f"{value} {cmp} {threshold:g} {enh} {src}"


# --------------------------------------------------------------------------------------------
# Features


def _exam_order(ex: pd.DataFrame, exams: pd.DataFrame | None) -> pd.DataFrame:
    """Exams in time order within each patient: acquisition date, then days since PML onset."""
    ex = ex.copy()
    ex["_acq"] = pd.NaT
    if exams is not None and "acq_time" in exams.columns:
        e = exams[KEYS + ["acq_time"]].copy()
        e["participant_id"] = e["participant_id"].astype(str)
        e["session_id"] = e["session_id"].astype(str)
        e["_acq"] = pd.to_datetime(e["acq_time"], errors="coerce")
        ex = ex.drop(columns="_acq").merge(e[KEYS + ["_acq"]].drop_duplicates(KEYS), on=KEYS, how="left")
    ex["_t"] = ex["days_since_pml_onset"].astype(float)
    return ex.sort_values(["participant_id", "_acq", "_t", "session_id"], kind="stable", na_position="last")


def _log_quotient(les: pd.Series, nawm: pd.Series, clip: float) -> pd.Series:
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.log(les.to_numpy(float)) - np.log(nawm.to_numpy(float))
    both_zero = (les.to_numpy(float) == 0) & (nawm.to_numpy(float) == 0)
    q = np.where(both_zero, 0.0, q)  # 0/0: no lipid in either voxel, no rise
    return pd.Series(np.clip(q, -np.log(clip), np.log(clip)), index=les.index)


def _qc_failures(v: pd.DataFrame, voi: str, exams: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per row of *exams*: the QC numbers (or processing error) of its *voi* voxels whose ``qc_pass``
    is false ("" when none), and how many they are."""
    if "qc_pass" not in v.columns:
        return np.full(len(exams), "", dtype=object), np.zeros(len(exams), int)
    bad = v[(v["voi"] == voi) & v["qc_pass"].eq(False).fillna(False).to_numpy(bool)]
    text: dict[tuple[str, str], list[str]] = {}
    for r in bad.to_dict("records"):
        error = str(r.get("error") or "").strip()
        name = f"{voi} voxel" + (f" {r['spectrum']}" if "spectrum" in r and voi == "lesion" else "")
        if error and error.lower() not in ("n/a", "nan"):
            msg = f"{name} could not be processed ({error if len(error) <= 160 else error[:157] + '...'})"
        else:
            parts = [f"{label} {r[c]:{fmt}}" for c, label, fmt in
                     (("snr", "SNR", ".1f"), ("fwhm_ppm", "linewidth", ".3f"),
                      ("fit_quality", "fit quality", ".2f")) if c in r and np.isfinite(r[c])]
            msg = f"{name} failed QC ({', '.join(parts) or 'see its report'})"
        text.setdefault((r["participant_id"], r["session_id"]), []).append(msg)
    keys = list(zip(exams["participant_id"], exams["session_id"]))
    return (np.array(["; ".join(text.get(k, [])) for k in keys], dtype=object),
            np.array([len(text.get(k, [])) for k in keys], int))


def iris_features(voxels: pd.DataFrame, exams: pd.DataFrame | None = None,
                  options: StatsOptions | None = None) -> pd.DataFrame:
    """Per lesion exam: the Gheuens rule inputs and the model features.

    Returns
    -------
    DataFrame
        ``participant_id, session_id, stage, days_since_pml_onset, lesion_enhancing, gheuens_lipid``
        (lesion Lip13_tCr or Lip_tCr per ``options.gheuens_lipid``), ``gheuens_lipid_sd`` (its SD
        from the CRLBs), ``Lip_tCr_lesion,
        tCho_tCr_lesion, Lip_tCr_quotient, tCho_tCr_quotient``, the :data:`FEATURES`,
        ``previous_session``, ``qc_lesion``/``qc_nawm`` ("" or the QC numbers when every lesion (NAWM)
        voxel of the exam failed QC: such an exam has no model features), ``qc_lesion_left_out``/
        ``qc_nawm_left_out`` (those that failed while another voxel of that voi passed: the values
        are from the voxels that passed), ``label`` (1 = IRIS, 0 = another assigned stage, NaN =
        unassigned).

        The change features compare each exam with the patient's previous lesion exam (by days
        since PML onset, else acquisition date): ``z = (R₂ − R₁) / sqrt(σ₁² + σ₂²)`` with σ the
        ratio SD from the CRLBs, on the lesion ratio (``iris_change="lesion"``) or the quotient.
        A first exam has z = 0 (no change observable); z is clipped to ±10. Log quotients are
        clipped to ±log(``quotient_clip``); 0/0 counts as no rise.
    """
    opts = resolve_options(options)
    # every lesion exam keeps its row (exclude_failed_qc or not): a voxel that failed QC is left out
    # below, and an exam with nothing left is "not evaluable"
    v = prepare_voxels(voxels, opts.replace(exclude_failed_qc=False, ratios=tuple(dict.fromkeys(
        list(opts.ratios) + ["Lip_tCr", "tCho_tCr", opts.gheuens_column]))))
    full = opts.replace(ratios=tuple(dict.fromkeys(["Lip_tCr", "tCho_tCr", opts.gheuens_column])))
    for col in full.ratios:
        if col not in v.columns:
            v[col] = np.nan
    # the values come from the voxels that passed QC (an exam's other lesion voxel when one failed);
    # an exam whose lesion (or NAWM) voxels all failed has none (not scored, not trained on)
    passed = v["qc_pass"].ne(False).fillna(True).to_numpy(bool) if "qc_pass" in v.columns else np.ones(len(v), bool)
    ex = _lesion_nawm(v, full)
    ex = ex[ex["n_lesion"] > 0]
    counts = KEYS + ["stage", "days_since_pml_onset", "n_lesion", "n_nawm"]
    g = opts.gheuens_column
    shown = ex[KEYS + [f"{g}_lesion", f"{g}_lesion_sd"]].rename(columns=lambda c: f"_all_{c}" if c not in KEYS else c)
    ex = ex[counts].merge(_lesion_nawm(v[passed], full).drop(columns=counts[2:]), on=KEYS, how="left")
    ex = ex.merge(shown, on=KEYS, how="left")   # the failed voxels' lipid, shown (never used) when all failed
    enh = pd.Series(pd.NA, index=ex.index, dtype="boolean")
    if exams is not None and "lesion_enhancing" in exams.columns:
        e = exams[KEYS + ["lesion_enhancing"]].copy()
        e["participant_id"] = e["participant_id"].astype(str)
        e["session_id"] = e["session_id"].astype(str)
        e["lesion_enhancing"] = to_bool(e["lesion_enhancing"])
        enh = ex[KEYS].merge(e.drop_duplicates(KEYS), on=KEYS, how="left")["lesion_enhancing"]
        enh.index = ex.index
    ex = ex.assign(lesion_enhancing=enh.astype("boolean"))
    ex = _exam_order(ex, exams)

    out = ex[KEYS + ["stage", "days_since_pml_onset", "lesion_enhancing"]].copy()
    out["gheuens_lipid"] = ex[f"{g}_lesion"].fillna(ex[f"_all_{g}_lesion"])
    out["gheuens_lipid_sd"] = ex[f"{g}_lesion_sd"].fillna(ex[f"_all_{g}_lesion_sd"])
    for r in ("Lip_tCr", "tCho_tCr"):
        out[f"{r}_lesion"] = ex[f"{r}_lesion"]
        out[f"{r}_quotient"] = ex[f"{r}_quotient"]
        out[f"log_{r}_quotient"] = _log_quotient(ex[f"{r}_lesion"], ex[f"{r}_nawm"], opts.quotient_clip)
        if opts.iris_change == "lesion":
            val, sd = ex[f"{r}_lesion"].astype(float), ex[f"{r}_lesion_sd"].astype(float)
        else:
            val = ex[f"{r}_quotient"].astype(float)
            with np.errstate(divide="ignore", invalid="ignore"):
                rel = np.sqrt((ex[f"{r}_lesion_sd"] / ex[f"{r}_lesion"]) ** 2
                              + (ex[f"{r}_nawm_sd"] / ex[f"{r}_nawm"]) ** 2)
            sd = (val.abs() * rel).astype(float)
        z = np.zeros(len(ex))
        prev_session = [""] * len(ex)
        pids = ex["participant_id"].to_numpy()
        sess = ex["session_id"].to_numpy()
        vals, sds = val.to_numpy(float), sd.to_numpy(float)
        last: dict[str, int] = {}
        for i in range(len(ex)):
            j = last.get(pids[i])
            if np.isfinite(vals[i]):
                if j is not None:
                    delta = vals[i] - vals[j]
                    sigma = np.sqrt(sds[i] ** 2 + sds[j] ** 2)
                    if np.isfinite(sigma) and sigma > 0:
                        z[i] = delta / sigma
                    elif delta == 0:
                        z[i] = 0.0
                    elif np.isfinite(delta) and sigma == 0:
                        z[i] = np.sign(delta) * _Z_CLIP
                    else:
                        z[i] = 0.0  # no CRLB: the change cannot be judged, counts as none
                    prev_session[i] = sess[j]
                last[pids[i]] = i
            else:
                z[i] = 0.0  # no usable value: the change cannot be judged (the exam keeps its previous)
        out[f"z_change_{r}"] = np.clip(z, -_Z_CLIP, _Z_CLIP)
        if r == "Lip_tCr":
            out["previous_session"] = prev_session
    for voi in ("lesion", "nawm"):
        text, n_failed = _qc_failures(v, voi, out)
        every = (n_failed >= ex[f"n_{voi}"].to_numpy()) & (n_failed > 0)
        out[f"qc_{voi}"] = np.where(every, text, "")            # all of them failed
        out[f"qc_{voi}_left_out"] = np.where(every, "", text)   # some failed, the others used
    out.loc[out["qc_lesion"].ne("") | out["qc_nawm"].ne(""), list(FEATURES)] = np.nan
    stages = set(opts.stages)
    out["label"] = np.where(out["stage"] == "iris", 1.0,
                            np.where(out["stage"].isin(stages), 0.0, np.nan))
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Model


def fit_logistic(X: np.ndarray, y: np.ndarray, penalty: float = 1.0) -> tuple[float, np.ndarray]:
    """L2-regularised logistic regression (``scipy.optimize.minimize``, trust-region Newton).

    Minimises ``Σ log(1 + exp(−(2y−1)(b₀ + Xβ))) + penalty/2 · |β|² + 1e-3/2 · b₀²`` (the tiny
    intercept penalty keeps b₀ finite when a training fold has one class only).

    Parameters
    ----------
    X : (n, p) array
        Features (standardise them first so one penalty suits all).
    y : (n,) array of 0/1
    penalty : float

    Returns
    -------
    intercept : float
    coef : (p,) array
    """
    from scipy.optimize import minimize
    from scipy.special import expit, log_expit

    X = np.asarray(X, float)
    y = np.asarray(y, float)
    n, p = X.shape
    A = np.hstack([np.ones((n, 1)), X])
    lam = np.r_[_INTERCEPT_PENALTY, np.full(p, penalty)]
    s = 2 * y - 1

    def f(w: np.ndarray) -> tuple[float, np.ndarray]:
        m = s * (A @ w)
        loss = -np.sum(log_expit(m)) + 0.5 * np.sum(lam * w * w)
        grad = -(A.T @ (s * expit(-m))) + lam * w
        return float(loss), grad

    def hess(w: np.ndarray) -> np.ndarray:
        q = expit(A @ w)
        return (A.T * (q * (1 - q))) @ A + np.diag(lam)

    # Exact-Hessian trust-region Newton: a handful of iterations for this small convex problem.
    res = minimize(f, np.zeros(p + 1), jac=True, hess=hess, method="trust-exact")
    return float(res.x[0]), res.x[1:]


@dataclass(frozen=True)
class IrisModel:
    """A fitted IRIS logistic model: standardisation and coefficients (per standardised feature)."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    intercept: float
    coef: np.ndarray
    penalty: float
    n_train: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fit(cls, X: np.ndarray, y: np.ndarray, features=FEATURES, penalty: float = 1.0) -> IrisModel:
        mean = X.mean(axis=0)
        scale = X.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        b0, beta = fit_logistic((X - mean) / scale, y, penalty)
        return cls(tuple(features), mean, scale, b0, beta, penalty, int(len(y)))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Scores (probability of IRIS under the model) for rows of X."""
        from scipy.special import expit

        X = np.atleast_2d(np.asarray(X, float))
        return expit(self.intercept + ((X - self.mean) / self.scale) @ self.coef)

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "intercept": float(self.intercept),
            "coef_standardised": {f: float(c) for f, c in zip(self.features, self.coef)},
            "feature_mean": {f: float(m) for f, m in zip(self.features, self.mean)},
            "feature_sd": {f: float(s) for f, s in zip(self.features, self.scale)},
            "penalty": self.penalty,
            "n_train": self.n_train,
        }


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve, Mann–Whitney formulation: P(score⁺ > score⁻) + ½ P(tie).

    ``AUC = (R⁺ − n⁺(n⁺+1)/2) / (n⁺ n⁻)`` with R⁺ the rank sum of the positives (mid-ranks for
    ties), i.e. the Mann–Whitney U of the positives over n⁺n⁻. NaN with one class only.
    """
    from scipy.stats import rankdata

    y = np.asarray(y, float)
    score = np.asarray(score, float)
    pos = y == 1
    n1, n0 = int(pos.sum()), int((~pos).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = rankdata(score)
    return float((r[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def bootstrap_auc(y: np.ndarray, score: np.ndarray, groups: np.ndarray, n_boot: int = 2000,
                  seed: int = 0, level: float = 0.95) -> tuple[float, float, int]:
    """Percentile interval of the AUC, resampling patients (clusters) with replacement.

    Resamples where one class is absent are skipped. Returns ``(low, high, n_used)``; NaNs when
    fewer than 20 resamples were usable.
    """
    rng = np.random.default_rng(seed)
    y = np.asarray(y, float)
    score = np.asarray(score, float)
    uniq, inv = np.unique(np.asarray(groups), return_inverse=True)
    members = [np.flatnonzero(inv == k) for k in range(len(uniq))]
    vals = []
    for _ in range(n_boot):
        pick = rng.integers(0, len(uniq), len(uniq))
        idx = np.concatenate([members[k] for k in pick])
        a = auc(y[idx], score[idx])
        if np.isfinite(a):
            vals.append(a)
    if len(vals) < 20:
        return float("nan"), float("nan"), len(vals)
    lo, hi = np.percentile(vals, [50 * (1 - level), 100 - 50 * (1 - level)])
    return float(lo), float(hi), len(vals)


def lopo_scores(X: np.ndarray, y: np.ndarray, groups: np.ndarray, penalty: float,
                X_score: np.ndarray | None = None, groups_score: np.ndarray | None = None) -> np.ndarray:
    """Leave-one-patient-out scores.

    For each patient, fit on the labelled rows of all *other* patients (``X, y, groups``) and
    score that patient's rows of ``X_score`` (default: ``X`` itself).
    """
    X_score = X if X_score is None else X_score
    groups_score = groups if groups_score is None else groups_score
    out = np.full(len(X_score), np.nan)
    for g in np.unique(groups_score):
        train = groups != g
        if train.sum() == 0:
            continue
        model = IrisModel.fit(X[train], y[train], penalty=penalty)
        sel = groups_score == g
        out[sel] = model.predict(X_score[sel])
    return out


def _evaluate(feat: pd.DataFrame, opts: StatsOptions) -> tuple[np.ndarray, dict[str, Any]]:
    """LOPO scores for every exam with complete features, and the evaluation dict."""
    Xall = feat[list(FEATURES)].to_numpy(float)
    complete = np.all(np.isfinite(Xall), axis=1)
    lab = feat["label"].to_numpy(float)
    train = complete & np.isfinite(lab)
    pids = feat["participant_id"].to_numpy()
    n_pos = int((lab[train] == 1).sum())
    n_neg = int((lab[train] == 0).sum())
    n_pat = int(len(np.unique(pids[train])))
    ev: dict[str, Any] = {
        "disclaimer": DISCLAIMER,
        "features": list(FEATURES),
        "label": "stage == 'iris' (exams in the other assigned stages are negatives; unassigned exams are scored only)",
        "n_exams": int(train.sum()), "n_patients": n_pat, "n_iris": n_pos, "n_not_iris": n_neg,
        "n_incomplete": int((~complete).sum()),
        "penalty": opts.iris_penalty, "threshold": opts.iris_threshold,
        "validation": "leave-one-patient-out", "n_bootstrap": opts.n_bootstrap, "seed": opts.seed,
        "ci_level": opts.ci_level,
        "fitted": False, "reason": "", "auc": float("nan"), "auc_ci": (float("nan"), float("nan")),
        "sensitivity": float("nan"), "specificity": float("nan"), "model": None,
        "flags_from_model": False, "min_auc": opts.iris_min_auc,
    }
    scores = np.full(len(feat), np.nan)
    need, need_p = opts.min_iris_exams, opts.min_iris_patients
    if n_pos < need or n_neg < need or n_pat < need_p:
        ev["reason"] = (f"model not fitted: {n_pos} IRIS and {n_neg} non-IRIS exams with complete "
                        f"features from {n_pat} patient(s) (need ≥ {need} of each class and "
                        f"≥ {need_p} patients)")
        logger.info("IRIS %s", ev["reason"])
        return scores, ev
    X, y, g = Xall[train], lab[train], pids[train]
    scores[complete] = lopo_scores(X, y, g, opts.iris_penalty, Xall[complete], pids[complete])
    s_train = scores[train]
    a = auc(y, s_train)
    lo, hi, n_used = bootstrap_auc(y, s_train, g, opts.n_bootstrap, opts.seed, opts.ci_level)
    flag = s_train >= opts.iris_threshold
    full = IrisModel.fit(X, y, penalty=opts.iris_penalty)
    usable = bool(np.isfinite(a) and a >= opts.iris_min_auc)
    ev.update({
        "fitted": True, "flags_from_model": usable, "min_auc": opts.iris_min_auc,
        "reason": "L2 logistic regression, scores from leave-one-patient-out fits",
        "auc": a, "auc_ci": (lo, hi), "n_bootstrap_used": n_used,
        "sensitivity": float(flag[y == 1].mean()), "specificity": float((~flag[y == 0]).mean()),
        "model": full.to_dict(),
    })
    return scores, ev


def _model_inputs(r: Any, clip: float) -> str:
    """The model's inputs for one exam, as numbers: lesion/NAWM quotients (clipped at *clip*,
    as in the model) and the changes since the previous exam (z, clipped at ±10)."""
    def quotient(col: str) -> str:
        lq = getattr(r, f"log_{col}_quotient")
        edge = "≥" if lq >= np.log(clip) - 1e-9 else "≤" if lq <= -np.log(clip) + 1e-9 else ""
        return f"{edge}{np.exp(lq):.3g}"

    q = ", ".join(f"{name} ×{quotient(col)}" for name, col in (("Lip/tCr", "Lip_tCr"), ("tCho/tCr", "tCho_tCr")))
    if not r.previous_session:
        return f"lesion/NAWM {q}, first exam (no change)"
    z = ", ".join(f"{name} z {getattr(r, f'z_change_{col}'):+.1f}"
                  for name, col in (("Lip/tCr", "Lip_tCr"), ("tCho/tCr", "tCho_tCr")))
    return f"lesion/NAWM {q}, change since {r.previous_session}: {z}"


def _fmt_ci(ev: dict[str, Any]) -> str:
    lo, hi = ev["auc_ci"]
    ci = f" [{lo:.2f}, {hi:.2f}]" if np.isfinite(lo) else ""
    return f"LOPO AUC {ev['auc']:.2f}{ci}"


def score_exams(voxels: pd.DataFrame, exams: pd.DataFrame | None = None,
                options: StatsOptions | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """IRIS flags for every lesion exam (decision support, not diagnosis).

    Parameters
    ----------
    voxels : DataFrame
        DESIGN group/voxels.tsv (lesion and NAWM ``Lip_tCr``, ``tCho_tCr``, ``Lip13_tCr`` and the
        ``*_crlb`` columns).
    exams : DataFrame, optional
        ``participant_id, session_id, lesion_enhancing`` (and ``acq_time`` for ordering); without
        it, enhancement is unknown and the Gheuens rule cannot flag.
    options : StatsOptions, optional
        ``gheuens_lipid``, ``gheuens_threshold``, ``iris_change``, ``iris_penalty``,
        ``iris_threshold``, ``quotient_clip``, ``min_iris_exams``, ``n_bootstrap``, ``seed``,
        ``ci_level``.

    Returns
    -------
    iris : DataFrame
        Exactly ``participant_id, session_id, stage, iris_score, iris_flag, rule, reason``
        (group/iris.tsv), one row per lesion exam. ``iris_score`` is the model's LOPO score (NaN
        where the model was not fitted or features are incomplete); ``iris_flag`` is true when the
        Gheuens rule fires or the score reaches ``iris_threshold``, false when every rule that
        applies was decided and none fired, n/a (not evaluable) otherwise: the lesion voxel failed
        QC, its lipid ratio is missing, enhancement is unknown with lipid above the threshold, or the
        model is in use but cannot score the exam; ``rule`` names the rule(s)
        that flagged (``gheuens2012``, ``model``, ``gheuens2012+model``) or ``none``; ``reason``
        states both rules with their numbers and ends with "decision support, not diagnosis".
    evaluation : dict
        ``fitted``, ``reason``, ``auc``, ``auc_ci``, ``sensitivity``/``specificity`` at the
        threshold (LOPO), counts, the full-cohort ``model`` coefficients, ``gheuens`` (counts of
        the rule on the labelled exams), ``disclaimer`` and the sources.
    """
    opts = resolve_options(options)
    feat = iris_features(voxels, exams, opts)
    scores, ev = _evaluate(feat, opts)
    label = "Lip13/tCr" if opts.gheuens_lipid == "Lip13" else "Lip/tCr"
    rows, g_flags = [], []
    for i, r in enumerate(feat.itertuples(index=False)):
        enh = r.lesion_enhancing
        enh = None if enh is pd.NA or enh is None else bool(enh)
        g_flag, g_text = gheuens_rule(float(r.gheuens_lipid), enh, opts.gheuens_threshold, label,
                                      float(r.gheuens_lipid_sd))
        s = scores[i]
        if np.isfinite(s):
            cmp = "≥" if s >= opts.iris_threshold else "<"
            m_text = f"model score {s:.2f} {cmp} {opts.iris_threshold:g} from {_model_inputs(r, opts.quotient_clip)} ({_fmt_ci(ev)})"
            m_flag = bool(s >= opts.iris_threshold) and ev["flags_from_model"]
            if not ev["flags_from_model"]:
                m_text += f", not used for flagging (AUC < {opts.iris_min_auc:g})"
        elif ev["fitted"]:
            m_text = "model score unavailable (" + (r.qc_nawm or r.qc_lesion or
                                                     "lesion or NAWM Lip/tCr, tCho/tCr missing") + ")"
            m_flag = False
        else:
            m_text = ev["reason"]
            m_flag = False
        if r.qc_lesion:   # the rules' numbers are shown, but a failed voxel decides nothing
            g_flag, m_flag = None, False
            g_text = f"{r.qc_lesion}: IRIS not evaluable ({g_text})"
        left_out = "; ".join(x for x in (r.qc_lesion_left_out, r.qc_nawm_left_out) if x)
        if left_out:
            g_text = f"{left_out}: left out, the exam's other voxels used; {g_text}"
        g_flags.append(g_flag)
        fired = [name for name, f in (("gheuens2012", g_flag is True), ("model", m_flag)) if f]
        # not evaluable: nothing fired and a rule that applies could not be decided
        undecided = g_flag is None or (ev["flags_from_model"] and not np.isfinite(s))
        rows.append({
            "participant_id": r.participant_id, "session_id": r.session_id, "stage": r.stage,
            "iris_score": float(s) if np.isfinite(s) else np.nan,
            "iris_flag": True if fired else (pd.NA if undecided else False),
            "rule": "+".join(fired) if fired else "none",
            "reason": f"{g_text}; {m_text}; {DISCLAIMER}",
        })
    iris = pd.DataFrame(rows, columns=IRIS_COLUMNS).astype({"iris_flag": "boolean"})
    lab = feat["label"].to_numpy(float)
    gf = np.array([f is True for f in g_flags], bool)
    known = np.array([f is not None for f in g_flags], bool)
    ev["gheuens"] = {
        "source": GHEUENS_SOURCE, "quote": GHEUENS_QUOTE, "lipid": f"{opts.gheuens_lipid}_tCr",
        "threshold": opts.gheuens_threshold,
        "n_evaluable": int(known.sum()), "n_flagged": int(gf.sum()),
        "n_iris_flagged": int((gf & (lab == 1)).sum()), "n_iris": int((lab == 1).sum()),
        "n_not_iris_flagged": int((gf & (lab == 0)).sum()), "n_not_iris": int((lab == 0).sum()),
    }
    ev["n_flagged"] = int(iris["iris_flag"].fillna(False).sum())
    ev["n_not_evaluable"] = int(iris["iris_flag"].isna().sum())
    return iris, ev
