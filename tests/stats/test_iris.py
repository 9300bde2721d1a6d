"""IRIS alerts: the Gheuens 2012 rule, the logistic model, LOPO AUC on separable data and on noise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import mannwhitneyu

from pmlmrs.stats import IRIS_COLUMNS, StatsOptions, gheuens_rule, iris_features, score_exams
from pmlmrs.stats.iris import FEATURES, IrisModel, auc, bootstrap_auc, fit_logistic
from pmlmrs.stats.synthetic import synthetic_cohort


def test_gheuens_rule_logic():
    assert gheuens_rule(2.31, True) == (True, "Lip13/tCr 2.31 > 1.5 with enhancement (Gheuens 2012 rule)")
    flag, text = gheuens_rule(2.31, False)
    assert flag is False and "without enhancement" in text
    flag, text = gheuens_rule(1.2, True)
    assert flag is False and "≤ 1.5" in text
    flag, text = gheuens_rule(1.5, True)  # strictly greater than 1.5
    assert flag is False
    flag, text = gheuens_rule(2.0, None)
    assert flag is None and "enhancement unknown" in text
    flag, _ = gheuens_rule(1.0, None)
    assert flag is False
    flag, text = gheuens_rule(float("nan"), True)
    assert flag is None and "not evaluable" in text


def test_gheuens_rule_states_the_uncertainty():
    # 1.71 ± 0.15: the threshold lies within 2 SD; the flag still follows the published rule
    flag, text = gheuens_rule(1.71, True, sd=0.15)
    assert flag is True
    assert text == "Lip13/tCr 1.71 ± 0.15 (within 2 SD of 1.5) > 1.5 with enhancement (Gheuens 2012 rule)"
    flag, text = gheuens_rule(2.31, True, sd=0.15)
    assert flag is True and text == "Lip13/tCr 2.31 ± 0.15 > 1.5 with enhancement (Gheuens 2012 rule)"
    flag, text = gheuens_rule(1.3, None, sd=0.15)
    assert flag is False and text == "Lip13/tCr 1.30 ± 0.15 (within 2 SD of 1.5) ≤ 1.5 (Gheuens 2012 rule)"
    assert gheuens_rule(2.31, True, sd=float("nan"))[1] == gheuens_rule(2.31, True)[1]


def test_auc_is_mann_whitney():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 50)
    s = rng.normal(size=50) + y
    ref = mannwhitneyu(s[y == 1], s[y == 0]).statistic / ((y == 1).sum() * (y == 0).sum())
    assert auc(y, s) == pytest.approx(ref)
    assert auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert auc([0, 1], [0.5, 0.5]) == 0.5
    assert np.isnan(auc([1, 1], [0.1, 0.2]))
    lo, hi, n = bootstrap_auc(y, s, np.arange(50) // 2, n_boot=300, seed=1)
    assert lo < auc(y, s) < hi and n == 300
    assert bootstrap_auc(y, s, np.arange(50) // 2, n_boot=300, seed=1) == (lo, hi, n)


def test_logistic_fit_matches_statsmodels_without_penalty():
    import statsmodels.api as sm

    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 2))
    y = (rng.random(300) < 1 / (1 + np.exp(-(0.5 + 1.5 * X[:, 0] - X[:, 1])))).astype(float)
    b0, beta = fit_logistic(X, y, penalty=0.0)
    ref = sm.Logit(y, sm.add_constant(X)).fit(disp=0).params
    np.testing.assert_allclose(np.r_[b0, beta], ref, atol=2e-3)
    # A penalty shrinks the coefficients; one class only keeps everything finite.
    _, shrunk = fit_logistic(X, y, penalty=50.0)
    assert np.all(np.abs(shrunk) < np.abs(beta))
    b0, beta = fit_logistic(X, np.zeros(300), penalty=1.0)
    assert np.isfinite(b0) and b0 < -3
    m = IrisModel.fit(X, y, features=("a", "b"), penalty=0.0)
    assert m.predict(X).shape == (300,)


def test_separable_cohort_high_auc(cohort):
    _, exams, vox = cohort
    iris, ev = score_exams(vox, exams)
    assert list(iris.columns) == IRIS_COLUMNS
    assert len(iris) == len(exams)  # one row per lesion exam
    assert ev["fitted"] and ev["auc"] > 0.9
    lo, hi = ev["auc_ci"]
    assert lo <= ev["auc"] <= hi and hi <= 1.0 and lo > 0.7
    assert ev["disclaimer"] == "decision support, not diagnosis"
    assert iris["reason"].str.endswith("decision support, not diagnosis").all()
    assert iris["reason"].str.contains("Gheuens 2012 rule").all()
    assert iris["reason"].str.contains("LOPO AUC").all()
    assert set(iris["rule"]) <= {"none", "model", "gheuens2012", "gheuens2012+model"}
    assert (iris["iris_flag"] == (iris["rule"] != "none")).all()
    # Scores are out-of-patient: refitting without a patient gives that patient's score.
    feat = iris_features(vox, exams)
    p0 = feat["participant_id"].iloc[0]
    train = (feat["participant_id"] != p0) & feat["label"].notna()
    m = IrisModel.fit(feat.loc[train, list(FEATURES)].to_numpy(), feat.loc[train, "label"].to_numpy(),
                      penalty=1.0)
    mine = feat["participant_id"] == p0
    np.testing.assert_allclose(iris.loc[mine.to_numpy(), "iris_score"],
                               m.predict(feat.loc[mine, list(FEATURES)].to_numpy()))
    # Flagged IRIS exams outnumber flagged others.
    flagged = iris[iris["iris_flag"]]
    assert (flagged["stage"] == "iris").mean() > 0.7


def test_noise_cohort_auc_near_half():
    aucs = []
    for seed in range(6):
        _, exams, vox = synthetic_cohort(24, rng=300 + seed, effects={})
        _, ev = score_exams(vox, exams, StatsOptions(n_bootstrap=200))
        aucs.append(ev["auc"])
    assert 0.3 < np.mean(aucs) < 0.65


def test_gheuens_rule_in_scores():
    rows, exams = [], []
    for i, (lip13, enh, stage) in enumerate([(2.3, True, "iris"), (2.3, False, "pre_iris"),
                                             (0.5, True, "iris"), (2.0, None, "early_post_pml")]):
        pid = f"sub-{i}"
        for voi in ("lesion", "nawm"):
            rows.append({"participant_id": pid, "session_id": "ses-1", "voi": voi, "stage": stage,
                         "days_since_pml_onset": 50.0, "Lip13_tCr": lip13 if voi == "lesion" else 0.1,
                         "Lip_tCr": lip13 + 0.1, "tCho_tCr": 0.6})
        exams.append({"participant_id": pid, "session_id": "ses-1",
                      "lesion_enhancing": "n/a" if enh is None else str(enh).lower()})
    iris, ev = score_exams(pd.DataFrame(rows), pd.DataFrame(exams))
    # lipid 2.0 > 1.5 with enhancement unknown: not evaluable (n/a), never a reassuring "no"
    assert iris["iris_flag"].tolist()[:3] == [True, False, False] and pd.isna(iris["iris_flag"].iloc[3])
    assert iris["rule"].tolist() == ["gheuens2012", "none", "none", "none"]
    assert ev["n_flagged"] == 1 and ev["n_not_evaluable"] == 1
    assert iris["iris_score"].isna().all()
    assert not ev["fitted"] and "model not fitted" in ev["reason"]
    assert iris["reason"].iloc[0].startswith("Lip13/tCr 2.30 > 1.5 with enhancement (Gheuens 2012 rule)")
    assert "enhancement unknown" in iris["reason"].iloc[3]
    assert ev["gheuens"]["n_flagged"] == 1 and "79 %" in ev["gheuens"]["quote"]
    lip = score_exams(pd.DataFrame(rows), pd.DataFrame(exams), StatsOptions(gheuens_lipid="Lip"))[0]
    assert lip["reason"].iloc[0].startswith("Lip/tCr 2.40")


def test_change_feature_uses_crlbs():
    rows = []
    for k, (lip, crlb) in enumerate([(1.0, 10.0), (1.6, 10.0)]):
        for voi in ("lesion", "nawm"):
            rows.append({"participant_id": "p", "session_id": f"s{k}", "voi": voi, "stage": "pre_iris",
                         "days_since_pml_onset": 10.0 + 30 * k, "Lip_tCr": lip if voi == "lesion" else 0.2,
                         "tCho_tCr": 0.6, "Lip_crlb": crlb, "tCr_crlb": 0.0, "tCho_crlb": 5.0})
    f = iris_features(pd.DataFrame(rows))
    # σ = R · crlb: 0.1 and 0.16 → z = 0.6 / sqrt(0.1² + 0.16²).
    assert f["z_change_Lip_tCr"].tolist() == pytest.approx([0.0, 0.6 / np.hypot(0.1, 0.16)])
    assert f["z_change_tCho_tCr"].tolist() == pytest.approx([0.0, 0.0])
    assert f["previous_session"].tolist() == ["", "s0"]
    assert f["log_Lip_tCr_quotient"].tolist() == pytest.approx([np.log(5.0), np.log(8.0)])


def test_ratio_sd_column_wins_over_crlbs():
    # voxels.tsv carries R_sd from the fit covariance; the CRLB propagation (which ignores the
    # covariance) is only the fallback, per voxel
    rows = []
    for k, (lip, sd) in enumerate([(1.0, 0.05), (1.6, float("nan"))]):
        for voi in ("lesion", "nawm"):
            rows.append({"participant_id": "p", "session_id": f"s{k}", "voi": voi, "stage": "pre_iris",
                         "days_since_pml_onset": 10.0 + 30 * k, "Lip_tCr": lip if voi == "lesion" else 0.2,
                         "Lip_tCr_sd": sd, "tCho_tCr": 0.6, "Lip_crlb": 10.0, "tCr_crlb": 0.0, "tCho_crlb": 5.0})
    f = iris_features(pd.DataFrame(rows))
    assert f["z_change_Lip_tCr"].tolist() == pytest.approx([0.0, 0.6 / np.hypot(0.05, 0.16)])
    assert f["gheuens_lipid_sd"].isna().all()           # Lip13 is not in these rows
    iris, _ = score_exams(pd.DataFrame(rows), options=StatsOptions(gheuens_lipid="Lip"))
    assert iris["reason"].tolist()[0].startswith("Lip/tCr 1.00 ± 0.05 ≤ 1.5")


def test_lesion_failing_qc_is_not_evaluable():
    """A lesion voxel that failed QC raises no flag and gets no reassuring "no": n/a, with its QC
    numbers and the rules' numbers in the reason; its exam is not scored by the model."""
    rows, exams = [], []
    for i, (lip13, qc) in enumerate([(2.3, False), (0.5, False), (2.3, True)]):
        pid = f"sub-{i}"
        for voi in ("lesion", "nawm"):
            rows.append({"participant_id": pid, "session_id": "ses-1", "voi": voi, "stage": "iris",
                         "days_since_pml_onset": 50.0, "Lip13_tCr": lip13 if voi == "lesion" else 0.1,
                         "Lip_tCr": lip13 + 0.1, "tCho_tCr": 0.6, "snr": 2.6 if voi == "lesion" else 30.0,
                         "fwhm_ppm": 0.05, "fit_quality": 4.1, "qc_pass": qc or voi == "nawm"})
        exams.append({"participant_id": pid, "session_id": "ses-1", "lesion_enhancing": "true"})
    iris, ev = score_exams(pd.DataFrame(rows), pd.DataFrame(exams))
    assert pd.isna(iris["iris_flag"].iloc[0]) and pd.isna(iris["iris_flag"].iloc[1])
    assert iris["iris_flag"].fillna(False).tolist()[2] is True
    assert iris["rule"].tolist() == ["none", "none", "gheuens2012"]
    reason = iris["reason"].iloc[0]
    assert reason.startswith("lesion voxel failed QC (SNR 2.6, linewidth 0.050, fit quality 4.10): IRIS not evaluable")
    assert "Lip13/tCr 2.30 > 1.5 with enhancement" in reason
    assert ev["gheuens"]["n_evaluable"] == 1 and ev["n_not_evaluable"] == 2
    feat = iris_features(pd.DataFrame(rows), pd.DataFrame(exams))
    assert feat.loc[:1, list(FEATURES)].isna().all().all() and feat.loc[2, list(FEATURES)].notna().all()
    # excluding failed voxels from the statistics keeps their exams in iris.tsv (not evaluable)
    excl, _ = score_exams(pd.DataFrame(rows), pd.DataFrame(exams), StatsOptions(exclude_failed_qc=True))
    assert excl["reason"].tolist() == iris["reason"].tolist()
    rows[0]["error"] = "ReadError: sub-0.nii.gz: truncated file?"   # a voxel that could not be read
    iris, _ = score_exams(pd.DataFrame(rows), pd.DataFrame(exams))
    assert iris["reason"].iloc[0].startswith("lesion voxel could not be processed (ReadError: sub-0.nii.gz")
    # two lesion voxels of one exam (acq labels), both failing: both named
    two = [dict(r, spectrum=f"{r['participant_id']}_acq-{a}_voi-{r['voi']}") for r in rows[:2] for a in "ab"
           if r["voi"] == "lesion" or a == "a"]
    reason = score_exams(pd.DataFrame(two), pd.DataFrame(exams[:1]))[0]["reason"].iloc[0]
    assert "lesion voxel sub-0_acq-a_voi-lesion could not be processed" in reason
    assert "lesion voxel sub-0_acq-b_voi-lesion could not be processed" in reason


