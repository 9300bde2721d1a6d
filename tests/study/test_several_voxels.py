"""An exam with two lesion voxels (acq-frontal, acq-parietal) and a NAWM voxel, end to end: fits,
database, voxels.tsv, exam-level statistics (mean of the lesion voxels), pages, reuse, removal and
failure of one voxel."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pmlmrs.study.pipeline import VOXEL_KEY_COLUMNS, run_study

from .conftest import private_copy, read_tsv

EXAM = ("sub-01", "ses-01")
LESIONS = {"frontal": "sub-01_ses-01_acq-frontal_voi-lesion_svs", "parietal": "sub-01_ses-01_acq-parietal_voi-lesion_svs"}


@pytest.fixture(scope="module")
def two_lesion_cohort(tiny_cohort, tmp_path_factory) -> Path:
    """The tiny demo cohort (3 patients, 5 exams) where sub-01/ses-01 has two lesion voxels: its own
    lesion as acq-frontal and, as acq-parietal, the lesion of sub-01/ses-02 (other ratios): 11 voxels."""
    root = tmp_path_factory.mktemp("cohort2") / "bids"
    shutil.copytree(tiny_cohort, root)
    mrs = root / "sub-01" / "ses-01" / "mrs"
    for suffix in ("svs", "mrsref"):
        (mrs / f"sub-01_ses-01_acq-press_voi-lesion_{suffix}.nii.gz").rename(
            mrs / f"sub-01_ses-01_acq-frontal_voi-lesion_{suffix}.nii.gz")
        shutil.copy(root / "sub-01" / "ses-02" / "mrs" / f"sub-01_ses-02_acq-press_voi-lesion_{suffix}.nii.gz",
                    mrs / f"sub-01_ses-01_acq-parietal_voi-lesion_{suffix}.nii.gz")
    return root


@pytest.fixture
def cohort(two_lesion_cohort, tmp_path) -> Path:
    return private_copy(two_lesion_cohort, tmp_path)


def exam_rows(df: pd.DataFrame) -> pd.DataFrame:
    return df[(df["participant_id"] == EXAM[0]) & (df["session_id"] == EXAM[1])]


def stored_acqs(out: Path) -> dict[str, list]:
    from pmlmrs.study.db import open_database

    db = open_database(None, out_dir=out)
    try:
        with db.session() as s:
            by_key = db.voxels_by_key(s)
            return {"keys": sorted((k[2], k[3]) for k in by_key if k[:2] == EXAM),
                    "summaries": [v.summary is not None for k, v in by_key.items() if k[:2] == EXAM],
                    "total": [len(by_key)]}
    finally:
        db.dispose()


def trace_names(html: str) -> set[str]:
    return set(re.findall(r'"name":"((?:lesion|NAWM)[^"]*)"', html))


def test_two_lesion_voxels_end_to_end(cohort, tmp_path):
    out = tmp_path / "deriv"
    res = run_study(cohort, out, "all")
    assert (res.n_exams, res.n_voxels, res.n_fitted, res.n_failed) == (5, 11, 11, 0) and res.missing == []
    assert not any("more than one" in p.message for p in res.problems)
    assert stored_acqs(out) == {"keys": [("lesion", "frontal"), ("lesion", "parietal"), ("nawm", "press")],
                                "summaries": [True] * 3, "total": [11]}
    mrs = out / "sub-01" / "ses-01" / "mrs"
    assert len(list(mrs.glob("*_desc-fit_svs.tsv"))) == 3 and len(list(mrs.glob("*_desc-fit_svs.json"))) == 3

    # voxels.tsv: DESIGN's columns, one row per voxel, told apart by spectrum
    vox = read_tsv(out / "group" / "voxels.tsv")
    assert list(vox.columns[:6]) == VOXEL_KEY_COLUMNS + ["spectrum"] and "acq" not in vox.columns
    assert len(vox) == 11
    mine = exam_rows(vox)
    assert sorted(mine["voi"]) == ["lesion", "lesion", "nawm"] and mine["spectrum"].is_unique
    les = mine[mine["voi"] == "lesion"].set_index("spectrum").loc[list(LESIONS.values())]
    assert les["Lip_tCr"].notna().all() and les["Lip_tCr"].iloc[0] != pytest.approx(les["Lip_tCr"].iloc[1], rel=0.05)

    # statistics: one row per exam, the lesion value the mean of its two voxels (SD of the mean)
    ln = exam_rows(read_tsv(out / "group" / "lesion_nawm.tsv")).iloc[0]
    assert (ln["n_lesion"], ln["n_nawm"]) == (2, 1)
    for r in ("Lip_tCr", "tCho_tCr", "tNAA_tCr"):
        assert ln[f"{r}_lesion"] == pytest.approx(les[r].mean(), rel=1e-4)
        assert ln[f"{r}_lesion_sd"] == pytest.approx(np.sqrt((les[f"{r}_sd"] ** 2).sum()) / 2, rel=1e-3)
    nawm = mine[mine["voi"] == "nawm"].iloc[0]
    assert ln["Lip_tCr_quotient"] == pytest.approx(les["Lip_tCr"].mean() / nawm["Lip_tCr"], rel=1e-3)
    iris = read_tsv(out / "group" / "iris.tsv")
    assert len(iris) == 5 and len(exam_rows(iris)) == 1
    counts = read_tsv(out / "group" / "stage_counts.tsv").set_index("stage")
    assert counts.loc["total", "n_lesion_voxels"] == 6 and counts.loc["total", "n_exams"] == 5

    # pages: every voxel on the exam page, one lesion line per acq label on the timeline
    page = (out / "sub-01" / "ses-01" / "sub-01_ses-01_report.html").read_text(encoding="utf-8")
    assert "lesion (frontal)" in page and "lesion (parietal)" in page and page.count("<svg") >= 3
    assert "This exam has 2 lesion voxels (frontal, parietal)" in page
    other = (out / "sub-01" / "ses-02" / "sub-01_ses-02_report.html").read_text(encoding="utf-8")
    assert "lesion (" not in other and "This exam has" not in other
    timeline = (out / "sub-01" / "sub-01_timeline.html").read_text(encoding="utf-8")
    assert {"lesion (frontal)", "lesion (parietal)", "lesion (press)", "NAWM"} <= trace_names(timeline)
    assert "lesion (" not in "".join(trace_names((out / "sub-02" / "sub-02_timeline.html").read_text()))
    assert "counts each of them" in (out / "group" / "report.html").read_text(encoding="utf-8")

    # rerun: nothing refitted
    again = run_study(cohort, out, "all", force=True)
    assert (again.n_fitted, again.n_reused, again.n_failed) == (0, 11, 0)

    # one lesion file removed: its rows and outputs go, the other voxels are reused
    cache = list((out / ".pmlmrs_cache").rglob("*parietal*"))
    assert len(cache) == 1
    for p in cohort.glob("sub-01/ses-01/mrs/*acq-parietal*"):
        p.unlink()
    third = run_study(cohort, out, "all", force=True)
    assert (third.n_voxels, third.n_fitted, third.n_reused) == (10, 0, 10)
    assert stored_acqs(out) == {"keys": [("lesion", "frontal"), ("nawm", "press")], "summaries": [True] * 2,
                                "total": [10]}
    assert not list(out.rglob("*parietal*"))
    vox = read_tsv(out / "group" / "voxels.tsv")
    assert len(vox) == 10 and list(exam_rows(vox)["spectrum"]).count(LESIONS["parietal"]) == 0
    ln = exam_rows(read_tsv(out / "group" / "lesion_nawm.tsv")).iloc[0]
    assert ln["n_lesion"] == 1 and ln["Lip_tCr_lesion"] == pytest.approx(les["Lip_tCr"].iloc[0], rel=1e-4)
    page = (out / "sub-01" / "ses-01" / "sub-01_ses-01_report.html").read_text(encoding="utf-8")
    assert "parietal" not in page and "This exam has" not in page


def test_one_failed_lesion_voxel_of_two(cohort, tmp_path):
    """The broken parietal voxel fails alone: recorded with its acq label, shown on the exam page;
    the frontal voxel carries the exam's lesion values."""
    (cohort / "sub-01" / "ses-01" / "mrs" / f"{LESIONS['parietal']}.nii.gz").write_bytes(b"not a NIfTI file")
    out = tmp_path / "deriv"
    res = run_study(cohort, out, "all")
    assert (res.n_fitted, res.n_failed) == (10, 1)
    failed = [p for p in res.problems if p.level == "error" and "processing failed" in p.message]
    assert len(failed) == 1 and "acq-parietal" in failed[0].message and failed[0].voi == "lesion"
    assert failed[0].acq == "parietal"
    problems = read_tsv(out / "group" / "problems.tsv")
    row = problems[problems["message"].str.contains("processing failed")]
    assert list(row["voi"]) == ["lesion"] and list(row["acq"]) == ["parietal"]
    vox = exam_rows(read_tsv(out / "group" / "voxels.tsv")).set_index("spectrum")
    assert vox.loc[LESIONS["parietal"], "error"] and pd.isna(vox.loc[LESIONS["parietal"], "Lip_tCr"])
    ln = exam_rows(read_tsv(out / "group" / "lesion_nawm.tsv")).iloc[0]
    assert ln["Lip_tCr_lesion"] == pytest.approx(vox.loc[LESIONS["frontal"], "Lip_tCr"], rel=1e-4)
    page = (out / "sub-01" / "ses-01" / "sub-01_ses-01_report.html").read_text(encoding="utf-8")
    assert "lesion (parietal): processing failed" in page and "lesion (frontal)" in page
    timeline = (out / "sub-01" / "sub-01_timeline.html").read_text(encoding="utf-8")
    assert "lesion (parietal): failed" in timeline
    report = (out / "group" / "report.html").read_text(encoding="utf-8")
    assert "lesion (parietal)" in report
    # a fixed file refits that voxel only
    shutil.copy(cohort / "sub-01" / "ses-02" / "mrs" / "sub-01_ses-02_acq-press_voi-lesion_svs.nii.gz",
                cohort / "sub-01" / "ses-01" / "mrs" / f"{LESIONS['parietal']}.nii.gz")
    again = run_study(cohort, out, "participant", reports=False, force=True)
    assert (again.n_fitted, again.n_reused, again.n_failed) == (1, 10, 0)
