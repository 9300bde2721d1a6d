"""Baseline design matrices: penalised cubic B-splines (P-splines) and Legendre polynomials.

The baseline is complex: the same real design matrix ``S`` (n_window, m) is used for the real and
the imaginary part, each with its own coefficients. A spline baseline is penalised with
``lam * ||D2 c||^2`` (second differences of the coefficients, Eilers & Marx 1996,
doi:10.1214/ss/1038425655); ``lam`` is relative: the penalty matrix is scaled so that
``trace(lam D2'D2) = lam * trace(S'S)``.

Optionally the penalty is raised by a factor in one region (``stiff_region``, ``stiff_factor``): the
second-difference rows centred on a coefficient whose B-spline lies in that region are multiplied by
``sqrt(stiff_factor)``. The fit uses this in the lipid region (0.7-1.6 ppm by default): there a
flexible baseline is interchangeable with the broad wings of lipid and macromolecule lines, and a
baseline that bends under them takes a shape-dependent share of the lipid signal (see
``validation/lesion_suite.py``).
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


def spline_design(ppm: NDArray, knot_spacing_ppm: float, stiff_region: tuple[float, float] | None = None,
                  stiff_factor: float = 1.0) -> BaselineDesign:
    """Cubic B-spline basis on the window with equally spaced knots (at most *knot_spacing_ppm* apart).

    *stiff_region* (ppm) and *stiff_factor*: the penalty there is *stiff_factor* times higher.
    """
    from scipy.interpolate import BSpline

    ppm = np.asarray(ppm, dtype=float)
    lo, hi = float(ppm.min()), float(ppm.max())
    n_int = max(1, int(np.ceil((hi - lo) / knot_spacing_ppm - 1e-9)))
    h = (hi - lo) / n_int
    knots = lo + h * np.arange(-3, n_int + 4)
    # the base interval must be exactly [lo, hi]: lo + h * n_int can round below hi
    knots[3], knots[n_int + 3] = lo, hi
    mat = BSpline.design_matrix(np.clip(ppm, lo, hi), knots, 3).toarray()
    m = mat.shape[1]
    d2 = np.diff(np.eye(m), n=2, axis=0)
    scale = np.sqrt(np.trace(mat.T @ mat) / max(np.trace(d2.T @ d2), 1e-12))
    pen = d2 * scale
    if stiff_region is not None and stiff_factor != 1.0 and m > 2:
        # centre (ppm) of each B-spline on the window; row j of D2 is centred on coefficient j + 1
        mass = mat.sum(axis=0)
        centre = (mat * ppm[:, None]).sum(axis=0) / np.maximum(mass, 1e-12)
        c = centre[1:m - 1]
        lo_r, hi_r = min(stiff_region), max(stiff_region)
        w = np.where((c >= lo_r) & (c <= hi_r) & (mass[1:m - 1] > 0), np.sqrt(float(stiff_factor)), 1.0)
        pen = pen * w[:, None]
    return BaselineDesign("spline", mat, pen)


def polynomial_design(ppm: NDArray, order: int) -> BaselineDesign:
    """Legendre polynomials up to *order* on the window (mapped to [-1, 1]); no penalty."""
    ppm = np.asarray(ppm, dtype=float)
    x = 2 * (ppm - ppm.min()) / max(ppm.max() - ppm.min(), 1e-12) - 1
    mat = np.polynomial.legendre.legvander(x, int(order))
    return BaselineDesign("polynomial", mat, np.zeros((0, mat.shape[1])))


def baseline_design(kind: str, ppm: NDArray, knot_spacing_ppm: float = 0.4, order: int = 2,
                    stiff_region: tuple[float, float] | None = None, stiff_factor: float = 1.0) -> BaselineDesign:
    """The design for ``kind`` in {"spline", "polynomial", "none"} (stiffening: splines only)."""
    if kind == "spline":
        return spline_design(ppm, knot_spacing_ppm, stiff_region, stiff_factor)
    if kind == "polynomial":
        return polynomial_design(ppm, order)
    return BaselineDesign("none", np.zeros((len(ppm), 0)), np.zeros((0, 0)))
