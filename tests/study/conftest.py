"""Helpers for the study tests: tiny MRS-BIDS folders written from scratch."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="session")
def tiny_cohort(tmp_path_factory) -> Path:
    """The demo generator's tiny cohort: 3 patients, 5 exams, 10 voxels (one exam raw coil x dyn),
    512 points. Shared: copy it (``cohort``) before changing files."""
    from pmlmrs.demo import make_demo_cohort

    root = tmp_path_factory.mktemp("cohort") / "bids"
    c = make_demo_cohort(root, n_patients=3, n_points=512, raw_every=4, dyns=8, seed=7)
    assert (c.n_exams, c.n_voxels) == (5, 10) and c.n_raw == 2
    return root


def private_copy(cohort_dir: Path, tmp_path: Path) -> Path:
    """A copy of a shared cohort for one test (tests change files)."""
    return Path(shutil.copytree(cohort_dir, tmp_path / "bids"))


@pytest.fixture
def cohort(tiny_cohort, tmp_path) -> Path:
    """A private copy of ``tiny_cohort``."""
    return private_copy(tiny_cohort, tmp_path)


def read_tsv(path: Path) -> pd.DataFrame:
    """A pmlmrs TSV with n/a as missing."""
    return pd.read_csv(path, sep="\t", na_values=["n/a"], keep_default_na=False)


def write_tsv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(["\t".join(header)] + ["\t".join(r) for r in rows]) + "\n", encoding="utf-8")
    return path


def write_spectrum(path: Path, rng: np.random.Generator, n: int = 256) -> Path:
    """A small noise-only NIfTI-MRS file (enough for discovery tests, not for fitting)."""
    from pmlmrs.core import Header, Spectrum
    from pmlmrs.io import save

    path.parent.mkdir(parents=True, exist_ok=True)
    data = rng.normal(size=n) + 1j * rng.normal(size=n)
    save(Spectrum(data, Header(123.2, 2.5e-4, echo_time=0.03)), path, force=True)
    return path


@pytest.fixture
def tiny_layout(tmp_path: Path, rng: np.random.Generator) -> Path:
    """Two patients; sub-01 with two sessions, sub-02 with one session lacking NAWM and an odd voi."""
    root = tmp_path / "bids"
    root.mkdir()
    (root / "dataset_description.json").write_text(json.dumps({"Name": "t", "BIDSVersion": "1.9.0"}))
    write_tsv(root / "participants.tsv",
              ["participant_id", "sex", "age", "pml_onset", "pml_diagnosis", "natalizumab_stop", "iris_onset",
               "iris_end", "kps_pre", "edss_pre"],
              [["sub-01", "F", "40", "2014-01-10", "2014-02-01", "2014-02-02", "2014-03-15", "2014-06-01", "90",
                "2.5"],
               ["sub-02", "M", "35", "2015-01-10", "2015-02-01", "2015-02-03", "n/a", "n/a", "100", "3.0"]])
    write_tsv(root / "sub-01" / "sub-01_sessions.tsv", ["session_id", "acq_time", "kps", "edss", "lesion_enhancing"],
              [["ses-01", "2014-03-01", "70", "4.0", "false"], ["ses-02", "2014-04-01T10:30:00", "50", "5.5",
                                                                  "true"],
               ["ses-03", "2014-09-01", "60", "5.0", "false"]])
    write_tsv(root / "sub-02" / "sub-02_sessions.tsv", ["session_id", "acq_time", "kps", "edss", "lesion_enhancing"],
              [["ses-01", "2015-05-01", "80", "3.5", "n/a"]])
    for ses in ("ses-01", "ses-02"):
        mrs = root / "sub-01" / ses / "mrs"
        for voi in ("lesion", "nawm"):
            write_spectrum(mrs / f"sub-01_{ses}_acq-press_voi-{voi}_svs.nii.gz", rng)
            write_spectrum(mrs / f"sub-01_{ses}_acq-press_voi-{voi}_mrsref.nii.gz", rng)
    mrs = root / "sub-02" / "ses-01" / "mrs"
    write_spectrum(mrs / "sub-02_ses-01_acq-press_voi-lesion_svs.nii.gz", rng)
    write_spectrum(mrs / "sub-02_ses-01_acq-press_voi-cortex_svs.nii.gz", rng)
    (root / "sub-01" / "ses-03" / "mrs").mkdir(parents=True)  # a session without spectra
    return root


def _reset_postgres(url: str) -> None:
    """Drop every pmlmrs table and the Alembic version table of a test database."""
    from sqlalchemy import create_engine, text

    from pmlmrs.study.db import Base

    eng = create_engine(url)
    with eng.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    eng.dispose()


@pytest.fixture
def postgres_url():
    """PMLMRS_TEST_POSTGRES_URL with empty pmlmrs tables (skip when unset)."""
    import os

    url = os.environ.get("PMLMRS_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("PMLMRS_TEST_POSTGRES_URL not set (no PostgreSQL server)")
    pytest.importorskip("psycopg2")
    _reset_postgres(url)
    yield url
    _reset_postgres(url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path: Path):
    """A fresh database URL: SQLite in tmp_path, or PostgreSQL (skipped without a server)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return request.getfixturevalue("postgres_url")
