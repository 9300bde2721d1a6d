"""The study database: SQLAlchemy 2.0 ORM models, opening with Alembic migrations, idempotent writes.

Tables (see the Alembic revisions ``0001_initial`` and ``0002_voxel_acq`` in :mod:`pmlmrs.study.migrations`):

============== =====================================================================================
run            one ``pmlmrs run``: software version, options, input summary, start/end, counts, status
patient        pseudonymous participant_id, sex, age, the PML/IRIS/natalizumab dates, KPS/EDSS pre
exam           one session: date, KPS, EDSS, enhancement, explicit stage, days since onset, deltas
clinical_score one KPS or EDSS value (before PML or at an exam), tidy
stage          the stage of an exam with its rule text, the inputs (JSON) and the stage options
voxel          one spectrum: voi, acq, paths, SHA-256 of the files and of the fit settings, status;
               unique per (exam, voi, acq): an exam may have several lesion voxels (acq labels)
fit_summary    the summary.tsv row of a voxel: QC columns and ratios as columns, every value (JSON)
fit_measure    tidy amplitudes / combinations / ratios with CRLB (%) or SD, one row per measure
============== =====================================================================================

Names and birth dates are never stored: patient has no column for them.

Writes go through :func:`session_scope` (one transaction; rolled back on any error), so a voxel's
rows are replaced all at once or not at all.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    select,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    joinedload,
    mapped_column,
    relationship,
    selectinload,
    sessionmaker,
)

from pmlmrs.errors import StudyError

__all__ = [
    "Base",
    "Run",
    "Patient",
    "Exam",
    "ClinicalScore",
    "Stage",
    "Voxel",
    "FitSummary",
    "FitMeasure",
    "RATIO_COLUMNS",
    "Database",
    "open_database",
    "default_url",
    "sha256_text",
    "sha256_json",
    "MIGRATIONS",
]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: The summary.tsv ratio columns stored as real columns of fit_summary (for SQL queries).
RATIO_COLUMNS = ("tNAA_tCr", "tCho_tCr", "tNAA_tCho", "Ins_tCr", "Glx_tCr", "Lip_tCr", "Lip09_tCr", "Lip13_tCr")


def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)


def sha256_text(text: str) -> str:
    """SHA-256 hex of a text (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_json(obj: Any) -> str:
    """SHA-256 of the canonical JSON of *obj* (sorted keys)."""
    return sha256_text(json.dumps(obj, sort_keys=True, default=str, separators=(",", ":")))


class Base(DeclarativeBase):
    """Declarative base of every pmlmrs table."""

    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Run(Base):
    """One ``pmlmrs run`` (provenance)."""

    __tablename__ = "run"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[_dt.datetime] = mapped_column(DateTime, default=_utcnow)
    finished_at: Mapped[_dt.datetime | None] = mapped_column(DateTime, nullable=True)
    software: Mapped[str] = mapped_column(String(64), default="pmlmrs")
    version: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(16))
    bids_dir: Mapped[str] = mapped_column(Text)
    out_dir: Mapped[str] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    inputs_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="running")
    n_fitted: Mapped[int] = mapped_column(Integer, default=0)
    n_reused: Mapped[int] = mapped_column(Integer, default=0)
    n_failed: Mapped[int] = mapped_column(Integer, default=0)
    problems: Mapped[list[Any]] = mapped_column(JSON, default=list)


class Patient(Base):
    """A participant (pseudonymous id only; never a name or birth date)."""

    __tablename__ = "patient"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    sex: Mapped[str | None] = mapped_column(String(8), nullable=True)
    age: Mapped[float | None] = mapped_column(Float, nullable=True)
    natalizumab_stop: Mapped[_dt.date | None] = mapped_column(Date, nullable=True)
    pml_onset: Mapped[_dt.date | None] = mapped_column(Date, nullable=True)
    pml_diagnosis: Mapped[_dt.date | None] = mapped_column(Date, nullable=True)
    iris_onset: Mapped[_dt.date | None] = mapped_column(Date, nullable=True)
    iris_end: Mapped[_dt.date | None] = mapped_column(Date, nullable=True)
    csf_jcv: Mapped[str | None] = mapped_column(String(64), nullable=True)
    kps_pre: Mapped[int | None] = mapped_column(Integer, nullable=True)
    edss_pre: Mapped[float | None] = mapped_column(Float, nullable=True)
    flags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    row_sha256: Mapped[str] = mapped_column(String(64))
    exams: Mapped[list[Exam]] = relationship(back_populates="patient", cascade="all, delete-orphan")
    scores: Mapped[list[ClinicalScore]] = relationship(back_populates="patient", cascade="all, delete-orphan")


