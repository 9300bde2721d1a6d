"""run_study end to end on a tiny generated cohort: outputs, idempotent re-runs, failures."""

from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pytest

from pmlmrs.errors import WriteError
from pmlmrs.study.pipeline import VOXEL_KEY_COLUMNS, run_study

from .conftest import read_tsv

RATIOS = ["tNAA_tCr", "tCho_tCr", "tNAA_tCho", "Ins_tCr", "Glx_tCr", "Lip_tCr", "Lip09_tCr", "Lip13_tCr"]


def test_end_to_end_outputs(cohort, tmp_path):
    out = tmp_path / "deriv"
    res = run_study(cohort, out, "all", workers=1)
    assert (res.n_exams, res.n_voxels, res.n_fitted, res.n_failed) == (5, 10, 10, 0)
    assert res.stage_counts == {"pre_iris": 1, "iris": 2, "early_post_pml": 1, "late_post_pml": 1}
    desc = json.loads((out / "dataset_description.json").read_text())
    assert desc["DatasetType"] == "derivative" and desc["GeneratedBy"][0]["Name"] == "pmlmrs"
    fits = sorted(out.glob("sub-*/ses-*/mrs/*_desc-fit_svs.tsv"))
    assert len(fits) == 10 and len(sorted(out.glob("sub-*/ses-*/mrs/*_desc-fit_svs.json"))) == 10
    one = read_tsv(fits[0])
    assert list(one.columns[:1]) == ["spectrum"] and one.columns[-1] == "error"
    fj = json.loads(sorted(out.glob("sub-*/ses-*/mrs/*_desc-fit_svs.json"))[0].read_text())
    assert fj["provenance"]["inputs"]

    vox = read_tsv(out / "group" / "voxels.tsv")
    assert list(vox.columns[:6]) == VOXEL_KEY_COLUMNS + ["spectrum"]
    header = (out / "group" / "voxels.tsv").read_text().split("\n", 1)[0].split("\t")
    assert len(header) == len(set(header)) and header[-1] == "water_scaled"
    for col in RATIOS + ["tNAA", "tCr", "tCho", "NAA", "NAA_crlb", "snr", "fwhm_ppm", "fit_quality", "qc_pass",
                         "error"]:
        assert col in vox.columns, col
    assert len(vox) == 10 and set(vox["voi"]) == {"lesion", "nawm"}
    rows = (out / "group" / "voxels.tsv").read_text().splitlines()[1:]
    assert all(r.split("\t")[header.index("error")] == "" for r in rows)  # as summary.tsv: empty when fitted
    assert vox["tNAA_tCr"].notna().all()
    # lesions of the IRIS exams have higher Lip/tCr than their NAWM (planted effect, large)
    iris = vox[vox["stage"] == "iris"].pivot(index=["participant_id", "session_id"], columns="voi",
                                              values="Lip_tCr")
    assert (iris["lesion"] > 2 * iris["nawm"]).all()

    st = read_tsv(out / "group" / "stage_stats.tsv")
    # DESIGN's columns in order, then pmlmrs' effect-size extension
    assert list(st.columns) == ["ratio", "stage", "comparison", "group_a", "group_b", "n_a", "n_b", "median_a",
                                "median_b", "test", "statistic", "p", "p_holm", "p_fdr", "direction",
                                "effect", "effect_measure", "shift"]
    assert list(read_tsv(out / "group" / "correlations.tsv").columns) == ["measure", "clinical", "subset", "unit",
                                                                          "n", "rho", "p"]
    ir = read_tsv(out / "group" / "iris.tsv")
    assert list(ir.columns) == ["participant_id", "session_id", "stage", "iris_score", "iris_flag", "rule", "reason"]
    assert len(ir) == 5
    assert (out / "group" / "report.html").stat().st_size > 1000
    assert len(list(out.glob("sub-*/sub-*_timeline.html"))) == 3
    assert len(list(out.glob("sub-*/ses-*/sub-*_ses-*_report.html"))) == 5
    assert (out / "pmlmrs.db").exists()
    assert res.missing == []
    log = json.loads(res.files["run_log"].read_text())
    assert log["counts"]["fitted"] == 10 and log["options"]["stage"]["early_months"] == 19.0


