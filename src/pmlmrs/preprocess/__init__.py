"""Preprocessing of single-voxel 1H MRS: each step is an array kernel plus a Spectrum -> Spectrum
wrapper that records a :class:`~pmlmrs.core.ProcessingStep`; :func:`preprocess` runs the default
pipeline on raw data (coil combination, alignment, outlier rejection, averaging, eddy-current
correction, HLSVD water removal, phasing, frequency referencing).
"""

from pmlmrs.preprocess._qc import linewidth, noise_sd, residual_water, snr
from pmlmrs.preprocess.align import AlignOptions, align, apply_shift, estimate_drift
from pmlmrs.preprocess.apodize import apodize, truncate, zero_fill
from pmlmrs.preprocess.average import N_TRANSIENTS_KEY, average
from pmlmrs.preprocess.coil_combine import CoilCombineOptions, coil_combine, coil_weights, noise_covariance
from pmlmrs.preprocess.eddy_current import EddyCurrentOptions, eddy_current_correction
from pmlmrs.preprocess.phase import PEAKS, PhaseOptions, ReferenceOptions, find_peak, frequency_reference, phase_correct
from pmlmrs.preprocess.pipeline import PreprocessOptions, PreprocessResult, plot_alignment, preprocess
from pmlmrs.preprocess.reject import RejectOptions, outlier_scores, reject_outliers
from pmlmrs.preprocess.water_removal import HLSVDModel, WaterRemovalOptions, hlsvd, remove_water

__all__ = [
    "preprocess", "PreprocessOptions", "PreprocessResult", "plot_alignment",
    "coil_combine", "coil_weights", "noise_covariance", "CoilCombineOptions",
    "align", "estimate_drift", "apply_shift", "AlignOptions",
    "reject_outliers", "outlier_scores", "RejectOptions",
    "average", "N_TRANSIENTS_KEY",
    "eddy_current_correction", "EddyCurrentOptions",
    "remove_water", "hlsvd", "HLSVDModel", "WaterRemovalOptions",
    "phase_correct", "frequency_reference", "find_peak", "PhaseOptions", "ReferenceOptions", "PEAKS",
    "apodize", "truncate", "zero_fill",
    "snr", "linewidth", "residual_water", "noise_sd",
]
