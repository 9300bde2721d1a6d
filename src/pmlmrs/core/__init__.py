"""Core data model: Spectrum, Header, Geometry, axes and provenance."""

from pmlmrs.core import axes
from pmlmrs.core.header import DEFAULT_PPM_REFERENCE, GYROMAGNETIC_RATIO_MHZ_PER_T, Geometry, Header
from pmlmrs.core.provenance import ProcessingStep
from pmlmrs.core.spectrum import NIFTI_DIM_TAGS, Spectrum, dim_to_tag, tag_to_dim

__all__ = [
    "axes",
    "Spectrum",
    "Header",
    "Geometry",
    "ProcessingStep",
    "NIFTI_DIM_TAGS",
    "dim_to_tag",
    "tag_to_dim",
    "GYROMAGNETIC_RATIO_MHZ_PER_T",
    "DEFAULT_PPM_REFERENCE",
]
