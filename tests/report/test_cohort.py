"""The cohort report renders every section from the stats outputs, self-contained."""

from __future__ import annotations

import re

import pytest

from pmlmrs.core import Header
from pmlmrs.errors import WriteError
from pmlmrs.report.cohort import stage_box_figure, write_cohort_report
from pmlmrs.report.mrsinmrs import checklist
from pmlmrs.stats import StatsOptions, analyse_cohort
from pmlmrs.stats.groups import analysis_table
from pmlmrs.stats.synthetic import synthetic_cohort


@pytest.fixture(scope="module")
def analysis():
    patients, exams, vox = synthetic_cohort(16, rng=6, clinical_slope=1.0, unassigned_exams=2)
    opts = StatsOptions(n_bootstrap=300)
    return patients, exams, vox, analyse_cohort(vox, exams, opts)


def test_cohort_report_sections(tmp_path, analysis):
    patients, exams, vox, a = analysis
    ck = checklist([Header(123.2, 1 / 2000, echo_time=0.035, repetition_time=2.0)],
                   {"analysis_software": "pmlmrs"}, voxels=vox)
    prov = {"software": "pmlmrs", "inputs": ["participants.tsv"], "steps": ["ingest", "fit", "stats"]}
    path = write_cohort_report(tmp_path / "report.html", vox, exams, patients, a.stage_stats, a.correlations,
                               a.iris, a.iris_evaluation, a.longitudinal, ck, prov, options=a.options)
    html = path.read_text(encoding="utf-8")
    for sec in ("counts", "describe", "figures", "lesion-vs-nawm", "stage-vs-stage", "correlations", "iris",
                "longitudinal", "mrsinmrs", "provenance"):
        assert f'<section id="{sec}"' in html, sec
    assert html.count("plotly.js v") == 1
    assert not re.search(r"<script[^>]+src=", html) and not re.search(r"<link[^>]+href=", html)
    # One box plot per ratio, one scatter per correlation row, ROC, two trajectories.
    n_plots = html.count("Plotly.newPlot")
    assert n_plots == len(a.options.ratios) + len(a.correlations) + 1 + 2
    for text in ("Wilcoxon", "Kruskal", "Holm", "Spearman", "LOPO AUC", "Gheuens", "79 %",
                 "not validated for natalizumab PML", "MRSinMRS", "not reported", "MixedLM",
                 "years_since_pml_onset", "median [min–max]"):
        assert text in html, text
    assert "decision support, not diagnosis" in html.lower()
    # A known number from the tables is on the page.
    row = a.stage_stats[(a.stage_stats["ratio"] == "Lip_tCr") & (a.stage_stats["stage"] == "iris")
                        & (a.stage_stats["comparison"] == "lesion_vs_nawm")].iloc[0]
    assert f"{row['p']:.1e}" in html or f"{row['p']:.3f}" in html
    with pytest.raises(WriteError):
        write_cohort_report(path, vox, exams, patients, a.stage_stats, a.correlations, a.iris,
                            a.iris_evaluation, a.longitudinal, ck, prov, force=False)


def test_cohort_report_minimal_inputs(tmp_path, analysis):
    patients, exams, vox, a = analysis
    html = write_cohort_report(tmp_path / "r.html", vox, exams, None, a.stage_stats, None, None,
                               {"fitted": False, "reason": "model not fitted: too few IRIS exams"},
                               a.longitudinal.fixed_effects, None, None).read_text(encoding="utf-8")
    assert "No correlations computed" in html and "model not fitted: too few IRIS exams" in html
    assert "Checklist not provided" in html and "No provenance log given" in html


def test_box_figure_annotations(analysis):
    _, _, vox, a = analysis
    table = analysis_table(vox, a.options)
    fig = stage_box_figure(table, "Lip_tCr", a.stage_stats, list(a.options.stages))
    boxes = [t for t in fig.data if t.boxpoints is False]
    assert [t.offsetgroup for t in boxes] == ["lesion", "nawm"]  # lesion beside NAWM; points share their slot
    texts = [ann.text for ann in fig.layout.annotations]
    assert len(texts) == 4 and all("p =" in t or "not tested" in t for t in texts)


def test_cohort_report_with_an_empty_stage(tmp_path):
    """A stage without exams (common in small cohorts) renders as empty cells, not an error."""
    patients, exams, vox = synthetic_cohort(10, rng=8)
    keep = exams["stage"] != "late_post_pml"
    exams, vox = exams[keep], vox[vox["stage"] != "late_post_pml"]
    a = analyse_cohort(vox, exams, StatsOptions(n_bootstrap=100))
    html = write_cohort_report(tmp_path / "r.html", vox, exams, patients, a.stage_stats, a.correlations, a.iris,
                               a.iris_evaluation, a.longitudinal, None, None, options=a.options
                               ).read_text(encoding="utf-8")
    assert 'title="no data"' in html and "not tested" in html
