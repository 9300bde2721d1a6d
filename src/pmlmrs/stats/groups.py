"""Group statistics: lesion vs NAWM within each stage, and stage vs stage (group/stage_stats.tsv).

Non-parametric throughout (STUDY.md: 3–10 exams per stage): Wilcoxon signed-rank for lesion vs
NAWM paired within exams, Mann–Whitney U otherwise, Kruskal–Wallis across stages, then pairwise
Mann–Whitney U; raw, Holm and Benjamini–Hochberg adjusted p-values (two-sided). Wilcoxon and
Mann–Whitney p-values are exact for small samples, with ties and zero differences too (exact
permutation p), as STUDY.md asks. With 3–10 exams a p-value alone says little, so every tested row
also gets an effect size (rank-biserial correlation; epsilon² for Kruskal–Wallis) and the
Hodges–Lehmann shift in the ratio's units (columns added after DESIGN's, see
:data:`STAGE_STATS_COLUMNS`).
"""

from __future__ import annotations

import warnings
from itertools import combinations

import numpy as np
import pandas as pd

from pmlmrs._logging import logger
from pmlmrs.stats._data import KEYS, _lesion_nawm, prepare_voxels, resolve_options
from pmlmrs.stats.options import ALL_STAGES, StatsOptions

__all__ = ["STAGE_STATS_COLUMNS", "stage_stats", "describe", "stage_counts", "adjust_pvalues",
           "analysis_table"]

#: DESIGN.md group/stage_stats.tsv, in order, then pmlmrs' extension: ``effect`` (value),
#: ``effect_measure`` (``matched_pairs_rank_biserial`` | ``rank_biserial`` | ``epsilon_squared``) and
#: ``shift`` (Hodges–Lehmann estimate of a − b in the ratio's units; paired: the pseudomedian of
#: the differences). Rank-biserial runs from −1 (every a below b) to 1; NaN where not tested.
STAGE_STATS_COLUMNS = [
    "ratio", "stage", "comparison", "group_a", "group_b", "n_a", "n_b", "median_a", "median_b",
    "test", "statistic", "p", "p_holm", "p_fdr", "direction", "effect", "effect_measure", "shift",
]


def analysis_table(voxels: pd.DataFrame, opts: StatsOptions) -> pd.DataFrame:
    """The per-exam lesion/NAWM table, or per patient × stage means when ``unit="patient"``."""
    v = prepare_voxels(voxels, opts)
    ex = _lesion_nawm(v, opts)
    if opts.unit == "patient":
        num = [c for c in ex.columns if c not in KEYS + ["stage"]]
        ex = (
            ex.groupby(["participant_id", "stage"], sort=False)[num]
            .mean()
            .reset_index()
            .assign(session_id=lambda d: "all")
        )
    return ex


def _direction(effect: tuple[float, str, float]) -> str:
    """"up" when group a lies above group b, "down" below, "" when the rank-biserial effect (what the
    Wilcoxon and Mann–Whitney statistics test) is 0. The difference of the two medians can point the
    other way (medians 0.612 vs 0.597 with 57 % of the pairs below)."""
    eff = effect[0]
    return "up" if eff > 0 else "down" if eff < 0 else ""


def _effect(a: np.ndarray, b: np.ndarray, paired: bool) -> tuple[float, str, float]:
    """(effect, effect_measure, shift) of a vs b.

    Paired: the matched-pairs rank-biserial correlation ``(T+ − T−) / (T+ + T−)`` of the signed
    ranks of the non-zero differences (Kerby 2014) and the Hodges–Lehmann pseudomedian of a − b
    (median of the Walsh averages). Unpaired: ``2 U_a / (n_a n_b) − 1`` (Glass 1966; the share of
    pairs with a > b minus the share with a < b, ties counting half) and the median of all a_i − b_j.
    """
    from scipy.stats import rankdata

    if paired:
        d = a - b
        nz = d[d != 0]
        r = rankdata(np.abs(nz))
        tot = r.sum()
        eff = float((r[nz > 0].sum() - r[nz < 0].sum()) / tot) if tot > 0 else 0.0
        i, j = np.triu_indices(len(d))
        return eff, "matched_pairs_rank_biserial", float(np.median((d[i] + d[j]) / 2))
    diff = np.subtract.outer(a, b)
    eff = float(np.mean(np.sign(diff)))        # = 2 U_a / (n_a n_b) - 1
    return eff, "rank_biserial", float(np.median(diff))


