"""Small-sample p-values, the auto pairing rule, ``direction`` on untested rows, strict JSON.

The p-values are checked against brute-force enumerations written out here (one too large to
enumerate against scipy's Monte Carlo permutation test), not against the code under test.
"""

from __future__ import annotations

import json
import math
import warnings
from itertools import combinations, permutations, product

import numpy as np
import pandas as pd
import pytest
from scipy.stats import mannwhitneyu, permutation_test, rankdata, spearmanr, wilcoxon

from pmlmrs.stats import StatsOptions, analyse_cohort, correlations, stage_stats
from pmlmrs.stats.synthetic import synthetic_cohort


def _two_sided(null: np.ndarray, observed: float) -> float:
    """Two-sided permutation p: twice the smaller tail (ties count in both tails), capped at 1."""
    eps = 1e-9 * max(1.0, abs(observed))
    return min(1.0, 2 * min(np.mean(null <= observed + eps), np.mean(null >= observed - eps)))


def _spearman_exact(x, y) -> float:
    rx, ry = rankdata(x), rankdata(y)
    null = np.array([np.corrcoef(rx, ry[list(p)])[0, 1] for p in permutations(range(len(x)))])
    return _two_sided(null, np.corrcoef(rx, ry)[0, 1])


def _signrank_exact(d) -> float:
    d = np.asarray(d, float)
    d = d[d != 0]
    r = rankdata(np.abs(d))
    null = np.array([r[np.array(s) > 0].sum() for s in product((-1, 1), repeat=len(d))])
    return _two_sided(null, r[d > 0].sum())


def _ranksum_exact(a, b) -> float:
    r = rankdata(np.concatenate([a, b]))
    null = np.array([r[list(c)].sum() for c in combinations(range(len(r)), len(a))])
    return _two_sided(null, r[: len(a)].sum())


def _corr_data(x, y, stage="early_post_pml", patients=None):
    """Post-PML exams with lesion tNAA_tCho = x and delta_kps = y (one patient per exam unless
    *patients* names them)."""
    vox, exams = [], []
    for i, (a, b) in enumerate(zip(x, y)):
        pid = patients[i] if patients else f"sub-{i:02d}"
        sid = f"ses-{i}"
        for voi in ("lesion", "nawm"):
            vox.append({"participant_id": pid, "session_id": sid, "voi": voi, "stage": stage,
                        "tNAA_tCho": float(a) if voi == "lesion" else 1.5})
        exams.append({"participant_id": pid, "session_id": sid, "delta_kps": float(b)})
    return pd.DataFrame(vox), pd.DataFrame(exams)


_CORR = StatsOptions(correlation_measures=("tNAA_tCho",), clinical=("delta_kps",))


@pytest.mark.parametrize("x, y, expect", [
    ([1, 2, 3], [3, 2, 1], 1 / 3),             # t-approximation gave p = 0
    ([1, 2, 3, 4, 5], [4, 3, 2, 1, 1], 1 / 30),  # ρ = −0.975, t-approximation gave 0.0048
])
def test_spearman_exact_small_n(x, y, expect):
    c = correlations(*_corr_data(x, y), _CORR)
    r = c.iloc[0]
    assert r["rho"] == pytest.approx(spearmanr(x, y).statistic)
    assert r["p"] == pytest.approx(expect)
    assert r["p"] == pytest.approx(_spearman_exact(x, y))
    assert c.attrs["p_method"] == ["permutation_exact"]


def test_spearman_exact_with_ties_and_cutoff():
    rng = np.random.default_rng(4)
    x = rng.normal(size=7)
    y = np.array([10, 0, 10, -20, 0, 10, -10])  # KPS changes: heavily tied
    r = correlations(*_corr_data(x, y), _CORR).iloc[0]
    assert r["p"] == pytest.approx(_spearman_exact(x, y))
    # Above the cutoff: spearmanr's t-approximation, named as such.
    x10, y10 = rng.normal(size=10), rng.normal(size=10)
    c = correlations(*_corr_data(x10, y10), _CORR)
    assert c.iloc[0]["p"] == pytest.approx(spearmanr(x10, y10).pvalue)
    assert c.attrs["p_method"] == ["t_approximation"]


def test_spearman_exact_patient_unit():
    # Six exams of three patients: the patient means are (1.5, 3.5, 5.5) against (4, 3, 1).
    vox, exams = _corr_data([1, 2, 3, 4, 5, 6], [5, 3, 4, 2, 1, 1], patients=["a", "a", "b", "b", "c", "c"])
    c = correlations(vox, exams, _CORR.replace(unit="patient"))
    r = c.iloc[0]
    assert r["n"] == 3 and r["rho"] == pytest.approx(-1.0)
    assert r["p"] == pytest.approx(1 / 3)
    assert c.attrs["p_method"] == ["permutation_exact"]


