"""Spearman correlations: planted ρ recovered, contract columns, patient unit, degenerate cases."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from pmlmrs.errors import StudyError
from pmlmrs.stats import CORRELATION_COLUMNS, StatsOptions, correlations
from pmlmrs.stats.correlation import correlation_data


def _planted(rho: float, n: int, seed: int):
    """n post-PML exams whose lesion tNAA_tCho and delta_kps have Gaussian-copula correlation rho."""
    rng = np.random.default_rng(seed)
    z = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=n)
    vox, exams = [], []
    for i in range(n):
        pid, sid = f"sub-{i // 2:02d}", f"ses-{i % 2 + 1}"
        for voi in ("lesion", "nawm"):
            naa_cho = float(np.exp(0.3 * z[i, 0])) * (1.0 if voi == "lesion" else 1.5)
            vox.append({"participant_id": pid, "session_id": sid, "voi": voi,
                        "stage": "early_post_pml" if i % 2 else "late_post_pml",
                        "days_since_pml_onset": 300.0 + 500 * (i % 2), "tNAA_tCho": naa_cho,
                        "tCho_tCr": 0.6, "Lip_tCr": 0.2 + 0.01 * i if voi == "lesion" else 0.1})
        exams.append({"participant_id": pid, "session_id": sid, "delta_kps": 10 * z[i, 1],
                      "delta_edss": -z[i, 1]})
    return pd.DataFrame(vox), pd.DataFrame(exams)


def test_columns_and_planted_rho(cohort):
    _, exams, vox = cohort
    c = correlations(vox, exams)
    assert list(c.columns) == CORRELATION_COLUMNS
    assert len(c) == 6 and set(c["subset"]) == {"post_pml"} and set(c["unit"]) == {"exam"}
    # The synthetic cohort plants delta_kps rising with lesion tNAA_tCho (clinical_slope=1).
    r = c[(c["measure"] == "tNAA_tCho") & (c["clinical"] == "delta_kps")].iloc[0]
    assert r["rho"] > 0.4 and r["p"] < 0.05
    n_post = exams["stage"].isin(["early_post_pml", "late_post_pml"]).sum()
    assert r["n"] == n_post


@pytest.mark.parametrize("rho", [0.6, -0.5])
def test_recovers_planted_rho(rho):
    vox, exams = _planted(rho, 200, seed=7)
    c = correlations(vox, exams, StatsOptions(correlation_measures=("tNAA_tCho",)))
    r = c[c["clinical"] == "delta_kps"].iloc[0]
    # Spearman ρ of a Gaussian pair is (6/π) asin(ρ/2); n = 200 → SE ≈ 0.06.
    expect = 6 / np.pi * np.arcsin(rho / 2)
    assert r["rho"] == pytest.approx(expect, abs=0.15)
    assert r["p"] < 1e-4
    e = c[c["clinical"] == "delta_edss"].iloc[0]
    assert e["rho"] == pytest.approx(-r["rho"])
    data = correlation_data(vox, exams, StatsOptions(correlation_measures=("tNAA_tCho",)))
    ref = spearmanr(data["tNAA_tCho"], data["delta_kps"])
    assert r["rho"] == pytest.approx(ref.statistic)


def test_patient_unit_and_lipid_rise():
    vox, exams = _planted(0.5, 40, seed=3)
    c = correlations(vox, exams, StatsOptions(unit="patient"))
    assert set(c["unit"]) == {"patient"}
    assert (c["n"] == 20).all()
    lip = c[(c["measure"] == "lipid_rise") & (c["clinical"] == "delta_kps")].iloc[0]
    assert np.isfinite(lip["rho"])
    # tCho_tCr is constant: ρ undefined, reason recorded.
    cho = c[c["measure"] == "tCho_tCr"]
    assert cho["rho"].isna().all()
    assert any("constant" in n for n in c.attrs["notes"])


def test_small_n_and_kps_derivation():
    vox, exams = _planted(0.5, 2, seed=3)
    ex = exams.drop(columns=["delta_kps", "delta_edss"]).assign(kps=[70, 60], kps_pre=[90, 90],
                                                                edss=[4, 5], edss_pre=[3, 3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = correlations(vox, ex)
    assert c["rho"].isna().all() and (c["n"] == 2).all()
    with pytest.raises(StudyError, match="delta_kps"):
        correlations(vox, exams.drop(columns=["delta_kps"]))
