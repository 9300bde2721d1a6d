"""Spearman correlations of lesion measures with the clinical change (group/correlations.tsv)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from pmlmrs.stats._data import KEYS, _lesion_nawm, prepare_voxels, require_columns, resolve_options
from pmlmrs.stats.options import StatsOptions

__all__ = ["CORRELATION_COLUMNS", "correlations", "correlation_data"]

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
        constant, with the reason in ``DataFrame.attrs["notes"]``. Exam-level p-values treat
        exams of one patient as independent (they are not; STUDY.md item 7) — use
        ``unit="patient"`` to check.
    """
    from scipy.stats import spearmanr

    opts = resolve_options(options)
    data = correlation_data(voxels, exams, opts)
    rows, notes = [], []
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
                if n < 3:
                    notes.append(f"{m} × {c} ({label}): n = {n} < 3, not computed")
                elif np.all(x == x[0]) or np.all(y == y[0]):
                    notes.append(f"{m} × {c} ({label}): a variable is constant, ρ undefined")
                else:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        res = spearmanr(x, y)
                    rho, p = float(res.statistic), float(res.pvalue)
                rows.append({"measure": m, "clinical": c, "subset": label, "unit": opts.unit,
                             "n": int(n), "rho": rho, "p": p})
    out = pd.DataFrame(rows, columns=CORRELATION_COLUMNS)
    out.attrs["notes"] = notes
    return out
