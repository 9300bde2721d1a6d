"""Shared test fixtures: paths to ../shared data (skipping cleanly without it) and seeded RNGs."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
TEST_DATA = Path(__file__).resolve().parent / "data"
SHARED = Path(os.environ.get("PMLMRS_SHARED", ROOT.parent / "shared")).resolve()
INVIVO = SHARED / "data" / "invivo"
CHALLENGE = SHARED / "data" / "ismrm2016_fitting_challenge"


def shared_path(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test when it is not there."""
    p = SHARED.joinpath("data", *parts)
    if not p.exists():
        pytest.skip(f"needs {p} (../shared not present)")
    return p


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator; tests never use the global NumPy RNG."""
    return np.random.default_rng(20170454)


@pytest.fixture
def invivo() -> Path:
    """../shared/data/invivo, or skip."""
    return shared_path("invivo")


@pytest.fixture
def challenge() -> Path:
    """../shared/data/ismrm2016_fitting_challenge, or skip."""
    return shared_path("ismrm2016_fitting_challenge")


def load_validation(name: str) -> ModuleType:
    """Import ``validation/<name>.py`` (scripts, not package modules) once, by path."""
    key = f"pmlmrs_validation_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, ROOT / "validation" / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[key] = mod  # dataclasses in the script look their module up here
        spec.loader.exec_module(mod)
    return sys.modules[key]
