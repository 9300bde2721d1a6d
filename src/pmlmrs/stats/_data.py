"""Input checks and the per-exam lesion/NAWM table shared by every statistic."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from pmlmrs._logging import logger
from pmlmrs.errors import StudyError
from pmlmrs.stats.options import StatsOptions

__all__ = ["resolve_options", "prepare_voxels", "lesion_nawm_table", "ratio_parts", "KEYS"]

KEYS = ["participant_id", "session_id"]


def resolve_options(options: StatsOptions | None) -> StatsOptions:
    """``options`` or the defaults; anything else is a StudyError naming the type."""
    if options is None:
        return StatsOptions()
    if not isinstance(options, StatsOptions):
        raise StudyError(f"options must be StatsOptions, got {type(options).__name__}")
    return options


def require_columns(df: pd.DataFrame, columns: Iterable[str], table: str) -> None:
    """StudyError listing the missing columns of *table*."""
    if not isinstance(df, pd.DataFrame):
        raise StudyError(f"the {table} table must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise StudyError(
            f"the {table} table lacks column(s) {missing}; it has {list(df.columns)}", column=missing[0]
        )


def to_bool(series: pd.Series) -> pd.Series:
    """True/False/NA from booleans or the strings TSV files carry (:func:`pmlmrs.config.parse_bool`;
    anything else is NA)."""
    from pmlmrs.config import parse_bool

    def conv(v: object) -> object:
        try:
            b = parse_bool(v)
        except ValueError:
            return pd.NA
        return pd.NA if b is None else b

    return series.map(conv).astype("boolean")


def ratio_parts(ratio: str) -> tuple[str, str]:
    """``"tNAA_tCr"`` → ``("tNAA", "tCr")`` (numerator and denominator column names)."""
    num, _, den = ratio.rpartition("_")
    return num, den


def prepare_voxels(voxels: pd.DataFrame, options: StatsOptions) -> pd.DataFrame:
    """Check and normalise the voxels table (DESIGN group/voxels.tsv).

    Ratio columns become floats (text such as "n/a" → NaN), ``voi`` and ``stage`` lower case, a
    voxel with a non-empty ``error`` keeps no ratio, and ``exclude_failed_qc`` drops voxels whose
    ``qc_pass`` is false (logged).
    """
    require_columns(voxels, KEYS + ["voi", "stage"], "voxels")
    v = voxels.copy()
    v["participant_id"] = v["participant_id"].astype(str)
    v["session_id"] = v["session_id"].astype(str)
    v["voi"] = v["voi"].astype(str).str.strip().str.lower()
    v["stage"] = v["stage"].astype(str).str.strip().str.lower().replace(
        {"nan": "unassigned", "": "unassigned", "n/a": "unassigned", "none": "unassigned", "<na>": "unassigned"})
    bad = sorted(set(v["voi"]) - {"lesion", "nawm"})
    if bad:
        raise StudyError(f"voxels table: voi must be 'lesion' or 'nawm', found {bad}", column="voi")
    if "days_since_pml_onset" not in v.columns:
        v["days_since_pml_onset"] = np.nan
    v["days_since_pml_onset"] = pd.to_numeric(v["days_since_pml_onset"], errors="coerce")
    numeric = [c for c in v.columns
               if c in options.ratios or c.endswith("_crlb") or c in ("snr", "fwhm_ppm", "fit_quality")]
    for c in numeric:
        if not pd.api.types.is_numeric_dtype(v[c]) or pd.api.types.is_bool_dtype(v[c]):
            v[c] = pd.to_numeric(v[c], errors="coerce")
        v[c] = v[c].astype(float)
    if "error" in v.columns:
        err = v["error"].fillna("").astype(str).str.strip()
        failed = err.ne("") & err.str.lower().ne("n/a") & err.str.lower().ne("nan")
        ratio_cols = [r for r in options.ratios if r in v.columns]
        v.loc[failed, ratio_cols] = np.nan
    if "qc_pass" in v.columns:
        v["qc_pass"] = to_bool(v["qc_pass"])
        if options.exclude_failed_qc:
            drop = v["qc_pass"].eq(False).fillna(False).to_numpy(bool)
            if drop.any():
                logger.info("stats: excluding %d voxel(s) that failed QC (exclude_failed_qc)", int(drop.sum()))
            v = v.loc[~drop]
    return v


def ratio_sd(v: pd.DataFrame, ratio: str) -> pd.Series:
    """Absolute SD of a ratio: the ``R_sd`` column of voxels.tsv (from the fit covariance), else the
    relative CRLBs (%) of numerator and denominator.

    The fallback ``sd = R · sqrt((crlb_A/100)² + (crlb_B/100)²)`` is first-order error propagation
    ignoring the covariance of the two amplitudes. NaN where neither is available.
    """
    num, den = ratio_parts(ratio)
    ca, cb = f"{num}_crlb", f"{den}_crlb"
    if ratio not in v.columns:
        return pd.Series(np.nan, index=v.index)
    fallback = pd.Series(np.nan, index=v.index)
    if ca in v.columns and cb in v.columns:
        a = pd.to_numeric(v[ca], errors="coerce") / 100.0
        b = pd.to_numeric(v[cb], errors="coerce") / 100.0
        fallback = v[ratio].abs() * np.sqrt(a**2 + b**2)
    if f"{ratio}_sd" in v.columns:
        return pd.to_numeric(v[f"{ratio}_sd"], errors="coerce").fillna(fallback)
    return fallback


def lesion_nawm_table(voxels: pd.DataFrame, options: StatsOptions | None = None) -> pd.DataFrame:
    """One row per exam: lesion and NAWM value of every ratio and the lesion relative to NAWM.

    Parameters
    ----------
    voxels : DataFrame
        DESIGN group/voxels.tsv (``participant_id, session_id, voi, stage, days_since_pml_onset``
        and the summary.tsv columns).
    options : StatsOptions, optional

    Returns
    -------
    DataFrame
        ``participant_id, session_id, stage, days_since_pml_onset, n_lesion, n_nawm``, then per
        ratio ``R``: ``R_lesion, R_nawm, R_quotient`` (lesion / NAWM), ``R_difference``
        (lesion − NAWM), ``R_lesion_sd, R_nawm_sd`` (SD from the CRLBs), and ``lipid_rise``
        (``Lip_tCr`` quotient [default] or difference, per ``options.lipid_rise``). An exam with
        several lesion voxels uses their mean (SD of the mean from the CRLBs). A zero NAWM value
        gives an infinite quotient; a missing voxel gives NaN.
    """
    opts = resolve_options(options)
    v = prepare_voxels(voxels, opts)
    return _lesion_nawm(v, opts)


def _lesion_nawm(v: pd.DataFrame, opts: StatsOptions) -> pd.DataFrame:
    ratios = [r for r in opts.ratios if r in v.columns]
    missing = [r for r in opts.ratios if r not in v.columns]
    if missing:
        logger.info("stats: ratio column(s) %s absent from the voxels table; left out", missing)
    need = set(ratios) | {"Lip_tCr"} if "Lip_tCr" in v.columns else set(ratios)
    work = v[KEYS + ["voi", "stage", "days_since_pml_onset"]].copy()
    for r in sorted(need):
        work[r] = v[r].astype(float)
        work[f"{r}__var"] = ratio_sd(v, r) ** 2

    exam_info = (
        work.groupby(KEYS, sort=False)
        .agg(stage=("stage", "first"), days_since_pml_onset=("days_since_pml_onset", "first"))
        .reset_index()
    )
    out = exam_info
    for voi in ("lesion", "nawm"):
        part = work[work["voi"] == voi]
        g = part.groupby(KEYS, sort=False)
        agg = g.size().rename(f"n_{voi}").reset_index()
        for r in sorted(need):
            mean = g[r].mean().rename(f"{r}_{voi}")
            n_ok = g[r].count()
            sd = (np.sqrt(g[f"{r}__var"].sum(min_count=1)) / n_ok.replace(0, np.nan)).rename(f"{r}_{voi}_sd")
            agg = agg.merge(mean.reset_index(), on=KEYS, how="left").merge(sd.reset_index(), on=KEYS, how="left")
        out = out.merge(agg, on=KEYS, how="left")
    out[["n_lesion", "n_nawm"]] = out[["n_lesion", "n_nawm"]].fillna(0).astype(int)
    cols = KEYS + ["stage", "days_since_pml_onset", "n_lesion", "n_nawm"]
    with np.errstate(divide="ignore", invalid="ignore"):
        for r in sorted(need):
            les, nawm = out[f"{r}_lesion"], out[f"{r}_nawm"]
            out[f"{r}_quotient"] = les / nawm
            out[f"{r}_difference"] = les - nawm
        for r in ratios:
            cols += [f"{r}_lesion", f"{r}_nawm", f"{r}_quotient", f"{r}_difference",
                     f"{r}_lesion_sd", f"{r}_nawm_sd"]
        if "Lip_tCr" in v.columns:
            out["lipid_rise"] = out[f"Lip_tCr_{opts.lipid_rise}"]
        else:
            out["lipid_rise"] = np.nan
    cols.append("lipid_rise")
    return out[cols].reset_index(drop=True)
