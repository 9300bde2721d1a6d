"""The study database: migrations, models, replace-in-one-transaction, no identifying data."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import inspect, select

from pmlmrs.errors import StudyError
from pmlmrs.study.db import (
    Base,
    Exam,
    FitMeasure,
    FitSummary,
    Patient,
    Voxel,
    open_database,
    sha256_json,
)



def test_migrations_create_the_model_schema(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    db = open_database(db_url)
    try:
        tables = set(inspect(db.engine).get_table_names())
        assert {"run", "patient", "exam", "clinical_score", "stage", "voxel", "fit_summary", "fit_measure",
                "alembic_version"} <= tables
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], diff
        cols = {c["name"] for c in inspect(db.engine).get_columns("patient")}
        assert not any("name" in c and c != "participant_id" or "birth" in c for c in cols), cols
    finally:
        db.dispose()
    db2 = open_database(db_url)  # upgrade head again is a no-op
    assert db2.counts()["patient"] == 0
    db2.dispose()


def _row(value: float) -> dict:
    return {"spectrum": "sub-01_ses-01_voi-lesion_svs", "NAA": value, "NAA_crlb": 5.0, "Cr": 4.0, "Cr_crlb": 4.0,
            "tNAA_tCr": value / 4.0, "tNAA_tCr_sd": 0.1, "snr": 30.0, "fwhm_ppm": 0.05, "fit_quality": 1.1,
            "qc_pass": True, "error": ""}


def _voxel(db, s, exam, value: float, digest: str = "a" * 64, acq: str | None = "press", voi: str = "lesion"):
    return db.replace_voxel(
        s, exam, voi=voi, acq=acq, spectrum=f"sub-01_ses-01{'' if acq is None else '_acq-' + acq}_voi-{voi}_svs",
        path="/x.nii.gz",
        ref_path=None, svs_sha256="b" * 64, ref_sha256=None, settings_sha256="c" * 64, input_sha256=digest,
        status="ok", error=None, header={"n_points": 512}, outputs={}, row=_row(value), qc_items=[])


def test_patient_exam_stage_and_voxel_rows(db_url):
    db = open_database(db_url)
    try:
        with db.session() as s:
            p = db.upsert_patient(s, {"participant_id": "sub-01", "sex": "F", "pml_onset": dt.date(2014, 1, 10),
                                      "kps_pre": 90, "edss_pre": 2.5, "flags": []})
            e = db.upsert_exam(s, p, {"session_id": "ses-01", "acq_time": dt.date(2014, 3, 1), "kps": 70,
                                      "edss": 4.0, "lesion_enhancing": True, "delta_kps": -20.0})
            db.set_stage(s, e, stage="pre_iris", rule="rule 3", inputs={"acq_time": "2014-03-01"},
                         options={"early_months": 19}, review=False, run_id=None)
            _voxel(db, s, e, 8.0)
        counts = db.counts()
        assert counts["patient"] == 1 and counts["exam"] == 1 and counts["stage"] == 1
        assert counts["clinical_score"] == 4  # KPS/EDSS before PML and at the exam
        assert counts["voxel"] == 1 and counts["fit_summary"] == 1
        with db.session() as s:
            v = db.find_voxel(s, "sub-01", "ses-01", "lesion", "press")
            assert v.summary.tNAA_tCr == pytest.approx(2.0)
            assert db.summary_row(v)["NAA"] == 8.0
            names = {m.name: m for m in v.summary.measures}
            assert names["NAA"].crlb_percent == 5.0 and names["tNAA_tCr"].kind == "ratio"
            assert v.exam.stage.stage == "pre_iris" and v.exam.stage.inputs == {"acq_time": "2014-03-01"}
    finally:
        db.dispose()


def test_replace_voxel_is_atomic(db_url):
    db = open_database(db_url)
    try:
        with db.session() as s:
            p = db.upsert_patient(s, {"participant_id": "sub-01"})
            e = db.upsert_exam(s, p, {"session_id": "ses-01"})
            exam_id = e.id
            _voxel(db, s, e, 8.0)
        n_measures = db.counts()["fit_measure"]
        # A failure in the middle of a replacement leaves the old rows untouched.
        with pytest.raises(RuntimeError), db.session() as s:
            e = s.get(Exam, exam_id)
            _voxel(db, s, e, 6.0, digest="d" * 64)
            raise RuntimeError("crash between writes")
        with db.session() as s:
            v = db.find_voxel(s, "sub-01", "ses-01", "lesion", "press")
            assert v.input_sha256 == "a" * 64 and db.summary_row(v)["NAA"] == 8.0
        # A completed replacement swaps every row.
        with db.session() as s:
            _voxel(db, s, s.get(Exam, exam_id), 6.0, digest="d" * 64)
        with db.session() as s:
            assert s.scalars(select(Voxel)).one().input_sha256 == "d" * 64
            assert s.scalars(select(FitSummary)).one().row["NAA"] == 6.0
        assert db.counts()["fit_measure"] == n_measures
    finally:
        db.dispose()


def test_voxels_by_key_and_delete_missing(db_url):
    from sqlalchemy import event

    db = open_database(db_url)
    try:
        with db.session() as s:
            e = db.upsert_exam(s, db.upsert_patient(s, {"participant_id": "sub-01"}), {"session_id": "ses-01"})
            _voxel(db, s, e, 8.0)
        statements = []
        event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        with db.session() as s:
            by_key = db.voxels_by_key(s)
            assert list(by_key) == [("sub-01", "ses-01", "lesion", "press")]
            v = by_key[("sub-01", "ses-01", "lesion", "press")]
            assert v is db.find_voxel(s, "sub-01", "ses-01", "lesion", "press")
            n = len(statements)
            assert db.summary_row(v)["NAA"] == 8.0 and len(statements) == n  # summary loaded up front
            assert db.delete_missing(s, {("sub-01", "ses-01", "lesion", "press")})["voxels"] == 0
            gone = db.delete_missing(s, set())
            assert gone["voxels"] == 1 and gone["exams"] == [("sub-01", "ses-01")] and gone["patients"] == ["sub-01"]
        c = db.counts()
        assert c["voxel"] == 0 and c["fit_measure"] == 0 and c["exam"] == 0 and c["patient"] == 0
    finally:
        db.dispose()


def test_several_voxels_of_one_voi_per_exam(db_url):
    """Voxels are keyed by (exam, voi, acq): two lesions live side by side, each replaced and deleted
    on its own; a second voxel with the same voi and acq label (or the same voi and none) is refused."""
    from sqlalchemy.exc import IntegrityError

    db = open_database(db_url)
    try:
        with db.session() as s:
            e = db.upsert_exam(s, db.upsert_patient(s, {"participant_id": "sub-01"}), {"session_id": "ses-01"})
            exam_id = e.id
            _voxel(db, s, e, 8.0, acq="frontal")
            _voxel(db, s, e, 6.0, acq="parietal")
            _voxel(db, s, e, 9.0, acq=None, voi="nawm")
        with db.session() as s:
            _voxel(db, s, s.get(Exam, exam_id), 7.0, acq="parietal", digest="d" * 64)  # replaces only parietal
        with db.session() as s:
            by_key = db.voxels_by_key(s)
            assert set(by_key) == {("sub-01", "ses-01", "lesion", "frontal"), ("sub-01", "ses-01", "lesion", "parietal"),
                                   ("sub-01", "ses-01", "nawm", None)}
            assert db.summary_row(by_key[("sub-01", "ses-01", "lesion", "frontal")])["NAA"] == 8.0
            assert db.summary_row(db.find_voxel(s, "sub-01", "ses-01", "lesion", "parietal"))["NAA"] == 7.0
            assert db.find_voxel(s, "sub-01", "ses-01", "nawm").acq is None
            assert db.find_voxel(s, "sub-01", "ses-01", "lesion") is None  # no lesion without an acq label
        assert db.counts()["voxel"] == 3 and db.counts()["fit_summary"] == 3
        for acq, voi in (("frontal", "lesion"), (None, "nawm")):
            with pytest.raises(IntegrityError), db.session() as s:
                s.add(Voxel(exam_id=exam_id, voi=voi, acq=acq, spectrum="x", path="x", svs_sha256="b" * 64,
                            settings_sha256="c" * 64, input_sha256="a" * 64, status="ok", header={}, outputs={}))
        with db.session() as s:
            gone = db.delete_missing(s, {("sub-01", "ses-01", "lesion", "frontal"), ("sub-01", "ses-01", "nawm", None)})
            assert gone["voxels"] == 1 and gone["exams"] == [] and gone["patients"] == []
        with db.session() as s:
            assert set(db.voxels_by_key(s)) == {("sub-01", "ses-01", "lesion", "frontal"),
                                                ("sub-01", "ses-01", "nawm", None)}
        assert db.counts()["fit_summary"] == 2
    finally:
        db.dispose()


def test_upsert_patient_is_idempotent(db_url):
    db = open_database(db_url)
    try:
        for _ in range(2):
            with db.session() as s:
                db.upsert_patient(s, {"participant_id": "sub-01", "kps_pre": 90})
        assert db.counts()["patient"] == 1 and db.counts()["clinical_score"] == 1
        with db.session() as s:
            db.upsert_patient(s, {"participant_id": "sub-01", "kps_pre": 80})
        with db.session() as s:
            assert s.scalars(select(Patient)).one().kps_pre == 80
        assert db.counts()["clinical_score"] == 1
    finally:
        db.dispose()


def test_bad_url_is_a_study_error(tmp_path):
    with pytest.raises(StudyError, match="cannot open"):
        open_database("nosuchdialect://x")
    with pytest.raises(StudyError):
        open_database(f"sqlite:///{tmp_path}/missing/dir/x.db")


def test_default_sqlite_location(tmp_path):
    db = open_database(out_dir=tmp_path / "out")
    assert (tmp_path / "out" / "pmlmrs.db").exists()
    assert db.url.startswith("sqlite:///")
    db.dispose()
    assert len(sha256_json({"a": 1})) == 64
    _ = FitMeasure
