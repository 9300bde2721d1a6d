"""Fixtures for the preprocessing tests: one synthetic lesion-like data set per module."""

from __future__ import annotations

import numpy as np
import pytest

from pmlmrs.preprocess._synthetic import lesion_like_svs


@pytest.fixture(scope="module")
def synthetic():
    """8 coils x 64 transients, NAA SNR ~120 after averaging, 3 corrupted transients (seeded)."""
    return lesion_like_svs(np.random.default_rng(20170454), noise_sd=0.35)
