"""Spearman correlations of lesion measures with the clinical change (group/correlations.tsv)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from pmlmrs.stats._data import KEYS, _lesion_nawm, prepare_voxels, require_columns, resolve_options
from pmlmrs.stats.options import StatsOptions

__all__ = ["CORRELATION_COLUMNS", "SPEARMAN_EXACT_MAX_N", "correlations", "correlation_data"]

#: DESIGN.md group/correlations.tsv, in order.
CORRELATION_COLUMNS = ["measure", "clinical", "subset", "unit", "n", "rho", "p"]


def _clinical_table(exams: pd.DataFrame, clinical: tuple[str, ...]) -> pd.DataFrame:
    require_columns(exams, KEYS, "exams")
    e = exams.copy()
    e["participant_id"] = e["participant_id"].astype(str)
    e["session_id"] = e["session_id"].astype(str)
    for c in clinical:
        if c not in e.columns:
            base = {"delta_kps": ("kps", "kps_pre"), "delta_edss": ("edss", "edss_pre")}[c]
            if all(b in e.columns for b in base):
                e[c] = pd.to_numeric(e[base[0]], errors="coerce") - pd.to_numeric(e[base[1]], errors="coerce")
            else:
                require_columns(e, [c], "exams")
        e[c] = pd.to_numeric(e[c], errors="coerce").astype(float)
    return e[KEYS + list(clinical)].drop_duplicates(KEYS)


#: Largest n for which the Spearman p-value is an exact permutation p over all n! orderings
#: (9! = 362,880, well under a second); spearmanr's t-approximation is far too small below that
#: (n = 3, ρ = ±1: p = 0 vs the exact 1/3; n = 5, ρ = −0.975: 0.0048 vs 0.033).
SPEARMAN_EXACT_MAX_N = 9


def _spearman(x: np.ndarray, y: np.ndarray) -> tuple[float, float, str]:
    """Spearman ρ, its two-sided p and how p was obtained: ``"permutation_exact"`` (every
    ordering of y against x, exact conditional on ties; n ≤ :data:`SPEARMAN_EXACT_MAX_N`) or
    ``"t_approximation"`` (scipy's spearmanr)."""
    from scipy.stats import permutation_test, rankdata, spearmanr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = spearmanr(x, y)
    n = len(x)
    if n > SPEARMAN_EXACT_MAX_N:
        return float(res.statistic), float(res.pvalue), "t_approximation"
    # Doubled, centred mid-ranks are integers, so the statistic Σ cx·cy (ρ up to a constant
    # factor that permuting y leaves unchanged) compares exactly with the observed one.
    cx, cy = 2 * rankdata(x) - (n + 1), 2 * rankdata(y) - (n + 1)
    perm = permutation_test((cy,), lambda v, axis: (cx * v).sum(axis=axis), permutation_type="pairings",
                            vectorized=True, n_resamples=np.inf, alternative="two-sided")
    return float(res.statistic), float(perm.pvalue), "permutation_exact"


def correlation_data(voxels: pd.DataFrame, exams: pd.DataFrame,
                     options: StatsOptions | None = None) -> pd.DataFrame:
    """The per-exam table the correlations use: lesion measures joined with the clinical change.

    Returns ``participant_id, session_id, stage``, one column per ``options.correlation_measures``
    (lesion ratio, or ``lipid_rise``) and one per ``options.clinical``.
    """
    opts = resolve_options(options)
    v = prepare_voxels(voxels, opts)
    ex = _lesion_nawm(v, opts)
    cols = KEYS + ["stage"]
    for m in opts.correlation_measures:
        src = "lipid_rise" if m == "lipid_rise" else f"{m}_lesion"
        ex[m] = ex[src] if src in ex.columns else np.nan
    cols += [m for m in opts.correlation_measures if m not in cols]
    clin = _clinical_table(exams, opts.clinical)
    return ex[cols].merge(clin, on=KEYS, how="left")


def correlations(voxels: pd.DataFrame, exams: pd.DataFrame,
                 options: StatsOptions | None = None) -> pd.DataFrame:
    """Spearman ρ of lesion measures with the clinical change in post-PML exams.

    Parameters
    ----------
    voxels : DataFrame
        DESIGN group/voxels.tsv.
    exams : DataFrame
        ``participant_id, session_id`` and ``delta_kps``/``delta_edss`` (or ``kps``+``kps_pre``,
        ``edss``+``edss_pre`` to derive them).
    options : StatsOptions, optional
        ``correlation_measures`` (default tNAA_tCho and tCho_tCr of the lesion, and
        ``lipid_rise``), ``clinical``, ``correlation_subsets`` (default ``post_pml`` = early +
        late post-PML), ``unit`` (``"exam"`` [default]: every exam one observation;
        ``"patient"``: the mean per patient within the subset).

    Returns
    -------
    DataFrame
        Exactly ``measure, clinical, subset, unit, n, rho, p`` (group/correlations.tsv). ``n``
        counts the observations with both values; ρ and p are NaN when n < 3 or a variable is
        constant, with the reason in ``DataFrame.attrs["notes"]``. p is an exact permutation
        p (all n! orderings) for n ≤ :data:`SPEARMAN_EXACT_MAX_N` and spearmanr's
        t-approximation above, at either unit; ``DataFrame.attrs["p_method"]`` names it per row
        (``"permutation_exact"``, ``"t_approximation"``, ``""`` where not computed). Exam-level
        p-values treat exams of one patient as independent (they are not; STUDY.md item 7) — use
        ``unit="patient"`` to check.
    """
    opts = resolve_options(options)
    data = correlation_data(voxels, exams, opts)
    rows, notes, methods = [], [], []
    for label, stages in opts.correlation_subsets:
        sub = data[data["stage"].isin(stages)]
        for m in opts.correlation_measures:
            for c in opts.clinical:
                # An infinite lipid rise (NAWM lipid amplitude zero) is kept: it ranks highest.
                d = sub[["participant_id", m, c]]
                if opts.unit == "patient":
                    d = d.dropna().groupby("participant_id")[[m, c]].mean().reset_index()
                d = d.dropna()
                x, y = d[m].to_numpy(float), d[c].to_numpy(float)
                n = len(x)
                rho = p = np.nan
                method = ""
                if n < 3:
                    notes.append(f"{m} × {c} ({label}): n = {n} < 3, not computed")
                elif np.all(x == x[0]) or np.all(y == y[0]):
                    notes.append(f"{m} × {c} ({label}): a variable is constant, ρ undefined")
                else:
                    rho, p, method = _spearman(x, y)
                methods.append(method)
                rows.append({"measure": m, "clinical": c, "subset": label, "unit": opts.unit,
                             "n": int(n), "rho": rho, "p": p})
    out = pd.DataFrame(rows, columns=CORRELATION_COLUMNS)
    out.attrs["notes"] = notes
    out.attrs["p_method"] = methods
    return out
