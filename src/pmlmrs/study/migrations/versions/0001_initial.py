"""Initial schema: run, patient, exam, clinical_score, stage, voxel, fit_summary, fit_measure.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

_RATIOS = ("tNAA_tCr", "tCho_tCr", "tNAA_tCho", "Ins_tCr", "Glx_tCr", "Lip_tCr", "Lip09_tCr", "Lip13_tCr")


def upgrade() -> None:
    op.create_table(
        "run",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime, nullable=True),
        sa.Column("software", sa.String(64), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("bids_dir", sa.Text, nullable=False),
        sa.Column("out_dir", sa.Text, nullable=False),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("inputs", sa.JSON, nullable=False),
        sa.Column("inputs_sha256", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("n_fitted", sa.Integer, nullable=False),
        sa.Column("n_reused", sa.Integer, nullable=False),
        sa.Column("n_failed", sa.Integer, nullable=False),
        sa.Column("problems", sa.JSON, nullable=False),
    )
    op.create_table(
        "patient",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("participant_id", sa.String(64), nullable=False),
        sa.Column("sex", sa.String(8), nullable=True),
        sa.Column("age", sa.Float, nullable=True),
        sa.Column("natalizumab_stop", sa.Date, nullable=True),
        sa.Column("pml_onset", sa.Date, nullable=True),
        sa.Column("pml_diagnosis", sa.Date, nullable=True),
        sa.Column("iris_onset", sa.Date, nullable=True),
        sa.Column("iris_end", sa.Date, nullable=True),
        sa.Column("csf_jcv", sa.String(64), nullable=True),
        sa.Column("kps_pre", sa.Integer, nullable=True),
        sa.Column("edss_pre", sa.Float, nullable=True),
        sa.Column("flags", sa.JSON, nullable=False),
        sa.Column("row_sha256", sa.String(64), nullable=False),
    )
    op.create_index("ix_patient_participant_id", "patient", ["participant_id"], unique=True)
    op.create_table(
        "exam",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("patient_id", sa.Integer, sa.ForeignKey("patient.id", ondelete="CASCADE"), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("acq_time", sa.Date, nullable=True),
        sa.Column("kps", sa.Integer, nullable=True),
        sa.Column("edss", sa.Float, nullable=True),
        sa.Column("lesion_enhancing", sa.Boolean, nullable=True),
        sa.Column("explicit_stage", sa.String(32), nullable=True),
        sa.Column("days_since_pml_onset", sa.Integer, nullable=True),
        sa.Column("delta_kps", sa.Float, nullable=True),
        sa.Column("delta_edss", sa.Float, nullable=True),
        sa.Column("scanner", sa.JSON, nullable=False),
        sa.Column("flags", sa.JSON, nullable=False),
        sa.Column("row_sha256", sa.String(64), nullable=False),
        sa.UniqueConstraint("patient_id", "session_id", name="uq_exam_session"),
    )
    op.create_index("ix_exam_patient_id", "exam", ["patient_id"])
    op.create_table(
        "clinical_score",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("patient_id", sa.Integer, sa.ForeignKey("patient.id", ondelete="CASCADE"), nullable=False),
        sa.Column("exam_id", sa.Integer, sa.ForeignKey("exam.id", ondelete="CASCADE"), nullable=True),
        sa.Column("scale", sa.String(8), nullable=False),
        sa.Column("timepoint", sa.String(16), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("date", sa.Date, nullable=True),
    )
    op.create_index("ix_clinical_score_patient_id", "clinical_score", ["patient_id"])
    op.create_table(
        "stage",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("exam_id", sa.Integer, sa.ForeignKey("exam.id", ondelete="CASCADE"), nullable=False,
                  unique=True),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("rule", sa.Text, nullable=False),
        sa.Column("inputs", sa.JSON, nullable=False),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("review", sa.Boolean, nullable=False),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("run.id", ondelete="SET NULL"), nullable=True),
    )
    op.create_index("ix_stage_stage", "stage", ["stage"])
    op.create_table(
        "voxel",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("exam_id", sa.Integer, sa.ForeignKey("exam.id", ondelete="CASCADE"), nullable=False),
        sa.Column("voi", sa.String(16), nullable=False),
        sa.Column("acq", sa.String(64), nullable=True),
        sa.Column("spectrum", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("ref_path", sa.Text, nullable=True),
        sa.Column("svs_sha256", sa.String(64), nullable=False),
        sa.Column("ref_sha256", sa.String(64), nullable=True),
        sa.Column("settings_sha256", sa.String(64), nullable=False),
        sa.Column("input_sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("header", sa.JSON, nullable=False),
        sa.Column("outputs", sa.JSON, nullable=False),
        sa.Column("fitted_at", sa.DateTime, nullable=False),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("run.id", ondelete="SET NULL"), nullable=True),
        sa.UniqueConstraint("exam_id", "voi", name="uq_voxel_voi"),
    )
    op.create_index("ix_voxel_exam_id", "voxel", ["exam_id"])
    op.create_index("ix_voxel_input_sha256", "voxel", ["input_sha256"])
    op.create_table(
        "fit_summary",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("voxel_id", sa.Integer, sa.ForeignKey("voxel.id", ondelete="CASCADE"), nullable=False,
                  unique=True),
        sa.Column("snr", sa.Float, nullable=True),
        sa.Column("fwhm_ppm", sa.Float, nullable=True),
        sa.Column("fit_quality", sa.Float, nullable=True),
        sa.Column("qc_pass", sa.Boolean, nullable=True),
        sa.Column("water_scaled", sa.Boolean, nullable=False),
        *[sa.Column(r, sa.Float, nullable=True) for r in _RATIOS],
        sa.Column("row", sa.JSON, nullable=False),
        sa.Column("columns", sa.JSON, nullable=False),
        sa.Column("qc_items", sa.JSON, nullable=False),
    )
    op.create_table(
        "fit_measure",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("fit_summary_id", sa.Integer, sa.ForeignKey("fit_summary.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("crlb_percent", sa.Float, nullable=True),
        sa.Column("sd", sa.Float, nullable=True),
        sa.UniqueConstraint("fit_summary_id", "name", name="uq_measure_name"),
    )
    op.create_index("ix_fit_measure_fit_summary_id", "fit_measure", ["fit_summary_id"])


def downgrade() -> None:
    for table in ("fit_measure", "fit_summary", "voxel", "stage", "clinical_score", "exam", "patient", "run"):
        op.drop_table(table)
