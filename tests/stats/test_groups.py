"""Stage statistics recover planted effects, keep the contract columns and survive degenerate input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import mannwhitneyu, wilcoxon

from pmlmrs.errors import ConfigError, StudyError
from pmlmrs.stats import (
    STAGE_STATS_COLUMNS, STAGES, StatsOptions, describe, lesion_nawm_table, stage_counts, stage_stats,
)
from pmlmrs.stats.synthetic import synthetic_cohort


def _row(t, ratio, stage, comparison="lesion_vs_nawm", group_a=None):
    sel = (t["ratio"] == ratio) & (t["stage"] == stage) & (t["comparison"] == comparison)
    if group_a is not None:
        sel &= t["group_a"] == group_a
    assert sel.sum() == 1
    return t[sel].iloc[0]


def test_columns_exact(cohort):
    _, _, vox = cohort
    t = stage_stats(vox)
    assert list(t.columns) == STAGE_STATS_COLUMNS
    assert set(t["comparison"]) == {"lesion_vs_nawm", "stage_vs_stage"}
    assert "unassigned" not in set(t["stage"])
    assert set(t["direction"]) <= {"up", "down", ""}


def test_effect_sizes_known_values():
    """Rank-biserial and Hodges–Lehmann on hand-worked examples."""
    from pmlmrs.stats.groups import _effect

    # unpaired: 8 of 9 pairs a > b, one tie -> (8 - 0) / 9; U_a = 8.5 -> 2 U / 9 - 1 = 0.889
    eff, measure, shift = _effect(np.array([3.0, 4, 5]), np.array([1.0, 2, 3]), paired=False)
    assert measure == "rank_biserial" and eff == pytest.approx(8 / 9) and shift == 2.0
    u = mannwhitneyu([3.0, 4, 5], [1.0, 2, 3]).statistic
    assert eff == pytest.approx(2 * u / 9 - 1)
    # paired differences 1, 2, -0.5, 3: signed ranks T+ = 9, T- = 1 -> 0.8; Walsh averages' median 1.375
    eff, measure, shift = _effect(np.array([1.0, 2, -0.5, 3]), np.zeros(4), paired=True)
    assert measure == "matched_pairs_rank_biserial" and eff == pytest.approx(0.8) and shift == pytest.approx(1.375)
    # every a below b: -1
    assert _effect(np.array([1.0, 2]), np.array([3.0, 4]), paired=False)[0] == -1.0


def test_effect_columns_follow_the_tests(cohort):
    """Tested rows have an effect whose sign is their direction; untested rows none; the
    Kruskal–Wallis rows epsilon² = H / (n − 1)."""
    _, _, vox = cohort
    t = stage_stats(vox)
    tested = t[np.isfinite(t["p"])]
    pair = tested[tested["effect_measure"] != "epsilon_squared"]
    assert pair["effect"].between(-1, 1).all() and pair["shift"].notna().all()
    up, down = pair[pair["direction"] == "up"], pair[pair["direction"] == "down"]
    # direction is the sign of the rank effect (the tests' statistic), empty where it is 0
    assert (up["effect"] > 0).all() and (down["effect"] < 0).all()
    assert (pair.loc[pair["effect"] == 0, "direction"] == "").all()
    assert set(t.loc[t["comparison"] == "lesion_vs_nawm", "effect_measure"]) <= {"matched_pairs_rank_biserial",
                                                                                   "rank_biserial", ""}
    r = _row(t, "Lip_tCr", "all", "stage_vs_stage", "lesion")
    assert r["effect_measure"] == "epsilon_squared"
    assert r["effect"] == pytest.approx(r["statistic"] / (r["n_a"] - 1)) and 0 < r["effect"] <= 1
    assert r["effect"] > _row(t, "Lip_tCr", "all", "stage_vs_stage", "nawm")["effect"]
    assert t.loc[~np.isfinite(t["p"]), "effect"].isna().all()
    # planted: lesion lipids far above NAWM in IRIS (every pair up)
    assert _row(t, "Lip_tCr", "iris")["effect"] == 1.0


def test_recovers_planted_effects(cohort):
    _, _, vox = cohort
    t = stage_stats(vox)
    # Planted: lesion lipids ×8 in IRIS, ×3 pre-IRIS; choline ×1.6 in IRIS; NAA ×0.6 pre/IRIS/early.
    for stage in ("pre_iris", "iris"):
        r = _row(t, "Lip_tCr", stage)
        assert r["p"] < 0.05 and r["direction"] == "up"
        assert r["test"] == "wilcoxon_exact"  # paired within exams, exact for small n
    r = _row(t, "tCho_tCr", "iris")
    assert r["p"] < 0.05 and r["direction"] == "up"
    assert r["p_holm"] < 0.05
    for stage in ("pre_iris", "iris", "early_post_pml"):
        r = _row(t, "tNAA_tCho", stage)
        assert r["p"] < 0.05 and r["direction"] == "down"
    # No lesion effect was planted in late post-PML for any ratio.
    late = t[(t["comparison"] == "lesion_vs_nawm") & (t["stage"] == "late_post_pml")]
    assert (late["p"] > 0.05).all()
    # Kruskal–Wallis: lesion lipids differ across stages, NAWM lipids do not.
    assert _row(t, "Lip_tCr", "all", "stage_vs_stage", "lesion")["p"] < 1e-3
    assert _row(t, "Lip_tCr", "all", "stage_vs_stage", "nawm")["p"] > 0.05
    # Pairwise: lipids fall from IRIS to late post-PML.
    r = _row(t, "Lip_tCr", "late_post_pml_vs_iris", "stage_vs_stage", "lesion:late_post_pml")
    assert r["p"] < 0.05 and r["direction"] == "down"


def test_matches_scipy_directly(cohort):
    _, _, vox = cohort
    t = stage_stats(vox)
    ex = lesion_nawm_table(vox)
    s = ex[ex["stage"] == "iris"]
    ref = wilcoxon(s["Lip_tCr_lesion"], s["Lip_tCr_nawm"], method="exact")
    r = _row(t, "Lip_tCr", "iris")
    assert r["statistic"] == pytest.approx(ref.statistic)
    assert r["p"] == pytest.approx(ref.pvalue)
    assert r["median_a"] == pytest.approx(np.median(s["Lip_tCr_lesion"]))
    a = ex.loc[ex["stage"] == "iris", "tCho_tCr_lesion"]
    b = ex.loc[ex["stage"] == "pre_iris", "tCho_tCr_lesion"]
    ref = mannwhitneyu(a, b, method="exact")
    r = _row(t, "tCho_tCr", "iris_vs_pre_iris", "stage_vs_stage", "lesion:iris")
    assert r["p"] == pytest.approx(ref.pvalue)


def test_adjustment_families(cohort):
    _, _, vox = cohort
    t = stage_stats(vox, StatsOptions(ratios=("Lip_tCr", "tCho_tCr"), family="comparison"))
    fam = t[t["comparison"] == "lesion_vs_nawm"]
    n = fam["p"].notna().sum()
    assert n == 8
    # Holm's smallest adjusted p = n × smallest raw p; BH ≤ Holm; both ≥ raw.
    assert fam["p_holm"].min() == pytest.approx(min(1.0, n * fam["p"].min()))
    assert (fam["p_fdr"] <= fam["p_holm"] + 1e-12).all()
    assert (t["p_holm"].dropna() >= t.loc[t["p_holm"].notna(), "p"] - 1e-12).all()
    # Default family: per ratio, so each ratio's 4 lesion-vs-NAWM tests are adjusted together.
    per = stage_stats(vox, StatsOptions(ratios=("Lip_tCr", "tCho_tCr")))
    lip = per[(per["comparison"] == "lesion_vs_nawm") & (per["ratio"] == "Lip_tCr")]
    assert lip["p_holm"].min() == pytest.approx(min(1.0, 4 * lip["p"].min()))
    every = stage_stats(vox, StatsOptions(ratios=("Lip_tCr", "tCho_tCr"), family="all"))
    assert every["p_holm"].min() == pytest.approx(min(1.0, every["p"].notna().sum() * every["p"].min()))


def test_no_effect_mostly_not_significant():
    """With nothing planted, lesion vs NAWM rejects at about the nominal rate."""
    opts = StatsOptions(ratios=("Lip_tCr", "tCho_tCr", "tNAA_tCr"))
    hits = total = 0
    for seed in range(15):
        _, _, vox = synthetic_cohort(16, rng=100 + seed, effects={})
        t = stage_stats(vox, opts)
        p = t.loc[t["comparison"] == "lesion_vs_nawm", "p"].dropna()
        hits += int((p < 0.05).sum())
        total += len(p)
    assert total >= 150
    assert hits / total < 0.10  # measured: 0.033 over 360 null cells at n = 20 patients


def test_unpaired_when_voxels_missing(cohort):
    _, _, vox = cohort
    nawm_iris = vox[(vox["stage"] == "iris") & (vox["voi"] == "nawm")].index
    n_iris = len(nawm_iris)
    # Most NAWM voxels missing: Mann–Whitney U on all voxels.
    drop = nawm_iris[: n_iris // 2]
    t = stage_stats(vox.drop(index=drop), StatsOptions(ratios=("Lip_tCr",)))
    r = _row(t, "Lip_tCr", "iris")
    assert r["test"].startswith("mannwhitneyu")
    assert r["n_a"] == r["n_b"] + len(drop)
    forced = stage_stats(vox.drop(index=drop), StatsOptions(ratios=("Lip_tCr",), pairing="paired"))
    assert _row(forced, "Lip_tCr", "iris")["test"].startswith("wilcoxon")
    # One exam without NAWM keeps the paired design: Wilcoxon on the complete pairs ...
    one = stage_stats(vox.drop(index=nawm_iris[:1]), StatsOptions(ratios=("Lip_tCr",)))
    r1 = _row(one, "Lip_tCr", "iris")
    assert r1["test"].startswith("wilcoxon")
    assert r1["n_a"] == r1["n_b"] == n_iris - 1
    # ... unless every exam must be complete.
    strict = stage_stats(vox.drop(index=nawm_iris[:1]), StatsOptions(ratios=("Lip_tCr",), min_pair_fraction=1.0))
    assert _row(strict, "Lip_tCr", "iris")["test"].startswith("mannwhitneyu")


def test_patient_unit(cohort):
    _, _, vox = cohort
    t = stage_stats(vox, StatsOptions(ratios=("Lip_tCr",), unit="patient"))
    n_pat = vox[vox["stage"] == "iris"]["participant_id"].nunique()
    assert _row(t, "Lip_tCr", "iris")["n_a"] == n_pat


def _tiny(values_lesion, values_nawm, stage="iris"):
    rows = []
    for i, (a, b) in enumerate(zip(values_lesion, values_nawm)):
        for voi, v in (("lesion", a), ("nawm", b)):
            rows.append({"participant_id": f"p{i}", "session_id": "s1", "voi": voi, "stage": stage,
                         "days_since_pml_onset": 10.0, "Lip_tCr": v})
    return pd.DataFrame(rows)


def test_degenerate_inputs_give_nan_with_reason():
    opts = StatsOptions(ratios=("Lip_tCr",))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        one = stage_stats(_tiny([1.0], [0.5]), opts)
        r = _row(one, "Lip_tCr", "iris")
        assert np.isnan(r["p"]) and "not tested" in r["test"] and "< 2" in r["test"]
        tied = stage_stats(_tiny([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]), opts)
        r = _row(tied, "Lip_tCr", "iris")
        assert np.isnan(r["p"]) and "differences are zero" in r["test"]
        assert r["direction"] == ""
        const = stage_stats(_tiny([1.0, 1.0, 1.0], [1.0, 1.0, 1.0]), opts.replace(pairing="unpaired"))
        assert "all values tied" in _row(const, "Lip_tCr", "iris")["test"]
        # Stages without data: omnibus not tested, pairwise not tested, NaN adjusted p.
        kw = _row(one, "Lip_tCr", "all", "stage_vs_stage", "lesion")
        assert np.isnan(kw["p"]) and "not tested" in kw["test"]
        assert one["p_holm"].isna().all()
        # Missing values and an empty table do not crash.
        nan = _tiny([np.nan, 1.0, 2.0], [0.5, np.nan, 1.0])
        stage_stats(nan, opts)
        empty = _tiny([], [])
        assert list(stage_stats(empty.reindex(columns=["participant_id", "session_id", "voi", "stage",
                                                       "Lip_tCr"]), opts).columns) == STAGE_STATS_COLUMNS


def test_bad_input_messages():
    with pytest.raises(StudyError, match="voi"):
        stage_stats(pd.DataFrame({"participant_id": ["a"], "session_id": ["b"], "stage": ["iris"]}))
    bad = _tiny([1.0], [1.0])
    bad.loc[0, "voi"] = "csf"
    with pytest.raises(StudyError, match="csf"):
        stage_stats(bad)
    with pytest.raises(ConfigError, match="unit"):
        StatsOptions(unit="lesion")
    with pytest.raises(ConfigError, match="stage"):
        StatsOptions(stages=("iris", "post"))


def test_text_columns_and_failed_qc(cohort):
    _, _, vox = cohort
    v = vox.copy()
    v["Lip_tCr"] = v["Lip_tCr"].map(lambda x: f"{x:.6f}").astype(object)
    v.loc[v.index[0], "Lip_tCr"] = "n/a"
    v["qc_pass"] = "true"
    v.loc[v.index[:6], "qc_pass"] = "false"
    v.loc[v.index[7], "error"] = "fit failed"
    base = stage_stats(v, StatsOptions(ratios=("Lip_tCr",)))
    excl = stage_stats(v, StatsOptions(ratios=("Lip_tCr",), exclude_failed_qc=True))
    assert excl["n_a"].sum() < base["n_a"].sum()
    counts = stage_counts(v)
    assert counts.loc[counts["stage"] == "total", "n_qc_fail"].item() == 6


def test_lesion_nawm_table(cohort):
    _, _, vox = cohort
    ex = lesion_nawm_table(vox)
    assert len(ex) == vox.drop_duplicates(["participant_id", "session_id"]).shape[0]
    np.testing.assert_allclose(ex["Lip_tCr_quotient"], ex["Lip_tCr_lesion"] / ex["Lip_tCr_nawm"])
    np.testing.assert_allclose(ex["lipid_rise"], ex["Lip_tCr_quotient"])
    diff = lesion_nawm_table(vox, StatsOptions(lipid_rise="difference"))
    np.testing.assert_allclose(diff["lipid_rise"], ex["Lip_tCr_lesion"] - ex["Lip_tCr_nawm"])
    # SD from the CRLBs: R · sqrt(c_A² + c_B²).
    one = vox[(vox["voi"] == "lesion")].iloc[0]
    row = ex[(ex["participant_id"] == one["participant_id"]) & (ex["session_id"] == one["session_id"])].iloc[0]
    expect = one["tCho_tCr"] * np.hypot(one["tCho_crlb"], one["tCr_crlb"]) / 100
    assert row["tCho_tCr_lesion_sd"] == pytest.approx(expect)
    # Two lesion voxels in one exam are averaged; a zero NAWM lipid gives an infinite quotient.
    extra = vox[vox["voi"] == "lesion"].iloc[[0]].copy()
    extra["Lip_tCr"] = extra["Lip_tCr"] + 1.0
    v2 = pd.concat([vox, extra], ignore_index=True)
    ex2 = lesion_nawm_table(v2)
    r2 = ex2[(ex2["participant_id"] == one["participant_id"]) & (ex2["session_id"] == one["session_id"])].iloc[0]
    assert r2["n_lesion"] == 2 and r2["Lip_tCr_lesion"] == pytest.approx(one["Lip_tCr"] + 0.5)
    v3 = vox.copy()
    v3.loc[(v3["voi"] == "nawm"), "Lip_tCr"] = 0.0
    assert np.isinf(lesion_nawm_table(v3)["Lip_tCr_quotient"]).all()


def test_describe_and_counts(cohort):
    _, exams, vox = cohort
    d = describe(vox)
    assert {"ratio", "compartment", "stage", "n", "median", "q1", "q3", "iqr", "min", "max"} <= set(d.columns)
    r = d[(d["ratio"] == "Lip_tCr") & (d["compartment"] == "lesion") & (d["stage"] == "iris")].iloc[0]
    ex = lesion_nawm_table(vox)
    x = ex.loc[ex["stage"] == "iris", "Lip_tCr_lesion"]
    assert r["median"] == pytest.approx(x.median()) and r["n"] == len(x)
    assert r["min"] == pytest.approx(x.min()) and r["iqr"] == pytest.approx(x.quantile(.75) - x.quantile(.25))
    assert "unassigned" in set(d["stage"]) and "lesion_nawm_quotient" in set(d["compartment"])
    assert "lipid_rise" in set(d["ratio"])
    c = stage_counts(vox, exams)
    assert c.loc[c["stage"] == "total", "n_exams"].item() == len(exams)
    assert c.loc[c["stage"] == "unassigned", "n_exams"].item() == 2


def test_options_round_trip(tmp_path):
    opts = StatsOptions(unit="patient", ratios=("Lip_tCr",), correlation_subsets={"all": STAGES})
    again = StatsOptions.from_dict(opts.to_dict())
    assert again == opts
    toml = tmp_path / "stats.toml"
    toml.write_text('[stats]\nunit = "patient"\nratios = ["Lip_tCr", "tCho_tCr"]\n'
                    '[stats.correlation_subsets]\npost_pml = ["early_post_pml", "late_post_pml"]\n')
    o = StatsOptions.from_toml(toml, section="stats")
    assert o.ratios == ("Lip_tCr", "tCho_tCr") and o.correlation_subsets == (
        ("post_pml", ("early_post_pml", "late_post_pml")),)
    with pytest.raises(ConfigError, match="unknown option"):
        StatsOptions.from_dict({"alpah": 0.1})


def test_quantiles_with_infinite_values():
    from pmlmrs.stats.groups import _quantiles

    x = np.array([0.5, 2.0, 3.0, 4.0, 10.0])
    np.testing.assert_allclose(_quantiles(x, (0.25, 0.5, 0.75)), np.percentile(x, [25, 50, 75]))
    assert _quantiles(np.array([1.0, 2.0, np.inf]), (0.5,)) == [2.0]
    assert _quantiles(np.array([1.0, 2.0, np.inf]), (0.75,)) == [np.inf]
    assert _quantiles(np.array([1.0, 2.0, 3.0, np.inf]), (0.5,)) == [2.5]