def _has_ties(x: np.ndarray) -> bool:
    return len(np.unique(x)) < len(x)


#: Largest subset-count table (cells) for the exact permutation p with ties: 80 MB. The default
#: ``exact_max_n`` = 50 needs at most ~10^6 (Mann–Whitney 50 vs 50).
_MAX_CELLS = 10_000_000


def _permutation_p(w: np.ndarray, observed: int, k: int | None = None) -> float:
    """Exact two-sided permutation p of a sum of the integer scores *w* (doubled mid-ranks).

    *k* None: sign-flip null of the Wilcoxon test, every subset of *w* equally likely to be the
    positive one; *k*: two-sample null, every subset of size k equally likely to be group a. The
    subsets are counted per sum (the shift algorithm of Streitberg & Röhmel 1986) rather than
    enumerated, so the p-value is exact conditional on the ties at any n this module allows.
    p = 2 × the smaller tail (observed included), capped at 1, as scipy's ``permutation_test``.
    """
    total = int(w.sum())
    table = np.zeros((len(w) + 1, total + 1))  # table[j, s]: subsets of size j with sum s
    table[0, 0] = 1.0
    for x in w:
        table[1:, x:] = table[1:, x:] + table[:-1, : total + 1 - x]
    counts = table.sum(axis=0) if k is None else table[k]
    below, above = counts[: observed + 1].sum(), counts[observed:].sum()
    return float(min(1.0, 2 * min(below, above) / counts.sum()))


def _fits(n_scores: int, total: int) -> bool:
    """Whether :func:`_permutation_p`'s table for these scores stays within :data:`_MAX_CELLS`."""
    return (n_scores + 1) * (total + 1) <= _MAX_CELLS


def _wilcoxon(a: np.ndarray, b: np.ndarray, opts: StatsOptions) -> tuple[str, float, float]:
    """Wilcoxon signed-rank test of a − b (zero differences dropped, as scipy's "wilcox").

    n ≤ ``opts.exact_max_n``: scipy's exact p without ties or zeros; with them the exact
    sign-flip permutation p of the mid-ranks (``wilcoxon_permutation``), since the normal
    approximation is too liberal at small n (differences 0.1, 0.1, 0.2, 0.3, 0.4: 0.042 vs the
    exact 0.0625). Asymptotic (tie-corrected) above.
    """
    from scipy.stats import rankdata, wilcoxon

    d = a - b
    n = len(d)
    if n < 2:
        return f"wilcoxon: not tested, {n} complete lesion/NAWM pair(s) < 2", np.nan, np.nan
    if np.all(d == 0):
        return "wilcoxon: not tested, all lesion − NAWM differences are zero", np.nan, np.nan
    ties = np.any(d == 0) or _has_ties(np.abs(d))
    nz = d[d != 0]
    w = np.rint(2 * rankdata(np.abs(nz))).astype(np.int64)  # doubled mid-ranks are integers
    if ties and n <= opts.exact_max_n and _fits(len(w), int(w.sum())):
        stat = min(w[nz > 0].sum(), w[nz < 0].sum()) / 2
        return "wilcoxon_permutation", float(stat), _permutation_p(w, int(w[nz > 0].sum()))
    exact = not ties and n <= opts.exact_max_n
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = wilcoxon(a, b, zero_method="wilcox", method="exact" if exact else "approx",
                       alternative="two-sided")
    return f"wilcoxon_{'exact' if exact else 'asymptotic'}", float(res.statistic), float(res.pvalue)