def _pairs(les, nawm, stage="iris", start=0):
    """One exam per pair; NaN leaves that voxel out of the table."""
    rows = []
    for i, (a, b) in enumerate(zip(les, nawm), start):
        for voi, v in (("lesion", a), ("nawm", b)):
            if np.isfinite(v):
                rows.append({"participant_id": f"p{i}", "session_id": "s1", "voi": voi, "stage": stage,
                             "days_since_pml_onset": 10.0, "Lip_tCr": v})
    return pd.DataFrame(rows)


def _row(t, stage, comparison="lesion_vs_nawm", group_a=None):
    sel = (t["stage"] == stage) & (t["comparison"] == comparison)
    if group_a is not None:
        sel &= t["group_a"] == group_a
    assert sel.sum() == 1
    return t[sel].iloc[0]


_LIP = StatsOptions(ratios=("Lip_tCr",))


def test_wilcoxon_ties_use_exact_permutation():
    # Differences 0.1, 0.1, 0.2, 0.3, 0.4 (tied |d|): the normal approximation gave 0.042.
    r = _row(stage_stats(_pairs([1.1, 1.1, 1.2, 1.3, 1.4], [1.0] * 5), _LIP), "iris")
    assert r["test"] == "wilcoxon_permutation"
    assert r["p"] == pytest.approx(0.0625)
    # A zero difference and tied |d|, mixed signs (binary fractions, so the ties are exact in
    # floating point): the exact sign-flip p over the non-zero differences.
    d = np.array([0.0, 0.125, 0.25, 0.25, -0.375, 0.5, 0.625, -0.125])
    r = _row(stage_stats(_pairs(1.0 + d, [1.0] * len(d)), _LIP), "iris")
    assert r["test"] == "wilcoxon_permutation"
    assert r["p"] == pytest.approx(_signrank_exact(d))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = wilcoxon(1.0 + d, np.ones(len(d)), zero_method="wilcox", method="approx")
    assert r["statistic"] == pytest.approx(ref.statistic)  # same statistic as scipy reports


def test_mannwhitney_ties_use_exact_permutation():
    a, b = [1.0, 2, 2, 3, 3], [2.0, 3, 4, 4, 5]
    r = _row(stage_stats(_pairs(a, b), _LIP.replace(pairing="unpaired")), "iris")
    assert r["test"] == "mannwhitneyu_permutation"
    assert r["p"] == pytest.approx(_ranksum_exact(a, b))
    assert r["p"] > mannwhitneyu(a, b, method="asymptotic").pvalue  # the approximation was too small
    assert r["statistic"] == pytest.approx(mannwhitneyu(a, b).statistic)
    # Stage vs stage follows the same rule.
    vox = pd.concat([_pairs(a, a, "iris"), _pairs(b, b, "pre_iris", start=10)], ignore_index=True)
    s = _row(stage_stats(vox, _LIP), "iris_vs_pre_iris", "stage_vs_stage", "lesion:iris")
    assert s["test"] == "mannwhitneyu_permutation" and s["p"] == pytest.approx(_ranksum_exact(a, b))


def test_larger_tied_samples_stay_exact():
    rng = np.random.default_rng(1)
    a, b = np.round(rng.normal(0.5, 1, 12), 1), np.round(rng.normal(0, 1, 12), 1)
    opts = _LIP.replace(pairing="unpaired")
    r = _row(stage_stats(_pairs(a, b), opts), "iris")
    assert r["test"] == "mannwhitneyu_permutation"  # C(24, 12) = 2.7 million splits, counted
    ref = permutation_test((rankdata(np.r_[a, b])[:12], rankdata(np.r_[a, b])[12:]),
                           lambda x, y, axis: x.sum(axis=axis), vectorized=True, n_resamples=200_000,
                           rng=np.random.default_rng(0))
    assert r["p"] == pytest.approx(ref.pvalue, abs=0.003)  # Monte Carlo SE ≈ 0.0005
    # Paired, 12 tied differences (4096 sign patterns): against the full enumeration.
    d = np.round(rng.normal(0.3, 0.5, 12) * 4) / 4
    r = _row(stage_stats(_pairs(1.0 + d, np.ones(12)), _LIP), "iris")
    assert r["test"] == "wilcoxon_permutation" and r["p"] == pytest.approx(_signrank_exact(d))
    # Above exact_max_n: the tie-corrected normal approximation, as before.
    big = _row(stage_stats(_pairs(a, b), opts.replace(exact_max_n=10)), "iris")
    assert big["test"] == "mannwhitneyu_asymptotic"
    assert big["p"] == pytest.approx(mannwhitneyu(a, b, method="asymptotic").pvalue)


