"""Several voxels of one voi per exam: voxel unique per (exam, voi, acq) instead of (exam, voi).

A UNIQUE constraint never compares NULLs as equal (SQLite, PostgreSQL), so a partial unique index
keeps (exam, voi) unique among the voxels without an acq label. Rows are kept: on SQLite the batch
mode copies the voxel table (with the foreign keys off, see :func:`pmlmrs.study.db._upgrade`); on
PostgreSQL it is two ALTER TABLE statements and a CREATE UNIQUE INDEX ... WHERE.

The downgrade fails while an exam still holds two voxels of one voi.

Revision ID: 0002_voxel_acq
Revises: 0001_initial
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_voxel_acq"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

_NO_ACQ = sa.text("acq IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("voxel") as batch:
        batch.drop_constraint("uq_voxel_voi", type_="unique")
        batch.create_unique_constraint("uq_voxel_voi_acq", ["exam_id", "voi", "acq"])
    op.create_index("uq_voxel_voi_noacq", "voxel", ["exam_id", "voi"], unique=True, sqlite_where=_NO_ACQ,
                    postgresql_where=_NO_ACQ)


def downgrade() -> None:
    op.drop_index("uq_voxel_voi_noacq", table_name="voxel")
    with op.batch_alter_table("voxel") as batch:
        batch.drop_constraint("uq_voxel_voi_acq", type_="unique")
        batch.create_unique_constraint("uq_voxel_voi", ["exam_id", "voi"])