def _mannwhitney(a: np.ndarray, b: np.ndarray, opts: StatsOptions) -> tuple[str, float, float]:
    """Mann–Whitney U of a vs b (``statistic`` = U of a).

    Larger sample ≤ ``opts.exact_max_n``: scipy's exact p without ties; with ties the exact
    permutation p of the rank sum of a (``mannwhitneyu_permutation``). Asymptotic (tie- and
    continuity-corrected) above.
    """
    from scipy.stats import mannwhitneyu, rankdata

    if len(a) < 2 or len(b) < 2:
        return f"mannwhitneyu: not tested, n_a = {len(a)}, n_b = {len(b)} (need ≥ 2 each)", np.nan, np.nan
    both = np.concatenate([a, b])
    if np.all(both == both[0]):
        return "mannwhitneyu: not tested, all values tied", np.nan, np.nan
    small, ties = max(len(a), len(b)) <= opts.exact_max_n, _has_ties(both)
    w = np.rint(2 * rankdata(both)).astype(np.int64)  # doubled mid-ranks are integers
    if small and ties and _fits(len(w), int(w.sum())):
        r_a = int(w[: len(a)].sum())
        stat = r_a / 2 - len(a) * (len(a) + 1) / 2
        return "mannwhitneyu_permutation", float(stat), _permutation_p(w, r_a, len(a))
    exact = small and not ties
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = mannwhitneyu(a, b, method="exact" if exact else "asymptotic", use_continuity=True,
                           alternative="two-sided")
    return f"mannwhitneyu_{'exact' if exact else 'asymptotic'}", float(res.statistic), float(res.pvalue)


def _row(ratio, stage, comparison, ga, gb, a, b, test, stat, p,
         effect: tuple[float, str, float] = (np.nan, "", np.nan)) -> dict:
    """One stage_stats row; ``direction`` from *effect* (empty without one: no test, or Kruskal–Wallis)."""
    direction = _direction(effect) if effect[1] and effect[1] != "epsilon_squared" else ""
    return {
        "ratio": ratio, "stage": stage, "comparison": comparison, "group_a": ga, "group_b": gb,
        "n_a": int(len(a)), "n_b": int(len(b)),
        "median_a": float(np.median(a)) if len(a) else np.nan,
        "median_b": float(np.median(b)) if len(b) else np.nan,
        "test": test, "statistic": stat, "p": p, "p_holm": np.nan, "p_fdr": np.nan,
        "direction": direction, "effect": effect[0], "effect_measure": effect[1], "shift": effect[2],
    }


def _paired(n_pairs: int, n_any: int, min_pair_fraction: float) -> bool:
    """``pairing="auto"``: test the complete pairs when they are at least *min_pair_fraction* of
    the exams with any value, or when only one exam lacks its partner (unless the fraction is 1).

    The one-exam allowance keeps small stages paired: with 3 exams, one missing NAWM voxel leaves
    2/3 < 0.75, and an unpaired test on lesion and NAWM values of the same exams would treat
    dependent samples as independent.
    """
    if n_pairs == 0:
        return False
    return n_pairs >= min_pair_fraction * n_any or (min_pair_fraction < 1 and n_any - n_pairs <= 1)


def _lesion_vs_nawm(ex: pd.DataFrame, ratio: str, stage: str, opts: StatsOptions) -> dict:
    sub = ex[ex["stage"] == stage]
    les = sub[f"{ratio}_lesion"].to_numpy(float)
    nawm = sub[f"{ratio}_nawm"].to_numpy(float)
    ok_l, ok_n = np.isfinite(les), np.isfinite(nawm)
    both = ok_l & ok_n
    if opts.pairing == "paired":
        paired = True
    elif opts.pairing == "unpaired":
        paired = False
    else:
        paired = _paired(int(np.sum(both)), int(np.sum(ok_l | ok_n)), opts.min_pair_fraction)
    if paired:
        a, b = les[both], nawm[both]
        test, stat, p = _wilcoxon(a, b, opts)
    else:
        a, b = les[ok_l], nawm[ok_n]
        test, stat, p = _mannwhitney(a, b, opts)
    effect = _effect(a, b, paired) if np.isfinite(p) else (np.nan, "", np.nan)  # no test, no effect
    return _row(ratio, stage, "lesion_vs_nawm", "lesion", "nawm", a, b, test, stat, p, effect)