@pytest.mark.parametrize("engine", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_rerun_refits_nothing_and_changed_file_replaces_rows(cohort, tmp_path, engine, request):
    from pmlmrs.io import load, save
    from pmlmrs.study.db import Voxel, open_database

    db_url = None if engine == "sqlite" else request.getfixturevalue("postgres_url")
    out = tmp_path / "deriv"
    first = run_study(cohort, out, "participant", db_url=db_url, reports=False)
    assert first.n_fitted == 10 and first.n_reused == 0 and first.refit_reasons == {"new": 10}
    with pytest.raises(WriteError, match="--force"):
        run_study(cohort, out, "participant", db_url=db_url, reports=False)
    second = run_study(cohort, out, "participant", db_url=db_url, reports=False, force=True)
    assert second.n_fitted == 0 and second.n_reused == 10

    db = open_database(db_url, out_dir=out)
    with db.session() as s:
        before = {(v.exam.session_id, v.voi, v.exam.patient.participant_id): (v.id, v.input_sha256,
                                                                               v.summary.row["NAA"])
                  for v in s.query(Voxel).all()}
    counts_before = db.counts()
    db.dispose()

    # change one file: the same spectrum scaled by 1.5 (still a valid NIfTI-MRS file)
    path = next(cohort.glob("sub-01/ses-01/mrs/*voi-nawm_svs.nii.gz"))
    spec = load(path)
    save(spec.with_data(spec.data * 1.5), path, force=True)
    third = run_study(cohort, out, "participant", db_url=db_url, reports=False, force=True)
    assert third.n_fitted == 1 and third.n_reused == 9 and third.refit_reasons == {"input file changed": 1}

    db = open_database(db_url, out_dir=out)
    with db.session() as s:
        after = {(v.exam.session_id, v.voi, v.exam.patient.participant_id): (v.id, v.input_sha256,
                                                                              v.summary.row["NAA"])
                 for v in s.query(Voxel).all()}
    counts_after = db.counts()
    db.dispose()
    key = ("ses-01", "nawm", "sub-01")
    assert after[key][1] != before[key][1]
    assert after[key][2] == pytest.approx(1.5 * before[key][2], rel=0.05)
    assert {k: v for k, v in after.items() if k != key} == {k: v for k, v in before.items() if k != key}
    for table in ("patient", "exam", "stage", "voxel", "fit_summary", "fit_measure", "clinical_score"):
        assert counts_after[table] == counts_before[table], table
    assert counts_after["run"] == counts_before["run"] + 1


def test_removed_subject_leaves_no_outputs_or_rows(cohort, tmp_path):
    """Deleting a subject from the dataset and rerunning with force removes its database rows, fit files,
    exam reports and timeline; the other subjects' outputs stay."""
    from pmlmrs.study.db import open_database

    out = tmp_path / "deriv"
    run_study(cohort, out, "all")
    pids = sorted(p.name for p in cohort.glob("sub-*") if p.is_dir())
    gone = pids[-1]
    assert (out / gone).is_dir() and any((out / gone).rglob("*_desc-fit_svs.json"))
    shutil.rmtree(cohort / gone)
    lines = (cohort / "participants.tsv").read_text().splitlines()
    (cohort / "participants.tsv").write_text("\n".join(l for l in lines if not l.startswith(gone + "\t")) + "\n")
    res = run_study(cohort, out, "all", force=True)
    assert res.n_failed == 0 and not (out / gone).exists()
    assert all((out / p).is_dir() for p in pids[:-1])
    db = open_database(None, out_dir=out)
    try:
        c = db.counts()
        assert c["patient"] == len(pids) - 1 and c["exam"] == res.n_exams and c["voxel"] == res.n_voxels
    finally:
        db.dispose()
    leftovers = [p for p in (out / ".pmlmrs_cache").rglob("*") if gone in p.name] if (out / ".pmlmrs_cache").exists() else []
    assert not leftovers


def test_changed_engine_refits(cohort, tmp_path, monkeypatch):
    """The settings digest covers the fitting engine's source: after an upgrade that changes it,
    a forced rerun refits every voxel instead of reusing results of the old engine."""
    from pmlmrs.study import pipeline

    sha = pipeline.engine_sha256()
    assert sha == pipeline.engine_sha256() and len(sha) == 64
    out = tmp_path / "deriv"
    assert run_study(cohort, out, "participant", reports=False).n_fitted == 10
    monkeypatch.setattr(pipeline, "engine_sha256", lambda: "0" * 64)
    again = run_study(cohort, out, "participant", reports=False, force=True)
    assert again.n_fitted == 10 and again.n_reused == 0
    assert again.refit_reasons == {"fit settings or pmlmrs fitting code changed": 10}
    assert json.loads(again.files["run_log"].read_text())["refit_reasons"] == again.refit_reasons


def test_bad_exam_does_not_stop_the_run(cohort, tmp_path):
    bad = next(cohort.glob("sub-02/ses-01/mrs/*voi-lesion_svs.nii.gz"))
    bad.write_bytes(b"this is not a NIfTI file")
    out = tmp_path / "deriv"
    res = run_study(cohort, out, "participant", reports=False)
    assert res.n_failed == 1 and res.n_fitted == 9
    failed = [p for p in res.problems if p.level == "error" and p.voi == "lesion"]
    assert failed and "processing failed" in failed[0].message and failed[0].participant_id == "sub-02"
    group = run_study(cohort, out, "group", reports=False)
    vox = read_tsv(out / "group" / "voxels.tsv")
    row = vox[(vox["participant_id"] == "sub-02") & (vox["voi"] == "lesion")].iloc[0]
    assert row["error"] and pd.isna(row["tNAA_tCr"]) and row["qc_pass"] in (False, "false")
    assert len(vox) == 10
    assert group.n_fitted == 0


def test_input_problems_are_reported_and_run_completes(cohort, tmp_path):
    p = cohort / "participants.tsv"
    text = p.read_text().splitlines()
    cells = text[2].split("\t")
    cells[8] = "85"  # kps_pre of sub-02: not a step of 10
    text[2] = "\t".join(cells)
    p.write_text("\n".join(text) + "\n")
    out = tmp_path / "deriv"
    res = run_study(cohort, out, "participant", reports=False)
    assert res.n_fitted == 10
    msgs = [(x.error.path, x.error.row, x.error.column) for x in res.problems]
    assert (str(p), 2, "kps_pre") in msgs


def test_group_level_needs_fits_and_refuses_overwrite(cohort, tmp_path):
    """A group run that finds no fit (another --db, or no participant run yet) is an error and writes no
    group table; one with fits refuses to overwrite its tables without force."""
    from pmlmrs.errors import StudyError

    out = tmp_path / "deriv"
    with pytest.raises(StudyError, match="participant level first"):
        run_study(cohort, out, "group", reports=False)
    assert not (out / "group" / "voxels.tsv").exists()
    run_study(cohort, out, "participant", reports=False)
    res = run_study(cohort, out, "group", reports=False)
    assert not res.missing and (out / "group" / "voxels.tsv").exists()
    with pytest.raises(WriteError, match="group"):
        run_study(cohort, out, "group", reports=False)
    good = (out / "group" / "voxels.tsv").read_text()
    with pytest.raises(StudyError, match="participant level first"):
        run_study(cohort, out, "group", reports=False, force=True, db_url=f"sqlite:///{tmp_path / 'empty.db'}")
    assert (out / "group" / "voxels.tsv").read_text() == good  # not replaced by empty tables


def test_out_dir_must_differ_from_bids(cohort):
    from pmlmrs.errors import StudyError

    with pytest.raises(StudyError):
        run_study(cohort, cohort, "participant")


def test_inconsistent_patient_dates_leave_exams_unassigned(cohort, tmp_path):
    from sqlalchemy import select

    from pmlmrs.study.db import Exam, Patient, Stage, open_database

    p = cohort / "participants.tsv"
    lines = p.read_text().splitlines()
    cols = lines[0].split("\t")
    cells = lines[1].split("\t")  # sub-01 (three exams)
    cells[cols.index("iris_end")] = "2000-01-01"
    lines[1] = "\t".join(cells)
    p.write_text("\n".join(lines) + "\n")
    out = tmp_path / "deriv"
    res = run_study(cohort, out, "participant", reports=False)
    assert any(x.error.column == "iris_end" and x.error.row == 1 for x in res.problems)
    db = open_database(out_dir=out)
    with db.session() as s:
        rows = s.execute(select(Stage.stage, Stage.rule, Stage.review).join(Exam).join(Patient)
                         .where(Patient.participant_id == "sub-01")).all()
    db.dispose()
    assert len(rows) == 3
    assert all(st == "unassigned" and review and "stage rules not applied" in rule for st, rule, review in rows)


def test_failed_voxel_on_the_pages_and_no_reports_removes_stale_pages(cohort, tmp_path, caplog):
    """A truncated lesion file: its exam page shows the read error (not "no file"), the cohort page
    lists it; a later run with reports off deletes the pages of the earlier run (and only those)."""
    out = tmp_path / "deriv"
    bad = next(cohort.glob("sub-01/ses-01/mrs/*voi-lesion_svs.nii.gz"))
    bad.write_bytes(bad.read_bytes()[:2000])
    res = run_study(cohort, out, "all")
    assert res.n_failed == 1
    exam = (out / "sub-01" / "ses-01" / "sub-01_ses-01_report.html").read_text(encoding="utf-8")
    assert "lesion: processing failed</span> — ReadError" in exam and "no spectrum for this exam" not in exam
    page = (out / "group" / "report.html").read_text(encoding="utf-8")
    problems = page[page.index('<section id="problems"'):page.index('<section id="describe"')]
    assert "ReadError" in problems and "voxel recorded as failed" in problems
    timeline = (out / "sub-01" / "sub-01_timeline.html").read_text(encoding="utf-8")
    assert "voxel failed or missing" in timeline and "days since PML onset" in timeline

    mine = out / "sub-01" / "my_notes.html"
    mine.write_text("<html><body>not written by pmlmrs</body></html>", encoding="utf-8")
    with caplog.at_level("INFO", logger="pmlmrs"):
        run_study(cohort, out, "all", reports=False, force=True)
    assert not (out / "group" / "report.html").exists() and not (out / "group" / "mrsinmrs.tsv").exists()
    assert not list(out.glob("sub-*/sub-*_timeline.html")) and not list(out.glob("sub-*/ses-*/*_report.html"))
    assert mine.exists() and (out / "group" / "voxels.tsv").exists()
    assert re.search(r"removed \d+ report file\(s\) of an earlier run", caplog.text)


def test_pages_follow_the_run_options(cohort, tmp_path):
    """The exam pages highlight CRLBs at the run's QC threshold; the cohort MRSinMRS table names the basis
    each voxel was fitted with and the QC rules actually applied; the run log is strict JSON."""
    from pmlmrs.qc import QCOptions

    out = tmp_path / "deriv"
    res = run_study(cohort, out, "all", qc_options=QCOptions(crlb_max=7.0))
    page = next(out.glob("sub-*/ses-*/sub-*_ses-*_report.html")).read_text()
    assert "cells above 7 % are highlighted" in page and "above 20 %" not in page
    produced = re.search(r'id="produced-by">Produced by (.*?)\.</p>', page).group(1)
    assert "pmlmrs " in produced and "basis ismrm2016_press_3T_30ms (SHA-256 " in produced and "CRLB &gt; 7 %" in produced
    timeline = next(out.glob("sub-*/sub-*_timeline.html")).read_text()
    assert f'id="produced-by">Produced by {produced}.</p>' in timeline
    mrs = read_tsv(out / "group" / "mrsinmrs.tsv").set_index("item")["value"]
    assert "SHA-256" in mrs["Basis set"] and "bundled basis matched" not in mrs["Basis set"]
    assert "CRLB > 7 %" in mrs["Data exclusion criteria"]
    cohort_page = (out / "group" / "report.html").read_text()
    assert re.search(r'>basis</th><td class="text">ismrm2016_press_3T_30ms \(SHA-256 [0-9a-f]{64}\)', cohort_page)
    json.loads(res.files["run_log"].read_text(), parse_constant=lambda c: pytest.fail(f"non-JSON {c}"))


def test_a_voxel_that_now_fails_loses_its_earlier_fit_files(cohort, tmp_path):
    out = tmp_path / "deriv"
    run_study(cohort, out, "participant", reports=False)
    bad = next(cohort.glob("sub-01/ses-01/mrs/*voi-lesion_svs.nii.gz"))
    stem = bad.name.replace("_svs.nii.gz", "")
    before = list(out.rglob(f"{stem}*"))
    assert len(before) == 3   # desc-fit .tsv and .json, the cached result
    bad.write_bytes(bad.read_bytes()[:2000])
    res = run_study(cohort, out, "participant", reports=False, force=True)
    assert res.n_failed == 1 and res.n_reused == 9
    assert not list(out.rglob(f"{stem}*"))
