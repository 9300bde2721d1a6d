"""Alembic revision 0002 (voxel unique per exam, voi and acq) upgrades a database made at 0001 and
keeps every row."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from pmlmrs.study.db import Exam, Voxel, _upgrade, open_database

from .test_db import _voxel


def test_upgrade_from_0001_keeps_rows(db_url):
    old = open_database(db_url, upgrade=False)
    try:
        _upgrade(old.engine, "0001_initial")
        with old.session() as s:
            e = old.upsert_exam(s, old.upsert_patient(s, {"participant_id": "sub-01", "kps_pre": 90}),
                                {"session_id": "ses-01", "kps": 70})
            old.set_stage(s, e, stage="iris", rule="rule 2", inputs={}, options={}, review=False, run_id=None)
            exam_id = e.id
            _voxel(old, s, e, 8.0, acq="frontal")
            _voxel(old, s, e, 5.0, acq="press", voi="nawm")
        with pytest.raises(IntegrityError), old.session() as s:  # 0001: one voxel per voi
            _voxel(old, s, s.get(Exam, exam_id), 6.0, acq="parietal")
        before = old.counts()
    finally:
        old.dispose()
    assert before["voxel"] == 2 and before["fit_measure"] > 0

    db = open_database(db_url)  # upgrades to head
    try:
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0002_voxel_acq"
            if db.engine.dialect.name == "sqlite":  # switched off for the batch copy only
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert db.counts() == before
        with db.session() as s:
            v = db.find_voxel(s, "sub-01", "ses-01", "lesion", "frontal")
            assert v.summary is not None and db.summary_row(v)["NAA"] == 8.0 and len(v.summary.measures) > 0
            assert v.exam.stage.stage == "iris"
            _voxel(db, s, s.get(Exam, exam_id), 6.0, acq="parietal")  # now a second lesion voxel
        with db.session() as s:
            assert sorted(v.acq for v in s.scalars(select(Voxel).where(Voxel.voi == "lesion"))) == ["frontal",
                                                                                                   "parietal"]
        assert db.counts()["fit_summary"] == 3
        with pytest.raises(IntegrityError), db.session() as s:
            s.add(Voxel(exam_id=exam_id, voi="lesion", acq="frontal", spectrum="x", path="x", svs_sha256="b" * 64,
                        settings_sha256="c" * 64, input_sha256="a" * 64, status="ok", header={}, outputs={}))
    finally:
        db.dispose()