class Exam(Base):
    """One MRS session."""

    __tablename__ = "exam"
    __table_args__ = (UniqueConstraint("patient_id", "session_id", name="uq_exam_session"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[str] = mapped_column(String(64))
    acq_time: Mapped[_dt.date | None] = mapped_column(Date, nullable=True)
    kps: Mapped[int | None] = mapped_column(Integer, nullable=True)
    edss: Mapped[float | None] = mapped_column(Float, nullable=True)
    lesion_enhancing: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    explicit_stage: Mapped[str | None] = mapped_column(String(32), nullable=True)
    days_since_pml_onset: Mapped[int | None] = mapped_column(Integer, nullable=True)
    delta_kps: Mapped[float | None] = mapped_column(Float, nullable=True)
    delta_edss: Mapped[float | None] = mapped_column(Float, nullable=True)
    scanner: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    flags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    row_sha256: Mapped[str] = mapped_column(String(64))
    patient: Mapped[Patient] = relationship(back_populates="exams")
    voxels: Mapped[list[Voxel]] = relationship(back_populates="exam", cascade="all, delete-orphan")
    stage: Mapped[Stage | None] = relationship(back_populates="exam", cascade="all, delete-orphan",
                                               uselist=False)


class ClinicalScore(Base):
    """One KPS or EDSS value: ``timepoint`` is ``pre_pml`` (about a year before PML) or ``exam``."""

    __tablename__ = "clinical_score"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    exam_id: Mapped[int | None] = mapped_column(ForeignKey("exam.id", ondelete="CASCADE"), nullable=True)
    scale: Mapped[str] = mapped_column(String(8))
    timepoint: Mapped[str] = mapped_column(String(16))
    value: Mapped[float] = mapped_column(Float)
    date: Mapped[_dt.date | None] = mapped_column(Date, nullable=True)
    patient: Mapped[Patient] = relationship(back_populates="scores")


class Stage(Base):
    """The stage of an exam with the rule that set it and the inputs the rule read."""

    __tablename__ = "stage"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exam.id", ondelete="CASCADE"), unique=True)
    stage: Mapped[str] = mapped_column(String(32), index=True)
    rule: Mapped[str] = mapped_column(Text)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    review: Mapped[bool] = mapped_column(Boolean, default=False)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("run.id", ondelete="SET NULL"), nullable=True)
    exam: Mapped[Exam] = relationship(back_populates="stage")


class Voxel(Base):
    """One spectrum of an exam, with the content hashes that decide whether it is refitted.

    (exam, voi, acq) is unique; as NULLs never collide in a UNIQUE constraint, a partial unique index
    keeps (exam, voi) unique among the voxels without an acq label.
    """

    __tablename__ = "voxel"
    __table_args__ = (
        UniqueConstraint("exam_id", "voi", "acq", name="uq_voxel_voi_acq"),
        Index("uq_voxel_voi_noacq", "exam_id", "voi", unique=True, sqlite_where=text("acq IS NULL"),
              postgresql_where=text("acq IS NULL")),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exam.id", ondelete="CASCADE"), index=True)
    voi: Mapped[str] = mapped_column(String(16))
    acq: Mapped[str | None] = mapped_column(String(64), nullable=True)
    spectrum: Mapped[str] = mapped_column(Text)
    path: Mapped[str] = mapped_column(Text)
    ref_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    svs_sha256: Mapped[str] = mapped_column(String(64))
    ref_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    settings_sha256: Mapped[str] = mapped_column(String(64))
    input_sha256: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    header: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    outputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    fitted_at: Mapped[_dt.datetime] = mapped_column(DateTime, default=_utcnow)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("run.id", ondelete="SET NULL"), nullable=True)
    exam: Mapped[Exam] = relationship(back_populates="voxels")
    summary: Mapped[FitSummary | None] = relationship(back_populates="voxel", cascade="all, delete-orphan",
                                                      uselist=False)


class FitSummary(Base):
    """The summary.tsv row of a voxel."""

    __tablename__ = "fit_summary"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    voxel_id: Mapped[int] = mapped_column(ForeignKey("voxel.id", ondelete="CASCADE"), unique=True)
    snr: Mapped[float | None] = mapped_column(Float, nullable=True)
    fwhm_ppm: Mapped[float | None] = mapped_column(Float, nullable=True)
    fit_quality: Mapped[float | None] = mapped_column(Float, nullable=True)
    qc_pass: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    water_scaled: Mapped[bool] = mapped_column(Boolean, default=False)
    tNAA_tCr: Mapped[float | None] = mapped_column(Float, nullable=True)
    tCho_tCr: Mapped[float | None] = mapped_column(Float, nullable=True)
    tNAA_tCho: Mapped[float | None] = mapped_column(Float, nullable=True)
    Ins_tCr: Mapped[float | None] = mapped_column(Float, nullable=True)
    Glx_tCr: Mapped[float | None] = mapped_column(Float, nullable=True)
    Lip_tCr: Mapped[float | None] = mapped_column(Float, nullable=True)
    Lip09_tCr: Mapped[float | None] = mapped_column(Float, nullable=True)
    Lip13_tCr: Mapped[float | None] = mapped_column(Float, nullable=True)
    row: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    columns: Mapped[list[Any]] = mapped_column(JSON, default=list)
    qc_items: Mapped[list[Any]] = mapped_column(JSON, default=list)
    voxel: Mapped[Voxel] = relationship(back_populates="summary")
    measures: Mapped[list[FitMeasure]] = relationship(back_populates="summary", cascade="all, delete-orphan")


class FitMeasure(Base):
    """One amplitude, combination or ratio of a fit: value with its CRLB (%) or SD."""

    __tablename__ = "fit_measure"
    __table_args__ = (UniqueConstraint("fit_summary_id", "name", name="uq_measure_name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fit_summary_id: Mapped[int] = mapped_column(ForeignKey("fit_summary.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    crlb_percent: Mapped[float | None] = mapped_column(Float, nullable=True)
    sd: Mapped[float | None] = mapped_column(Float, nullable=True)
    summary: Mapped[FitSummary] = relationship(back_populates="measures")


def default_url(out_dir: str | os.PathLike) -> str:
    """``sqlite:///OUT_DIR/pmlmrs.db``."""
    return "sqlite:///" + str(Path(out_dir).resolve() / "pmlmrs.db")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _upgrade(engine: Engine, revision: str = "head") -> None:
    """``alembic upgrade`` on one connection. On SQLite the foreign keys are off meanwhile: a batch
    migration drops and recreates a table, and that DROP would fire ON DELETE CASCADE on the rows
    referring to it (a voxel's fit_summary and fit_measure rows); it ends with a foreign key check."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        if sqlite:  # a no-op inside a transaction: set before it begins
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
        try:
            with conn.begin():
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
                if sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                    raise StudyError("the migrated database fails its foreign key check (nothing committed)")
        finally:
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()


def _float(v: Any) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _jsonable_row(row: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in row.items():
        if isinstance(v, bool) or v is None or isinstance(v, str):
            out[k] = v
        elif hasattr(v, "item"):
            v = v.item()
            out[k] = v if not isinstance(v, float) or math.isfinite(v) else (
                None if math.isnan(v) else ("inf" if v > 0 else "-inf"))
        elif isinstance(v, float):
            out[k] = v if math.isfinite(v) else (None if math.isnan(v) else ("inf" if v > 0 else "-inf"))
        elif isinstance(v, int):
            out[k] = v
        else:
            out[k] = str(v)
    return out


def _row_value(v: Any) -> Any:
    if v == "inf":
        return math.inf
    if v == "-inf":
        return -math.inf
    return v


def _acq_is(acq: str | None) -> Any:
    """``voxel.acq = acq``, or ``IS NULL`` for no acq label."""
    return Voxel.acq.is_(None) if acq is None else Voxel.acq == acq


def _keyed_voxels() -> Any:
    """``SELECT voxel, participant_id, session_id`` over every stored voxel."""
    return select(Voxel, Patient.participant_id, Exam.session_id).join(Voxel.exam).join(Exam.patient)


class Database:
    """An opened study database (see :func:`open_database`).

    Attributes
    ----------
    url : str
    engine : Engine
    """

    def __init__(self, url: str, engine: Engine) -> None:
        self.url = url
        self.engine = engine
        self._factory = sessionmaker(engine, expire_on_commit=False)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back on any exception."""
        s = self._factory()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    # ---- runs ---------------------------------------------------------------------------------
    def start_run(self, **values: Any) -> int:
        """Insert a run row (status "running"); returns its id."""
        from pmlmrs import __version__

        with self.session() as s:
            run = Run(version=__version__, **values)
            s.add(run)
            s.flush()
            return int(run.id)

    def finish_run(self, run_id: int, *, status: str, **counts: Any) -> None:
        """Set the end time, status and counts of a run."""
        with self.session() as s:
            run = s.get(Run, run_id)
            if run is None:
                raise StudyError(f"run {run_id} not found in {self.url}")
            run.finished_at = _utcnow()
            run.status = status
            for k, v in counts.items():
                setattr(run, k, v)

    # ---- patients, exams, stages ----------------------------------------------------------------
    def upsert_patient(self, s: Session, values: Mapping[str, Any]) -> Patient:
        """Insert or update a patient (known columns only) and its pre-PML scores."""
        cols = ("sex", "age", "natalizumab_stop", "pml_onset", "pml_diagnosis", "iris_onset", "iris_end",
                "csf_jcv", "kps_pre", "edss_pre")
        clean = {c: values.get(c) for c in cols}
        clean["csf_jcv"] = None if clean["csf_jcv"] is None else str(clean["csf_jcv"])
        digest = sha256_json({**clean, "flags": list(values.get("flags") or [])})
        p = s.scalars(select(Patient).where(Patient.participant_id == values["participant_id"])).one_or_none()
        if p is None:
            p = Patient(participant_id=values["participant_id"], row_sha256="")
            s.add(p)
        if p.row_sha256 != digest:
            for c, v in clean.items():
                setattr(p, c, v)
            p.flags = list(values.get("flags") or [])
            p.row_sha256 = digest
            for sc in [sc for sc in p.scores if sc.timepoint == "pre_pml"]:
                p.scores.remove(sc)
            for scale, key in (("kps", "kps_pre"), ("edss", "edss_pre")):
                if clean[key] is not None:
                    p.scores.append(ClinicalScore(scale=scale, timepoint="pre_pml", value=float(clean[key])))
        s.flush()
        return p

    def upsert_exam(self, s: Session, patient: Patient, values: Mapping[str, Any]) -> Exam:
        """Insert or update an exam and its scores."""
        cols = ("acq_time", "kps", "edss", "lesion_enhancing", "explicit_stage", "days_since_pml_onset",
                "delta_kps", "delta_edss")
        clean = {c: values.get(c) for c in cols}
        digest = sha256_json({**clean, "flags": list(values.get("flags") or []),
                              "scanner": values.get("scanner") or {}})
        e = s.scalars(select(Exam).options(joinedload(Exam.stage))
                      .where(Exam.patient_id == patient.id, Exam.session_id == values["session_id"])).one_or_none()
        if e is None:
            e = Exam(patient=patient, session_id=values["session_id"], row_sha256="")
            s.add(e)
            s.flush()
        if e.row_sha256 != digest:
            for c, v in clean.items():
                setattr(e, c, v)
            e.flags = list(values.get("flags") or [])
            if values.get("scanner"):
                e.scanner = dict(values["scanner"])
            e.row_sha256 = digest
            old = s.scalars(select(ClinicalScore).where(ClinicalScore.exam_id == e.id)).all()
            for sc in old:
                s.delete(sc)
            for scale in ("kps", "edss"):
                if clean[scale] is not None:
                    s.add(ClinicalScore(patient=patient, exam_id=e.id, scale=scale, timepoint="exam",
                                        value=float(clean[scale]), date=clean["acq_time"]))
        s.flush()
        return e

    def set_stage(self, s: Session, exam: Exam, *, stage: str, rule: str, inputs: Mapping[str, Any],
                  options: Mapping[str, Any], review: bool, run_id: int | None) -> Stage:
        """Store (replace) the stage of an exam."""
        st = exam.stage
        if st is None:
            st = Stage(exam=exam, stage=stage, rule=rule)
            s.add(st)
        st.stage, st.rule, st.inputs, st.options, st.review = stage, rule, dict(inputs), dict(options), bool(review)
        st.run_id = run_id
        s.flush()
        return st

    # ---- voxels -------------------------------------------------------------------------------
    def find_voxel(self, s: Session, participant_id: str, session_id: str, voi: str,
                   acq: str | None = None) -> Voxel | None:
        """The stored voxel of (participant, session, voi, acq), if any (``acq=None``: the voxel
        without an acq label)."""
        q = (select(Voxel).join(Exam).join(Patient)
             .where(Patient.participant_id == participant_id, Exam.session_id == session_id, Voxel.voi == voi,
                    _acq_is(acq)))
        return s.scalars(q).one_or_none()

    def voxels_by_key(self, s: Session) -> dict[tuple[str, str, str, str | None], Voxel]:
        """Every stored voxel by (participant, session, voi, acq), its fit summary loaded (two queries
        in all)."""
        q = _keyed_voxels().options(selectinload(Voxel.summary))
        return {(pid, sid, v.voi, v.acq): v for v, pid, sid in s.execute(q)}

    def replace_voxel(self, s: Session, exam: Exam, *, voi: str, acq: str | None, spectrum: str, path: str,
                      ref_path: str | None, svs_sha256: str, ref_sha256: str | None, settings_sha256: str,
                      input_sha256: str, status: str, error: str | None, header: Mapping[str, Any],
                      outputs: Mapping[str, Any], row: Mapping[str, Any] | None,
                      columns: list[str] | None = None, qc_items: list[Any] | None = None,
                      water_scaled: bool = False, run_id: int | None = None) -> Voxel:
        """Replace every row of one voxel, (exam, voi, acq) (voxel, fit_summary, fit_measure), inside
        session *s*."""
        old = s.scalars(select(Voxel).where(Voxel.exam_id == exam.id, Voxel.voi == voi, _acq_is(acq))).one_or_none()
        if old is not None:
            s.delete(old)
            s.flush()
        v = Voxel(exam_id=exam.id, voi=voi, acq=acq, spectrum=spectrum, path=path, ref_path=ref_path,
                  svs_sha256=svs_sha256, ref_sha256=ref_sha256, settings_sha256=settings_sha256,
                  input_sha256=input_sha256, status=status, error=error, header=dict(header),
                  outputs=dict(outputs), run_id=run_id)
        s.add(v)
        s.flush()
        if row is not None:
            jrow = _jsonable_row(row)
            fs = FitSummary(voxel_id=v.id, snr=_float(row.get("snr")), fwhm_ppm=_float(row.get("fwhm_ppm")),
                            fit_quality=_float(row.get("fit_quality")),
                            qc_pass=None if row.get("qc_pass") is None else bool(row.get("qc_pass")),
                            water_scaled=bool(water_scaled), row=jrow,
                            columns=list(columns or row.keys()), qc_items=list(qc_items or []))
            for r in RATIO_COLUMNS:
                setattr(fs, r, _float(row.get(r)))
            s.add(fs)
            s.flush()
            for k, val in row.items():
                if k in ("spectrum", "error", "qc_pass", "snr", "fwhm_ppm", "fit_quality") or k.endswith(
                        ("_crlb", "_sd")):
                    continue
                kind = "ratio" if k in RATIO_COLUMNS or f"{k}_sd" in row else "amplitude"
                s.add(FitMeasure(fit_summary_id=fs.id, name=k, kind=kind, value=_float(val),
                                 crlb_percent=_float(row.get(f"{k}_crlb")), sd=_float(row.get(f"{k}_sd"))))
            s.flush()
        return v

    def summary_row(self, voxel: Voxel) -> dict[str, Any] | None:
        """The stored summary.tsv row of a voxel, in its column order (inf restored)."""
        if voxel.summary is None:
            return None
        row = voxel.summary.row
        cols = voxel.summary.columns or list(row)
        return {c: _row_value(row.get(c)) for c in cols}

    def delete_missing(self, s: Session, keep: set[tuple[str, str, str, str | None]]) -> dict[str, Any]:
        """Delete the voxels whose (participant, session, voi, acq) is not in *keep* (a file removed
        from the dataset), then the exams and patients left without any kept voxel (a subject or
        session removed).

        Returns
        -------
        dict
            ``voxels`` (count), ``outputs`` (the deleted voxels' output paths, relative to the
            output folder), ``exams`` ((participant, session) pairs) and ``patients`` (ids) deleted.
        """
        gone = [(v, pid, sid) for v, pid, sid in s.execute(_keyed_voxels()) if (pid, sid, v.voi, v.acq) not in keep]
        outputs = [str(p) for v, _, _ in gone for p in (v.outputs or {}).values()]
        for v, _, _ in gone:
            s.delete(v)
        s.flush()
        kept_exams = {(pid, sid) for pid, sid, *_ in keep}
        kept_patients = {pid for pid, *_ in keep}
        exams = [(e, pid) for e, pid in s.execute(select(Exam, Patient.participant_id).join(Exam.patient))
                 if (pid, e.session_id) not in kept_exams]
        for e, _ in exams:
            s.delete(e)
        patients = [p for p in s.scalars(select(Patient)) if p.participant_id not in kept_patients]
        for p in patients:
            s.delete(p)
        s.flush()
        return {"voxels": len(gone), "outputs": outputs, "exams": [(pid, e.session_id) for e, pid in exams],
                "patients": [p.participant_id for p in patients]}

    def counts(self) -> dict[str, int]:
        """Rows per table."""
        from sqlalchemy import func

        out = {}
        with self.session() as s:
            for model in (Run, Patient, Exam, ClinicalScore, Stage, Voxel, FitSummary, FitMeasure):
                out[model.__tablename__] = int(s.scalar(select(func.count()).select_from(model)) or 0)
        return out


def open_database(url: str | None = None, *, out_dir: str | os.PathLike | None = None,
                  upgrade: bool = True) -> Database:
    """Open (creating if needed) the study database and migrate it to the newest schema.

    Parameters
    ----------
    url : str, optional
        Any SQLAlchemy URL (``sqlite:///path.db``, ``postgresql+psycopg2://user@host/db``). Default:
        ``sqlite:///OUT_DIR/pmlmrs.db``.
    out_dir : path, optional
        Where the default SQLite file goes.
    upgrade : bool
        Run ``alembic upgrade head`` (default True).

    Raises
    ------
    StudyError
        When the database cannot be opened or migrated (the message names the URL, password hidden).
    """
    from sqlalchemy.exc import SQLAlchemyError

    if url is None:
        if out_dir is None:
            raise StudyError("open_database needs a URL or an output folder")
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        url = default_url(out_dir)
    try:
        engine = create_engine(url, future=True)
    except (SQLAlchemyError, ValueError, ImportError) as exc:
        raise StudyError(f"cannot open database {url!r}: {exc}") from exc
    shown = engine.url.render_as_string(hide_password=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        if upgrade:
            _upgrade(engine)
    except (SQLAlchemyError, StudyError) as exc:
        engine.dispose()
        raise StudyError(f"cannot open or migrate database {shown}: {exc}".splitlines()[0]) from exc
    return Database(shown, engine)
