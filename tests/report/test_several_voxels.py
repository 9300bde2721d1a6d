"""Pages of an exam with two lesion voxels (acq labels): every voxel on the exam page, one timeline
line per acq label, cohort counts and problems by voxel; exam-level quotients (their mean) said."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pmlmrs.report.cohort import _voxel_status, write_cohort_report
from pmlmrs.report.exam import exam_context, write_exam_report
from pmlmrs.report.patient import timeline_figure, write_timeline
from pmlmrs.stats import StatsOptions, analyse_cohort, lesion_nawm_table
from pmlmrs.stats.synthetic import synthetic_cohort

from .test_exam import make_fit


@pytest.fixture(scope="module")
def two_lesions():
    """A synthetic cohort whose first patient's exams all have a second lesion voxel: the lesions are
    ``acq-frontal`` and ``acq-parietal`` (the parietal one with twice the lipids); in the first exam
    the parietal voxel failed, in the second it failed QC."""
    patients, exams, vox = synthetic_cohort(12, rng=5, exams_per_patient=(3, 4))
    vox = vox.copy()
    pid = patients["participant_id"].iloc[0]
    mine = (vox["participant_id"] == pid) & (vox["voi"] == "lesion")
    second = vox[mine].copy()
    vox.loc[mine, "spectrum"] = vox.loc[mine, "spectrum"].str.replace("_voi-", "_acq-frontal_voi-")
    second["spectrum"] = second["spectrum"].str.replace("_voi-", "_acq-parietal_voi-")
    for c in ("Lip_tCr", "Lip09_tCr", "Lip13_tCr"):
        second[c] *= 2.0
    sids = sorted(second["session_id"])
    second.loc[second["session_id"] == sids[0], ["Lip_tCr", "tCho_tCr"]] = np.nan
    second.loc[second["session_id"] == sids[0], "error"] = "ReadError: cannot read the data block"
    second.loc[second["session_id"] == sids[0], "qc_pass"] = False
    second.loc[second["session_id"] == sids[1], "qc_pass"] = False
    vox = pd.concat([vox, second], ignore_index=True)
    return patients, exams, vox, pid, sids


def test_exam_page_shows_every_voxel(tmp_path, two_lesions):
    _, exams, vox, pid, sids = two_lesions
    exam = exams[(exams["participant_id"] == pid) & (exams["session_id"] == sids[2])].iloc[0]
    q = lesion_nawm_table(vox)
    q = q[(q["participant_id"] == pid) & (q["session_id"] == sids[2])].iloc[0]
    assert q["n_lesion"] == 2
    fits = {"lesion:frontal": make_fit(3.0, 1, "lesion"), "lesion:parietal": make_fit(6.0, 3, "lesion"),
            "nawm": make_fit(0.1, 2, "nawm")}
    ctx = exam_context(exam, fits, q)
    assert ctx["vois"] == ["lesion:frontal", "lesion:parietal", "nawm"]
    assert [ctx["voi_labels"][v] for v in ctx["vois"]] == ["lesion (frontal)", "lesion (parietal)", "NAWM"]
    lip = next(m for m in ctx["metabolites"] if m["name"] == "Lip09")
    assert lip["lesion:parietal"]["amplitude"] == pytest.approx(6.0) and lip["nawm"]["amplitude"] == pytest.approx(0.1)
    assert ctx["unavailable"] == [] and len(ctx["mean_notes"]) == 1
    html = write_exam_report(tmp_path / "e.html", exam, fits, q).read_text(encoding="utf-8")
    assert html.count("<svg") >= 3 and "lesion (frontal)" in html and "lesion (parietal)" in html
    assert "This exam has 2 lesion voxels (frontal, parietal)" in html and "Spectra: every voxel" in html
    # one voxel failed: its label and error, the other fitted; no NAWM at all
    ctx = exam_context(exam, {"lesion:frontal": fits["lesion:frontal"]}, q,
                       failures={"lesion:parietal": "ReadError: cannot read"})
    assert [(u["voi"], u["failed"]) for u in ctx["unavailable"]] == [("lesion (parietal)", True), ("NAWM", False)]
    assert ctx["voi_labels"]["lesion:frontal"] == "lesion (frontal)"
    # a single lesion voxel with an acq label is just "lesion"
    ctx = exam_context(exam, {"lesion:press": fits["lesion:frontal"], "nawm:press": fits["nawm"]}, q)
    assert [ctx["voi_labels"][v] for v in ctx["vois"]] == ["lesion", "NAWM"] and ctx["mean_notes"] == []
    # an unlabelled voxel beside a labelled one of its voi: named as on the timeline
    ctx = exam_context(exam, {"lesion": fits["lesion:frontal"], "lesion:parietal": fits["lesion:parietal"]}, q)
    assert sorted(ctx["voi_labels"].values()) == ["lesion (no acq label)", "lesion (parietal)"]


def test_timeline_has_one_lesion_line_per_acq(tmp_path, two_lesions):
    patients, exams, vox, pid, sids = two_lesions
    p = patients[patients["participant_id"] == pid].iloc[0].to_dict()
    fig = timeline_figure(p, exams, vox, None, ratios=("Lip_tCr",))
    lines = {t.name: t for t in fig.data if t.name and t.name.startswith(("lesion", "NAWM"))}
    assert set(lines) == {"lesion (frontal)", "lesion (parietal)", "NAWM"}
    n = len(sids)
    assert len(lines["lesion (frontal)"].x) == len(lines["lesion (parietal)"].x) == n
    front, par = np.asarray(lines["lesion (frontal)"].y, float), np.asarray(lines["lesion (parietal)"].y, float)
    assert np.isnan(par).sum() == 1 and np.allclose(par[~np.isnan(par)], 2 * front[~np.isnan(par)])
    assert list(lines["lesion (parietal)"].marker.symbol).count("circle-open") == 1  # QC fail (not the failed one)
    html = write_timeline(tmp_path / "t.html", p, exams, vox).read_text(encoding="utf-8")
    assert "lesion (parietal): failed: ReadError" in html
    names = {t.name for t in timeline_figure(patients.iloc[1].to_dict(), exams, vox, None, ratios=("Lip_tCr",)).data}
    assert "lesion" in names and not any(str(x).startswith("lesion (") for x in names)  # one lesion voxel each


def test_cohort_counts_and_problems_by_voxel(tmp_path, two_lesions):
    patients, exams, vox, pid, sids = two_lesions
    status = _voxel_status(vox, exams)
    mine = [(r["session_id"], r["voxel"], r["status"]) for r in status if r["participant_id"] == pid]
    assert (sids[0], "lesion (parietal)", "failed") in mine and (sids[1], "lesion (parietal)", "failed QC") in mine
    assert not any(v == "lesion (frontal)" for _, v, _ in mine)
    a = analyse_cohort(vox, exams, StatsOptions(n_bootstrap=50))
    html = write_cohort_report(tmp_path / "r.html", vox, exams, patients, a.stage_stats, a.correlations, a.iris,
                               a.iris_evaluation, a.longitudinal, None, None, options=a.options
                               ).read_text(encoding="utf-8")
    n_lesion = int((vox["voi"] == "lesion").sum())
    assert n_lesion == len(exams) + len(sids)
    assert f"<td>{n_lesion}</td>" in html and "counts each of them" in html
    assert "lesion (parietal)" in html
    assert a.counts.set_index("stage").loc["total", "n_lesion_voxels"] == n_lesion
    assert len(a.iris) == len(exams)  # IRIS: one row per lesion exam, not per voxel