def test_auto_pairing_tolerates_one_missing_partner():
    # Three exams, one without NAWM: 2/3 < 0.75 used to switch to an unpaired test.
    vox = _pairs([2.0, 3.0, 4.0], [1.0, 1.5, np.nan])
    r = _row(stage_stats(vox, _LIP), "iris")
    assert r["test"].startswith("wilcoxon") and r["n_a"] == r["n_b"] == 2
    # Two of four missing is more than one exam and below the fraction: unpaired.
    r = _row(stage_stats(_pairs([2.0, 3.0, 4.0, 5.0], [1.0, 1.5, np.nan, np.nan]), _LIP), "iris")
    assert r["test"].startswith("mannwhitneyu")
    # min_pair_fraction = 1 keeps the strict rule.
    r = _row(stage_stats(vox, _LIP.replace(min_pair_fraction=1.0)), "iris")
    assert r["test"].startswith("mannwhitneyu")
    from pmlmrs.stats.groups import _paired

    assert _paired(8, 10, 0.75) and not _paired(7, 10, 0.75) and _paired(7, 8, 0.9)
    assert not _paired(0, 1, 0.75) and not _paired(2, 3, 1.0)


def test_direction_empty_without_a_test():
    # IRIS: five exams; pre-IRIS: one exam (one pair).
    vox = pd.concat([_pairs([3.0, 4, 5, 6, 7], [1.0, 1.1, 1.2, 1.3, 1.4]),
                     _pairs([0.5], [1.0], "pre_iris", start=10)], ignore_index=True)
    t = stage_stats(vox, _LIP)
    pw = _row(t, "iris_vs_pre_iris", "stage_vs_stage", "lesion:iris")
    assert np.isnan(pw["p"]) and "n_b = 1" in pw["test"] and pw["direction"] == ""
    one = _row(t, "pre_iris")
    assert np.isnan(one["p"]) and one["direction"] == ""
    assert _row(t, "iris")["direction"] == "up"
    assert (t.loc[t["p"].isna(), "direction"] == "").all()
    kw = t[t["stage"] == "all"]
    assert (kw["direction"] == "").all()


def test_cohort_directions_only_on_tested_rows(cohort):
    _, _, vox = cohort
    t = stage_stats(vox.drop(index=vox[vox["stage"] == "pre_iris"].index[1:]))
    assert (t.loc[t["p"].isna(), "direction"] == "").all()
    assert t["p"].isna().any()
    assert (t.loc[t["stage"] == "all", "direction"] == "").all()


def test_json_is_strict(tmp_path):
    _, exams, vox = synthetic_cohort(3, rng=9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = analyse_cohort(vox, exams, StatsOptions(n_bootstrap=20))
    assert math.isnan(a.iris_evaluation["auc"])  # not fitted: AUC undefined
    a.write_tsv(tmp_path)

    def reject(token):
        raise ValueError(f"non-standard JSON token {token}")

    for name in ("iris_evaluation.json", "stats_options.json"):
        text = (tmp_path / name).read_text()
        assert "NaN" not in text and "Infinity" not in text
        doc = json.loads(text, parse_constant=reject)
        if name == "iris_evaluation.json":
            assert doc["auc"] is None and doc["auc_ci"] == [None, None]


def test_permutation_p_matches_enumeration_on_random_ties():
    rng = np.random.default_rng(11)
    opts = StatsOptions(ratios=("Lip_tCr",), pairing="unpaired")
    for _ in range(15):
        na, nb = rng.integers(2, 7, size=2)
        a, b = rng.integers(0, 4, na).astype(float), rng.integers(1, 5, nb).astype(float)
        if np.all(np.r_[a, b] == a[0]):
            continue
        vox = pd.concat([_pairs(a, a, "iris"), _pairs(b, b, "pre_iris", start=10)], ignore_index=True)
        r = _row(stage_stats(vox, opts), "iris_vs_pre_iris", "stage_vs_stage", "lesion:iris")
        assert r["p"] == pytest.approx(_ranksum_exact(a, b))
        d = rng.integers(-2, 4, 8).astype(float)
        if np.any(d != 0):
            r = _row(stage_stats(_pairs(1.0 + d, np.ones(8)), opts.replace(pairing="paired")), "iris")
            assert r["p"] == pytest.approx(_signrank_exact(d))


def test_huge_exact_max_n_falls_back_to_asymptotic():
    rng = np.random.default_rng(2)
    a, b = np.round(rng.normal(size=230), 1), np.round(rng.normal(size=230), 1)
    opts = StatsOptions(ratios=("Lip_tCr",), pairing="unpaired", exact_max_n=1000)
    r = _row(stage_stats(_pairs(a, b), opts), "iris")
    assert r["test"] == "mannwhitneyu_asymptotic"  # the subset-count table would exceed _MAX_CELLS
