"""Fixtures for the fitting tests: the ISMRM 2016 challenge basis (text files, no TMS)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from pmlmrs.basis import Basis


_ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("PMLMRS_SHARED", _ROOT.parent / "shared")).resolve()
CHALLENGE = SHARED / "data" / "ismrm2016_fitting_challenge"


def _load_challenge_basis(folder) -> Basis:
    names, fids = [], []
    for f in sorted(folder.glob("*.txt")):
        d = np.loadtxt(f)
        names.append(f.stem)
        fids.append((d[:, 0] + 1j * d[:, 1]).conj())   # the text files are conjugated vs NIfTI-MRS
    return Basis(tuple(names), np.array(fids), 1 / 4000.0, 123.2, echo_time=0.030, ppm_reference=4.65,
                 source=str(folder))


@pytest.fixture(scope="session")
def challenge_basis() -> Basis:
    """The 22-spectrum challenge basis (123.2 MHz, 4000 Hz, 2048 points), or skip."""
    folder = CHALLENGE / "basisset_text_noTMS"
    if not folder.exists():
        pytest.skip(f"needs {folder} (../shared not present)")
    return _load_challenge_basis(folder)


@pytest.fixture(scope="session")
def challenge_dir() -> Path:
    """../shared/data/ismrm2016_fitting_challenge, or skip."""
    if not CHALLENGE.exists():
        pytest.skip(f"needs {CHALLENGE}")
    return CHALLENGE
