"""Trajectories and the random-intercept mixed model recover a planted slope; reasons when not fitted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pmlmrs.stats import StatsOptions, longitudinal
from pmlmrs.stats.longitudinal import FIXED_EFFECT_COLUMNS, TRAJECTORY_COLUMNS


def _followup(n_patients: int, n_exams: int, slope_per_year: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        u = rng.normal(0, 0.3)  # patient random intercept
        for k in range(n_exams):
            days = 100.0 + 250 * k + rng.uniform(0, 50)
            for voi in ("lesion", "nawm"):
                value = 2.0 + u + (slope_per_year * days / 365.25 if voi == "lesion" else 0.0)
                rows.append({"participant_id": f"p{p}", "session_id": f"s{k}", "voi": voi,
                             "stage": "early_post_pml", "days_since_pml_onset": days,
                             "Lip_tCr": value + rng.normal(0, 0.1)})
    return pd.DataFrame(rows)


def test_recovers_slope():
    vox = _followup(8, 4, slope_per_year=-0.5, seed=11)
    res = longitudinal(vox, options=StatsOptions(ratios=("Lip_tCr",)))
    assert list(res.fixed_effects.columns) == FIXED_EFFECT_COLUMNS
    assert list(res.trajectories.columns) == TRAJECTORY_COLUMNS
    fe = res.fixed_effects.set_index(["voi", "term"])
    les = fe.loc[("lesion", "years_since_pml_onset")]
    assert les["fitted"] and les["coef"] == pytest.approx(-0.5, abs=0.1) and les["p"] < 1e-3
    assert les["n_patients"] == 8 and les["n_exams"] == 32
    assert les["ci_low"] < -0.5 < les["ci_high"]
    nawm = fe.loc[("nawm", "years_since_pml_onset")]
    assert abs(nawm["coef"]) < 0.1
    assert fe.loc[("lesion", "Intercept"), "coef"] == pytest.approx(2.0, abs=0.35)
    assert len(res.trajectories) == 2 * 32


def test_not_enough_followup_gives_reason(cohort):
    vox = _followup(2, 3, slope_per_year=0.0, seed=1)
    res = longitudinal(vox, options=StatsOptions(ratios=("Lip_tCr",)))
    assert (~res.fixed_effects["fitted"]).all()
    assert res.fixed_effects["reason"].str.contains("need ≥ 3").all()
    # The synthetic cohort (1–3 exams per patient) is enough; exams fill the days.
    _, exams, v = cohort
    res = longitudinal(v.drop(columns=["days_since_pml_onset"]), exams, StatsOptions(ratios=("tNAA_tCr",)))
    assert res.fixed_effects["fitted"].all()
    assert res.trajectories["days_since_pml_onset"].notna().all()


def test_constant_ratio_not_fitted():
    vox = _followup(4, 3, slope_per_year=0.0, seed=2)
    vox["Lip_tCr"] = 1.0
    res = longitudinal(vox, options=StatsOptions(ratios=("Lip_tCr",)))
    assert (~res.fixed_effects["fitted"]).all()
    assert res.fixed_effects["reason"].str.contains("no variation").all()