def _stage_rows(ex: pd.DataFrame, ratio: str, voi: str, opts: StatsOptions) -> list[dict]:
    from scipy.stats import kruskal

    col = f"{ratio}_{voi}"
    groups = {}
    for s in opts.stages:
        x = ex.loc[ex["stage"] == s, col].to_numpy(float)
        groups[s] = x[np.isfinite(x)]
    rows = []
    used = [s for s in opts.stages if len(groups[s]) >= 2]
    allv = np.concatenate([groups[s] for s in used]) if used else np.array([])
    if len(used) < 2:
        test, stat, p = (f"kruskal_wallis: not tested, {len(used)} stage(s) with ≥ 2 values (need ≥ 2)",
                         np.nan, np.nan)
    elif np.all(allv == allv[0]):
        test, stat, p = "kruskal_wallis: not tested, all values tied", np.nan, np.nan
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = kruskal(*[groups[s] for s in used])
        test, stat, p = "kruskal_wallis", float(res.statistic), float(res.pvalue)
    # Omnibus row: n_a = pooled n, n_b = number of stages compared, median_a = pooled median;
    # effect epsilon² = H / (n − 1) (Tomczak & Tomczak 2014), 0..1
    effect = (stat / (len(allv) - 1), "epsilon_squared", np.nan) if np.isfinite(p) else (np.nan, "", np.nan)
    row = _row(ratio, "all", "stage_vs_stage", voi, ",".join(used), allv, np.empty(len(used)),
               test, stat, p, effect)
    row["median_b"] = np.nan
    rows.append(row)
    for s1, s2 in combinations(opts.stages, 2):
        # group_a is the later stage, so "up" means the ratio rose from s1 to s2.
        a, b = groups[s2], groups[s1]
        test, stat, p = _mannwhitney(a, b, opts)
        rows.append(_row(ratio, f"{s2}_vs_{s1}", "stage_vs_stage", f"{voi}:{s2}", f"{voi}:{s1}",
                         a, b, test, stat, p, _effect(a, b, False) if np.isfinite(p) else (np.nan, "", np.nan)))
    return rows


def adjust_pvalues(table: pd.DataFrame, family: str = "ratio") -> pd.DataFrame:
    """Fill ``p_holm`` and ``p_fdr`` (Benjamini–Hochberg) within families (see StatsOptions.family).

    Rows whose ``p`` is NaN (not tested) stay NaN and do not count towards the family size.
    """
    from statsmodels.stats.multitest import multipletests

    t = table.copy()
    kind = np.where(t["stage"].eq("all"), "omnibus", "pairwise")
    if family == "all":
        keys = pd.Series("all", index=t.index)
    elif family == "ratio":
        keys = t["comparison"] + "|" + kind + "|" + t["ratio"]
    else:
        keys = t["comparison"] + "|" + kind
    t["p_holm"] = np.nan
    t["p_fdr"] = np.nan
    for _, idx in t.groupby(keys).groups.items():
        p = t.loc[idx, "p"].to_numpy(float)
        ok = np.isfinite(p)
        if not ok.any():
            continue
        sel = np.asarray(idx)[ok]
        t.loc[sel, "p_holm"] = multipletests(p[ok], method="holm")[1]
        t.loc[sel, "p_fdr"] = multipletests(p[ok], method="fdr_bh")[1]
    return t


