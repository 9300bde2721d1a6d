"""Basis sets: the ``Basis`` container, readers for LCModel/FSL-MRS/text formats, resampling."""

from pmlmrs.basis.basis import NAME_ALIASES, Basis, canonical_name

__all__ = ["Basis", "canonical_name", "NAME_ALIASES"]
