"""The embedded demo: a synthetic PML cohort in MRS-BIDS (``pmlmrs demo``)."""

from pmlmrs.demo.generator import (
    DEMO_BASIS,
    LESION_EFFECTS,
    NAWM_CONCENTRATIONS,
    NAWM_LIPIDS,
    SCHEDULE,
    DemoCohort,
    make_demo_cohort,
    simulate_voxel,
)

__all__ = [
    "make_demo_cohort",
    "DemoCohort",
    "simulate_voxel",
    "DEMO_BASIS",
    "NAWM_CONCENTRATIONS",
    "NAWM_LIPIDS",
    "LESION_EFFECTS",
    "SCHEDULE",
]
