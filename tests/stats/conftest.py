"""Synthetic cohorts with planted effects (seeded) for the statistics tests."""

from __future__ import annotations

import pytest

from pmlmrs.stats.synthetic import synthetic_cohort


@pytest.fixture(scope="module")
def cohort():
    """20 patients, paper-like planted effects, a planted clinical correlation, 2 unassigned exams."""
    return synthetic_cohort(20, rng=1, clinical_slope=1.0, unassigned_exams=2)


@pytest.fixture(scope="module")
def null_cohort():
    """Same design with no lesion effect at all."""
    return synthetic_cohort(20, rng=2, effects={})
