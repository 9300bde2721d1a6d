"""The patient timeline page: events, IRIS window, exams with stages and flags, KPS/EDSS, ratios."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from pmlmrs.report.patient import timeline_figure, write_timeline
from pmlmrs.stats import score_exams
from pmlmrs.stats.synthetic import synthetic_cohort


@pytest.fixture(scope="module")
def cohort():
    patients, exams, vox = synthetic_cohort(12, rng=5, exams_per_patient=(3, 4))
    iris, _ = score_exams(vox, exams)
    return patients, exams, vox, iris


def test_timeline_page(tmp_path, cohort):
    patients, exams, vox, iris = cohort
    p = patients.iloc[0]
    mine = exams[exams["participant_id"] == p["participant_id"]]
    path = write_timeline(tmp_path / "sub_timeline.html", p, exams, vox, iris,
                          exam_links={mine["session_id"].iloc[0]: "ses-01/report.html"})
    html = path.read_text(encoding="utf-8")
    for sec in ("patient", "timeline", "exams"):
        assert f'<section id="{sec}"' in html
    assert html.count("plotly.js v") == 1
    assert not re.search(r"<script[^>]+src=", html)
    assert 'href="ses-01/report.html"' in html
    for label in ("natalizumab stop", "PML onset", "IRIS window", "KPS", "EDSS"):
        assert label in html
    assert "Lip/tCr" in html or "Lip\\u002ftCr" in html  # plotly escapes "/" inside its JSON
    for sid in mine["session_id"]:
        assert sid in html
    assert p["pml_onset"].strftime("%Y-%m-%d") in html
    # Other patients' exams are not on this page.
    other = patients["participant_id"].iloc[1]
    assert other not in html
    assert "decision support, not diagnosis" in html


def test_timeline_figure_content(cohort):
    patients, exams, vox, iris = cohort
    p = patients.iloc[1].to_dict()
    fig = timeline_figure(p, exams, vox, iris, ratios=("Lip_tCr", "tCho_tCr"))
    names = [t.name for t in fig.data]
    assert "exams (× = IRIS flag)" in names and "lesion" in names and "NAWM" in names
    n_exams = int((exams["participant_id"] == p["participant_id"]).sum())
    exam_trace = next(t for t in fig.data if t.name == "exams (× = IRIS flag)")
    assert len(exam_trace.x) == n_exams
    assert len(fig.layout.shapes) >= n_exams  # one stage band per exam
    # An ongoing IRIS (no end date) and missing acquisition dates still draw.
    p2 = dict(p, iris_end=pd.NaT, kps_pre="n/a", pml_onset=str(p["pml_onset"].date()))  # TSV-style values
    ex2 = exams.drop(columns=["acq_time"])
    fig2 = timeline_figure(p2, ex2, vox, None)
    assert any("ongoing" in (t.name or "") for t in fig2.data)
    json.loads(fig2.to_json())
