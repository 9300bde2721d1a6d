"""Baseline design matrices: penalised cubic B-splines (P-splines) and Legendre polynomials.

The baseline is complex: the same real design matrix ``S`` (n_window, m) is used for the real and
the imaginary part, each with its own coefficients. A spline baseline is penalised with
``lam * ||D2 c||^2`` (second differences of the coefficients, Eilers & Marx 1996,
doi:10.1214/ss/1038425655); ``lam`` is relative: the penalty matrix is scaled so that
``trace(lam D2'D2) = lam * trace(S'S)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["BaselineDesign", "spline_design", "polynomial_design", "baseline_design"]


@dataclass(frozen=True)
class BaselineDesign:
    """A real baseline design ``matrix`` (n_window, m) and penalty root ``penalty`` (p, m) for lam = 1."""

    kind: str
    matrix: NDArray[np.float64]
    penalty: NDArray[np.float64]

    @property
    def n_coefficients(self) -> int:
        """Coefficients per real/imaginary part."""
        return int(self.matrix.shape[1])


def spline_design(ppm: NDArray, knot_spacing_ppm: float) -> BaselineDesign:
    """Cubic B-spline basis on the window with equally spaced knots (at most *knot_spacing_ppm* apart)."""
    from scipy.interpolate import BSpline

    ppm = np.asarray(ppm, dtype=float)
    lo, hi = float(ppm.min()), float(ppm.max())
    n_int = max(1, int(np.ceil((hi - lo) / knot_spacing_ppm - 1e-9)))
    h = (hi - lo) / n_int
    knots = lo + h * np.arange(-3, n_int + 4)
    mat = BSpline.design_matrix(np.clip(ppm, lo, hi), knots, 3).toarray()
    m = mat.shape[1]
    d2 = np.diff(np.eye(m), n=2, axis=0)
    scale = np.sqrt(np.trace(mat.T @ mat) / max(np.trace(d2.T @ d2), 1e-12))
    return BaselineDesign("spline", mat, d2 * scale)


def polynomial_design(ppm: NDArray, order: int) -> BaselineDesign:
    """Legendre polynomials up to *order* on the window (mapped to [-1, 1]); no penalty."""
    ppm = np.asarray(ppm, dtype=float)
    x = 2 * (ppm - ppm.min()) / max(ppm.max() - ppm.min(), 1e-12) - 1
    mat = np.polynomial.legendre.legvander(x, int(order))
    return BaselineDesign("polynomial", mat, np.zeros((0, mat.shape[1])))


def baseline_design(kind: str, ppm: NDArray, knot_spacing_ppm: float = 0.4, order: int = 2) -> BaselineDesign:
    """The design for ``kind`` in {"spline", "polynomial", "none"}."""
    if kind == "spline":
        return spline_design(ppm, knot_spacing_ppm)
    if kind == "polynomial":
        return polynomial_design(ppm, order)
    return BaselineDesign("none", np.zeros((len(ppm), 0)), np.zeros((0, 0)))
