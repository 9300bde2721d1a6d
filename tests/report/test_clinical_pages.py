"""What the clinician audit asked of the exam, timeline and cohort pages: failed and missing voxels
shown with their reason, QC-failed points marked, quotients over an undetected NAWM value shown as
n/a (never ∞), a not-evaluable IRIS flag in grey, readable stage labels, and the timeline over days
since PML onset with every ratio, error bars and the stage windows of the stage rules."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from pmlmrs.report._html import detected, iris_flag_value, quotient_text, stage_label
from pmlmrs.report.cohort import stage_box_figure, write_cohort_report
from pmlmrs.report.exam import exam_context, write_exam_report
from pmlmrs.report.patient import stage_windows, timeline_figure, write_timeline
from pmlmrs.stats import StatsOptions, analyse_cohort, lesion_nawm_table, score_exams
from pmlmrs.stats.groups import analysis_table
from pmlmrs.stats.synthetic import synthetic_cohort
from pmlmrs.study.stages import StageOptions, assign_stage

RATIOS = ("tNAA_tCr", "tCho_tCr", "tNAA_tCho", "Ins_tCr", "Glx_tCr", "Lip_tCr", "Lip09_tCr", "Lip13_tCr")


@pytest.fixture(scope="module")
def damaged():
    """A synthetic cohort where: one lesion voxel failed (error, no ratios), one NAWM voxel is missing,
    one lesion voxel failed QC, and one exam's NAWM lipid is zero."""
    patients, exams, vox = synthetic_cohort(12, rng=5, exams_per_patient=(3, 4))
    vox = vox.copy()
    pid = patients["participant_id"].iloc[0]
    mine = exams[exams["participant_id"] == pid]["session_id"].tolist()
    key = (vox["participant_id"] == pid)
    failed = key & (vox["session_id"] == mine[0]) & (vox["voi"] == "lesion")
    vox.loc[failed, list(RATIOS)] = np.nan
    vox.loc[failed, "error"] = "ReadError: sub-x.nii.gz: cannot read the data block (truncated file?)"
    vox.loc[failed, "qc_pass"] = False
    qc_bad = key & (vox["session_id"] == mine[1]) & (vox["voi"] == "lesion")
    vox.loc[qc_bad, "qc_pass"] = False
    zero = key & (vox["session_id"] == mine[1]) & (vox["voi"] == "nawm")
    for c in ("Lip_tCr", "Lip13_tCr", "Lip09_tCr"):
        vox.loc[zero, c] = 0.0
    vox = vox[~(key & (vox["session_id"] == mine[2]) & (vox["voi"] == "nawm"))]  # missing NAWM
    iris, _ = score_exams(vox, exams)
    iris = iris.astype({"iris_flag": "boolean"})
    iris.loc[(iris["participant_id"] == pid) & (iris["session_id"] == mine[0]), "iris_flag"] = pd.NA
    return patients, exams, vox.reset_index(drop=True), iris, pid, mine


def test_helpers():
    assert stage_label("early_post_pml") == "early post-PML" and stage_label("pre_iris") == "pre-IRIS"
    assert [iris_flag_value(v) for v in (True, np.bool_(False), "true", "false", "n/a", pd.NA, float("nan"), None)] \
        == [True, False, True, False, None, None, None, None]
    assert detected(0.5, 0.1) is True and detected(0.3, 0.3) is False and detected(0.0, float("nan")) is False
    assert detected(float("nan"), 0.1) is None
    text = quotient_text(12.1, 0.0, 0.17, float("inf"), "Lip13_tCr")
    assert text.startswith("n/a (NAWM lipid not detected") and "> 35.6" in text and "∞" not in text
    assert quotient_text(1.2, 1.5, 0.07, 0.8, "tNAA_tCr") == "0.8"


def test_exam_page_failure_quotients_and_flag(tmp_path, damaged):
    _, exams, vox, iris, pid, mine = damaged
    table = lesion_nawm_table(vox)
    row = lambda df, sid: df[(df["participant_id"] == pid) & (df["session_id"] == sid)].iloc[0]
    # The failed lesion: its error shown, distinct from the NAWM that has no spectrum at all.
    ctx = exam_context(row(exams, mine[0]), {}, row(table, mine[0]), row(iris, mine[0]),
                       failures={"lesion": "ReadError: cannot read the data block (truncated file?)"})
    assert [(u["voi"], u["failed"]) for u in ctx["unavailable"]] == [("lesion", True), ("NAWM", False)]
    assert ctx["iris"]["flag"] is None and ctx["stage_label"] == stage_label(row(exams, mine[0])["stage"])
    html = write_exam_report(tmp_path / "e.html", row(exams, mine[0]), {}, row(table, mine[0]), row(iris, mine[0]),
                             failures={"lesion": "ReadError: cannot read the data block (truncated file?)"}
                             ).read_text(encoding="utf-8")
    assert "lesion: processing failed</span> — ReadError: cannot read the data block" in html
    assert "<b>NAWM</b>: no spectrum for this exam" in html
    assert 'badge iris-unknown">not evaluable' in html and "no IRIS flag" not in html
    assert f"stage: {ctx['stage_label']}" in html
    # NAWM lipid zero: the Lip quotients and the lipid rise are n/a with a bound, never ∞ or 1e+04-like.
    q = row(table, mine[1])
    assert np.isinf(q["Lip13_tCr_quotient"])  # what the table holds (kept, TSV schema unchanged)
    html = write_exam_report(tmp_path / "e2.html", row(exams, mine[1]), {}, q, None).read_text(encoding="utf-8")
    quot = html[html.index('<section id="quotients"'):html.index('<section id="qc"')]
    assert "∞" not in quot and quot.count("n/a (NAWM lipid not detected") == 4  # Lip, Lip09, Lip13, lipid rise
    assert "below 2" in quot  # the rule is on the page