def stage_stats(voxels: pd.DataFrame, options: StatsOptions | None = None) -> pd.DataFrame:
    """Lesion vs NAWM per stage and stage vs stage per compartment, for every ratio.

    Parameters
    ----------
    voxels : DataFrame
        DESIGN group/voxels.tsv.
    options : StatsOptions, optional
        ``ratios``, ``stages``, ``unit``, ``pairing``, ``exact_max_n``, ``family``,
        ``exclude_failed_qc`` apply.

    Returns
    -------
    DataFrame
        The group/stage_stats.tsv columns (:data:`STAGE_STATS_COLUMNS`: DESIGN's, then the effect
        size, its measure and the Hodges–Lehmann shift).

        - ``comparison="lesion_vs_nawm"``: one row per ratio × stage; ``group_a="lesion"``,
          ``group_b="nawm"``; Wilcoxon signed-rank on the exams with both voxels (``pairing``;
          with ``"auto"`` when the pairs are ≥ ``min_pair_fraction`` of the exams or only one
          exam lacks its partner, see :func:`_paired`; ``n_a = n_b`` = pairs), else Mann–Whitney
          U on all voxels; ``direction`` is lesion relative to NAWM.
        - ``comparison="stage_vs_stage"``, ``stage="all"``: Kruskal–Wallis across the stages with
          ≥ 2 values, per compartment (``group_a`` = ``lesion`` or ``nawm``, ``group_b`` = the
          stages used, ``n_a`` = total n, ``n_b`` = number of stages, ``median_a`` = pooled median).
        - ``comparison="stage_vs_stage"``, ``stage="<later>_vs_<earlier>"``: pairwise Mann–Whitney
          U, ``group_a="<voi>:<later stage>"``; ``direction`` "up" = higher in the later stage.

        ``test`` names the test and how p was obtained: ``_exact`` (scipy's exact null
        distribution, no ties), ``_permutation`` (ties or zero differences: exact permutation p,
        conditional on the ties), ``_asymptotic`` (larger sample > ``exact_max_n``), and
        ``kruskal_wallis`` (chi-squared approximation). Degenerate cases (n < 2, all values
        tied, all differences zero) give NaN ``statistic``/``p`` and the reason in ``test``
        (e.g. ``"mannwhitneyu: not tested, n_a = 1, n_b = 4 (need ≥ 2 each)"``). ``direction`` is
        the sign of the rank-biserial effect, so it agrees with what the test measured; empty where
        that effect is 0 or there is no test (NaN ``p``), and on Kruskal–Wallis rows.
        Holm and BH adjustments are within the families of ``options.family`` (default
        ``"ratio"``: per ratio, its lesion-vs-NAWM tests over the stages; its pairwise stage
        tests; its omnibus tests). ``unassigned`` exams never enter.

    Notes
    -----
    With ``unit="exam"`` a patient followed through several stages contributes one exam to each,
    and the stage-vs-stage tests treat those exams as independent (as the source study appears to
    have done); ``unit="patient"`` averages within patient × stage but cannot remove the pairing
    across stages. The longitudinal mixed model (:func:`pmlmrs.stats.longitudinal`) is the
    analysis that accounts for it.
    """
    opts = resolve_options(options)
    ex = analysis_table(voxels, opts)
    ratios = [r for r in opts.ratios if f"{r}_lesion" in ex.columns]
    rows: list[dict] = []
    for r in ratios:
        for s in opts.stages:
            rows.append(_lesion_vs_nawm(ex, r, s, opts))
        for voi in ("lesion", "nawm"):
            rows.extend(_stage_rows(ex, r, voi, opts))
    if not rows:
        logger.warning("stage_stats: no ratio columns to test")
        return pd.DataFrame(columns=STAGE_STATS_COLUMNS)
    table = pd.DataFrame(rows, columns=STAGE_STATS_COLUMNS)
    table = adjust_pvalues(table, opts.family)
    table["n_a"] = table["n_a"].astype(int)
    table["n_b"] = table["n_b"].astype(int)
    return table