def test_one_of_two_lesion_voxels_failing_qc_is_left_out():
    """Two lesion voxels (acq labels) in one exam, one failed QC: the exam is judged on the other one
    (Gheuens rule on its Lip13/tCr), and the reason names the voxel left out."""
    def row(spectrum, voi, lip13, qc):
        return {"participant_id": "sub-0", "session_id": "ses-1", "voi": voi, "stage": "iris", "spectrum": spectrum,
                "days_since_pml_onset": 50.0, "Lip13_tCr": lip13, "Lip_tCr": lip13 + 0.1, "tCho_tCr": 0.6,
                "snr": 30.0 if qc else 2.6, "fwhm_ppm": 0.05, "fit_quality": 1.1, "qc_pass": qc}

    exams = pd.DataFrame([{"participant_id": "sub-0", "session_id": "ses-1", "lesion_enhancing": "true"}])
    rows = [row("acq-a_voi-lesion", "lesion", 2.3, True), row("acq-b_voi-lesion", "lesion", 0.2, False),
            row("voi-nawm", "nawm", 0.1, True)]
    iris, _ = score_exams(pd.DataFrame(rows), exams)
    assert iris["iris_flag"].tolist() == [True] and iris["rule"].tolist() == ["gheuens2012"]
    reason = iris["reason"].iloc[0]
    assert reason.startswith("lesion voxel acq-b_voi-lesion failed QC (SNR 2.6, linewidth 0.050, fit quality 1.10): "
                             "left out, the exam's other voxels used; Lip13/tCr 2.30")
    # with both voxels used, the mean (1.25) would be below 1.5 and the rule would not fire
    rows[1]["qc_pass"] = True
    assert score_exams(pd.DataFrame(rows), exams)[0]["iris_flag"].tolist() == [False]