def test_stage_windows_follow_the_stage_rules(damaged):
    patients = damaged[0]
    p = patients.iloc[0].to_dict()
    start, end = p["pml_diagnosis"], p["pml_onset"] + pd.Timedelta(days=900)
    wins = stage_windows(p, start, end)
    assert [w[0] for w in wins] == ["pre_iris", "iris", "early_post_pml", "unassigned", "late_post_pml"]
    iris = next(w for w in wins if w[0] == "iris")
    assert (iris[1], iris[2]) == (p["iris_onset"], p["iris_end"])  # the clinical window, not half-way to exams
    for s, a, b in wins:  # every run agrees with assign_stage at both ends and just outside
        assert assign_stage(a.date(), p).stage == s and assign_stage(b.date(), p).stage == s
    # the onset option moves day 0 and the post-PML windows
    o = StageOptions(onset="diagnosis", early_months=12, late_months=14)
    assert assign_stage(wins[-1][1].date(), p, None, o).stage == "late_post_pml"


def test_timeline_days_all_ratios_errors_qc_and_gaps(tmp_path, damaged):
    patients, exams, vox, iris, pid, mine = damaged
    p = patients.iloc[0].to_dict()
    fig = timeline_figure(p, exams, vox, iris)
    ex = exams[exams["participant_id"] == pid]
    exam_trace = next(t for t in fig.data if t.name == "exams (× = IRIS flag)")
    assert list(exam_trace.x) == pytest.approx(list(ex["days_since_pml_onset"]))  # x = days since onset
    assert any("not evaluable" in h for h in exam_trace.hovertext)
    lesion = [t for t in fig.data if t.name == "lesion"]
    nawm = [t for t in fig.data if t.name == "NAWM"]
    assert len(lesion) == len(nawm) == len(RATIOS)  # one panel per summary.tsv ratio, lesion and NAWM
    titles = [a.text for a in fig.layout.annotations]
    assert all(r.replace("_", "/") in titles for r in RATIOS)
    assert all(t.error_y.array is not None and np.nanmax(t.error_y.array) > 0 for t in lesion + nawm)
    lip = lesion[RATIOS.index("Lip_tCr")]
    k = list(lip.x).index(float(ex.loc[ex["session_id"] == mine[1], "days_since_pml_onset"].iloc[0]))
    assert lip.marker.symbol[k] == "circle-open" and "QC fail" in lip.hovertext[k]
    assert list(lip.marker.symbol).count("circle-open") == 1  # the failed voxel is a gap, not a QC mark
    gap = next(t for t in fig.data if t.name == "voxel failed or missing")
    assert len(gap.x) == 2 and any("truncated file" in h for h in gap.hovertext)
    assert any("no spectrum" in h for h in gap.hovertext)
    assert any(str(t.name).startswith("IRIS by the rules: " + p["iris_onset"].strftime("%Y-%m-%d")) for t in fig.data)
    when = pd.Timestamp(ex.loc[ex["session_id"] == mine[1], "acq_time"].iloc[0]).strftime("%Y-%m-%d")
    assert when in lip.hovertext[k]  # the calendar date in the hover
    html = write_timeline(tmp_path / "t.html", p, exams, vox, iris).read_text(encoding="utf-8")
    assert 'class="flag-na">not evaluable' in html and "days since PML onset" in html
    assert ">pre-IRIS<" in html and ">pre_iris<" not in html
    json.loads(fig.to_json())


def test_cohort_problems_counts_medians_and_qc_points(tmp_path, damaged):
    patients, exams, vox, iris, pid, mine = damaged
    a = analyse_cohort(vox, exams, StatsOptions(n_bootstrap=100))
    problems = [{"level": "error", "participant_id": pid, "session_id": mine[0], "voi": "lesion",
                 "message": "processing failed: ReadError (truncated file?)", "action": "voxel recorded as failed"}]
    html = write_cohort_report(tmp_path / "r.html", vox, exams, patients, a.stage_stats, a.correlations, iris,
                               a.iris_evaluation, a.longitudinal, None, None, options=a.options,
                               problems=problems).read_text(encoding="utf-8")
    sec = html[html.index('<section id="problems"'):html.index('<section id="describe"')]
    assert "cannot read the data block" in sec and "no spectrum for this VOI" in sec and "failed QC" in sec
    assert "voxel recorded as failed" in sec
    counts = html[html.index('<section id="counts"'):html.index('<section id="problems"')]
    assert "voxels failed (not processed)" in counts and ">early post-PML<" in counts
    desc = html[html.index('<section id="describe"'):html.index('<section id="figures"')]
    assert "∞" not in desc and "n/a)" in desc and "n counts the" in desc
    assert '<span class="flag-na">not evaluable</span>' in html
    # Box plot: the QC-failed lesion point is an open marker in its own trace, with a hover note.
    table = analysis_table(vox, a.options)
    table["qc_fail_lesion"] = (table["participant_id"] == pid) & (table["session_id"] == mine[1])
    fig = stage_box_figure(table, "Lip_tCr", a.stage_stats, list(a.options.stages))
    open_pts = [t for t in fig.data if t.type == "box" and t.marker.symbol == "circle-open"]
    assert len(open_pts) == 1 and len(open_pts[0].y) == 1 and "QC fail" in open_pts[0].hovertext[0]
    assert set(fig.layout.xaxis.categoryarray) == {"pre-IRIS", "IRIS", "early post-PML", "late post-PML"}
    assert not re.search(r"<script[^>]+src=", html)