def _quantiles(x: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """Linear-interpolation quantiles (numpy's default) that stay defined with infinite values.

    A zero NAWM lipid amplitude makes a quotient infinite; ``np.percentile`` then returns NaN even
    for a finite median (0 × ∞ in its interpolation weights). Here a zero weight takes the lower
    neighbour exactly.
    """
    xs = np.sort(np.asarray(x, float))
    out = []
    for q in qs:
        h = (len(xs) - 1) * q
        lo, hi = int(np.floor(h)), int(np.ceil(h))
        w = h - lo
        if w == 0 or xs[lo] == xs[hi]:
            out.append(float(xs[lo]))
        else:
            out.append(float(xs[lo] + w * (xs[hi] - xs[lo])))
    return out


def describe(voxels: pd.DataFrame, options: StatsOptions | None = None) -> pd.DataFrame:
    """Median, IQR and range per ratio × compartment × stage.

    Compartments are ``lesion``, ``nawm`` and the lesion relative to NAWM of the same exam
    (``lesion_nawm_quotient`` or ``lesion_nawm_difference``, per ``options.relative``); stages are
    ``options.stages`` then ``unassigned`` (described, never tested). Values are per exam, or per
    patient × stage with ``unit="patient"`` — the same observations the tests use.

    Returns
    -------
    DataFrame
        ``ratio, compartment, stage, n, n_patients, median, q1, q3, iqr, min, max`` (NaN
        statistics where n = 0).
    """
    opts = resolve_options(options)
    ex = analysis_table(voxels, opts)
    rel = f"lesion_nawm_{opts.relative}"
    stages = list(opts.stages) + [s for s in ALL_STAGES if s not in opts.stages]
    rows = []
    ratios = [r for r in opts.ratios if f"{r}_lesion" in ex.columns]
    for r in ratios + ["lipid_rise"]:
        comps = (
            [("lesion_nawm_" + opts.lipid_rise, "lipid_rise")] if r == "lipid_rise"
            else [("lesion", f"{r}_lesion"), ("nawm", f"{r}_nawm"), (rel, f"{r}_{opts.relative}")]
        )
        for comp, col in comps:
            for s in stages:
                sub = ex[ex["stage"] == s]
                x = sub[col].to_numpy(float)
                keep = ~np.isnan(x)
                x = x[keep]
                n_pat = int(sub.loc[keep, "participant_id"].nunique()) if len(sub) else 0
                if len(x):
                    q1, med, q3 = _quantiles(x, (0.25, 0.5, 0.75))
                    lo, hi = float(np.min(x)), float(np.max(x))
                else:
                    q1 = med = q3 = lo = hi = np.nan
                rows.append({"ratio": r, "compartment": comp, "stage": s, "n": int(len(x)),
                             "n_patients": n_pat, "median": med, "q1": q1, "q3": q3,
                             "iqr": q3 - q1, "min": lo, "max": hi})
    return pd.DataFrame(rows, columns=["ratio", "compartment", "stage", "n", "n_patients", "median",
                                       "q1", "q3", "iqr", "min", "max"])


def stage_counts(voxels: pd.DataFrame, exams: pd.DataFrame | None = None,
                 options: StatsOptions | None = None) -> pd.DataFrame:
    """n per stage: exams, patients, lesion and NAWM voxels, voxels failing QC.

    With *exams* given, ``n_exams`` and ``n_patients`` count the exams table (exams without usable
    voxels included); otherwise the exams present in *voxels*. Stages: ``options.stages`` then
    ``unassigned``, with a final ``total`` row.
    """
    opts = resolve_options(options)
    v = prepare_voxels(voxels, opts.replace(exclude_failed_qc=False))
    stages = list(opts.stages) + [s for s in ALL_STAGES if s not in opts.stages]
    if exams is not None and "stage" in exams.columns:
        e = exams.copy()
        e["stage"] = e["stage"].astype(str).str.lower()
        e["participant_id"] = e["participant_id"].astype(str)
        e["session_id"] = e["session_id"].astype(str)
    else:
        e = v.drop_duplicates(KEYS)[KEYS + ["stage"]]
    qc_fail = v["qc_pass"].eq(False).fillna(False) if "qc_pass" in v.columns else pd.Series(False, index=v.index)
    rows = []
    for s in stages + ["total"]:
        es = e if s == "total" else e[e["stage"] == s]
        vs = v if s == "total" else v[v["stage"] == s]
        rows.append({
            "stage": s,
            "n_exams": int(es.drop_duplicates(KEYS).shape[0]),
            "n_patients": int(es["participant_id"].nunique()),
            "n_lesion_voxels": int((vs["voi"] == "lesion").sum()),
            "n_nawm_voxels": int((vs["voi"] == "nawm").sum()),
            "n_qc_fail": int(qc_fail.loc[vs.index].sum()),
        })
    return pd.DataFrame(rows)
