"""The study: MRS-BIDS discovery, clinical tables, stage assignment, the database, the pipeline.

=====================  ===========================================================================
``discover``           find exams and voxels of an MRS-BIDS folder, read and check clinical tables
``read_participants``  participants.tsv with every problem as a StudyError (file, row, column)
``read_sessions``      sub-*_sessions.tsv likewise
``assign_stage``       STUDY.md stage rules (``StageOptions``): stage, rule text, inputs
``open_database``      SQLAlchemy database with Alembic migrations (SQLite by default)
``run_study``          ingest → fit (Dask) → database → group tables → statistics → reports
``import_vendor``      vendor files + a mapping table → an MRS-BIDS dataset
=====================  ===========================================================================

Submodules import pandas/SQLAlchemy; import them where needed.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "discover", "Study", "ExamInput", "VoxelInput", "Problem", "read_participants", "read_sessions",
    "StageOptions", "StageAssignment", "assign_stage", "STAGES", "ALL_STAGES",
    "open_database", "Database", "run_study", "RunResult", "import_vendor",
]

_LAZY = {
    "discover": "pmlmrs.study.bids", "Study": "pmlmrs.study.bids", "ExamInput": "pmlmrs.study.bids",
    "VoxelInput": "pmlmrs.study.bids", "Problem": "pmlmrs.study.clinical",
    "read_participants": "pmlmrs.study.clinical", "read_sessions": "pmlmrs.study.clinical",
    "StageOptions": "pmlmrs.study.stages", "StageAssignment": "pmlmrs.study.stages",
    "assign_stage": "pmlmrs.study.stages", "STAGES": "pmlmrs.study.stages", "ALL_STAGES": "pmlmrs.study.stages",
    "open_database": "pmlmrs.study.db", "Database": "pmlmrs.study.db", "run_study": "pmlmrs.study.pipeline",
    "RunResult": "pmlmrs.study.pipeline", "import_vendor": "pmlmrs.study.importer",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pmlmrs.study' has no attribute {name!r}")
