"""Metabolite combinations (tNAA, tCr, ...) and ratios, with uncertainties from the amplitude covariance.

A combination is a weighted sum of fitted amplitudes, ``c = wᵀ a``; its variance is ``wᵀ C w`` with
``C`` the amplitude covariance of the fit (Fisher information of the full model), so correlated
components (NAA and NAAG, Cr and PCr) are handled correctly. A ratio ``R = A / B`` of two
combinations gets the first-order (delta-method) variance

``var(R) = R² (var A / A² + var B / B² − 2 cov(A, B) / (A B))``, with ``cov(A, B) = w_Aᵀ C w_B``.

When a member is held at zero by the fit's non-negativity constraint, ``C`` is the fit's
``covariance_free`` (that member left free, with its correlations): the sum GPC + PCho is then as
well determined as the 3.2 ppm singlet, instead of GPC's variance plus PCho's in full.

The CRLB cannot cover a modelling choice the data do not settle. Where the fit has
``alternatives`` (refits with the lipid lineshape held purely Lorentzian and purely Gaussian, and
at the more flexible baseline plain QAIC chose, ``FitOptions.lipid_lineshape_sd``), every quantity
also gets ``sd_lineshape``, the largest change of its value in those refits; :attr:`Measure.sd_total`
adds it to the CRLB in quadrature.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pmlmrs.errors import ConfigError
from pmlmrs.fit.result import covariance_for

__all__ = [
    "COMBINATIONS",
    "RATIOS",
    "Measure",
    "combination_weights",
    "measure",
    "combinations",
    "ratio",
    "ratios",
    "is_mm_name",
]

#: Default combinations (DESIGN.md). Members may themselves be combinations (``Lip`` uses ``Lip13``).
#: ``MM`` is special: every macromolecule component of the fit (see :func:`is_mm_name`).
COMBINATIONS: dict[str, tuple[str, ...]] = {
    "tNAA": ("NAA", "NAAG"),
    "tCr": ("Cr", "PCr"),
    "tCho": ("GPC", "PCho"),
    "Glx": ("Glu", "Gln"),
    "Lip13": ("Lip13a", "Lip13b"),
    "Lip": ("Lip09", "Lip13"),
    "MM": (),
}

#: The ratio columns of summary.tsv, written ``A_B`` for A / B.
RATIOS: tuple[str, ...] = (
    "tNAA_tCr", "tCho_tCr", "tNAA_tCho", "Ins_tCr", "Glx_tCr", "Lip_tCr", "Lip09_tCr", "Lip13_tCr",
)


def is_mm_name(name: str) -> bool:
    """Whether a component is a macromolecule one (``MM09``..``MM20``, or a measured ``Mac``/``MMBL``)."""
    return name.startswith("MM") or name in ("Mac", "MMBL")


@dataclass(frozen=True)
class Measure:
    """A fitted quantity: a component, a combination or a ratio.

    Attributes
    ----------
    name : str
    value : float
        Basis units (mM when the fit was water-scaled); NaN when it cannot be formed.
    sd : float
        Absolute standard deviation (Cramér-Rao bound), same units.
    members : tuple of str
        The fitted components that were summed (empty for a ratio).
    sd_lineshape : float
        The largest change of the value in the fit's lipid-lineshape (and baseline) alternatives
        (same units; 0 when the fit has none, NaN when the value is), see the module docstring.
    """

    name: str
    value: float
    sd: float
    members: tuple[str, ...] = ()
    sd_lineshape: float = 0.0

    @property
    def sd_total(self) -> float:
        """``sqrt(sd² + sd_lineshape²)``: the CRLB and the lipid-lineshape spread together."""
        return float(np.hypot(self.sd, self.sd_lineshape))

    @property
    def crlb_percent(self) -> float:
        """Relative CRLB in %: ``100 sd / value``; inf when the value is zero, NaN when undefined."""
        if not np.isfinite(self.value) or not np.isfinite(self.sd):
            return float("nan")
        if self.value <= 0:
            return float("inf")
        return float(100.0 * self.sd / self.value)


def _definitions(definitions: Mapping[str, Sequence[str]] | None) -> dict[str, tuple[str, ...]]:
    defs = dict(COMBINATIONS)
    if definitions is not None:
        for k, v in definitions.items():
            if isinstance(v, str):
                raise ConfigError(f"combination {k!r} must be a list of component names, got the string {v!r}")
            defs[str(k)] = tuple(str(x) for x in v)
    return defs


def combination_weights(names: Sequence[str], name: str,
                        definitions: Mapping[str, Sequence[str]] | None = None) -> NDArray[np.float64] | None:
    """Weight vector ``w`` (one entry per fitted component) for a component or combination.

    A name that is a fitted component is that component alone; otherwise its definition is resolved
    recursively over the members that were fitted. ``None`` when none of its members was fitted.

    Parameters
    ----------
    names : sequence of str
        Component names of the fit.
    name : str
        Component or combination name.
    definitions : mapping, optional
        Extra or replacement combinations ``{"Lip": ["Lip09", "Lip13", "Lip20"]}``.
    """
    defs = _definitions(definitions)
    names = list(names)
    w = np.zeros(len(names))

    def resolve(n: str, depth: int) -> bool:
        if depth > 10:
            raise ConfigError(f"combination {name!r} is defined recursively")
        if n in names:
            w[names.index(n)] = 1.0
            return True
        if n == "MM" and not defs.get("MM"):
            hits = [i for i, c in enumerate(names) if is_mm_name(c)]
            w[hits] = 1.0
            return bool(hits)
        if n in defs:
            found = [resolve(m, depth + 1) for m in defs[n]]
            return any(found)
        return False

    return w if resolve(name, 0) else None


def _largest_change(value: float, alternatives: Sequence[float]) -> float:
    """``max |alternative - value|`` over the finite alternatives (0 without any; NaN for a NaN value).

    The largest change, not half the range: the fit's place between a Lorentzian and a Gaussian
    lineshape says nothing about where the truth is (lesion suite, 4 seeds x 100 lesions: SD of
    Lip/tCr error / SD 0.90-1.18 and 90-94 % within 2 SD; half the range 1.12-1.41, 83-89 %)."""
    if not np.isfinite(value):
        return float("nan")
    return max((abs(x - value) for x in alternatives if np.isfinite(x)), default=0.0)


def measure(names: Sequence[str], amplitudes: NDArray, covariance: NDArray, name: str,
            definitions: Mapping[str, Sequence[str]] | None = None,
            covariance_free: NDArray | None = None, alternatives: Sequence[NDArray] = ()) -> Measure:
    """Value and CRLB of one component or combination from amplitudes and their covariance
    (*covariance_free*, *alternatives*: amplitude vectors of the fit's lineshape alternatives; see
    the module docstring)."""
    w = combination_weights(names, name, definitions)
    if w is None:
        return Measure(name, float("nan"), float("nan"), (), float("nan"))
    a = np.asarray(amplitudes, dtype=float)
    c = covariance_for(covariance, covariance_free, a, w)
    var = float(w @ c @ w)
    members = tuple(n for n, wi in zip(names, w) if wi)
    spread = _largest_change(float(w @ a), [float(w @ np.asarray(x, float)) for x in alternatives])
    return Measure(name, float(w @ a), float(np.sqrt(max(var, 0.0))), members, spread)


def _fit_arrays(result: Any) -> tuple[tuple[str, ...], NDArray, NDArray, NDArray | None, list[NDArray]]:
    return (tuple(result.names), np.asarray(result.amplitudes, float), np.asarray(result.covariance, float),
            getattr(result, "covariance_free", None),
            [np.asarray(x, float) for x in getattr(result, "alternatives", {}).values()])


def combinations(result: Any, definitions: Mapping[str, Sequence[str]] | None = None) -> dict[str, Measure]:
    """Every combination of :data:`COMBINATIONS` (plus *definitions*) that can be formed from a fit.

    A combination is present when at least one of its members was fitted; a combination whose name
    is itself a fitted component (a basis with a single ``Lip13``) is left out, the component wins.

    Parameters
    ----------
    result : FitResult
    definitions : mapping, optional
        Extra or replacement definitions, e.g. ``{"Lip": ["Lip09", "Lip13", "Lip20"]}``.

    Returns
    -------
    dict
        ``{name: Measure}`` in definition order.
    """
    names, a, c, c_free, alts = _fit_arrays(result)
    out: dict[str, Measure] = {}
    for name in _definitions(definitions):
        if name in names:
            continue
        m = measure(names, a, c, name, definitions, c_free, alts)
        if m.members:
            out[name] = m
    return out


def ratio(result: Any, numerator: str, denominator: str,
          definitions: Mapping[str, Sequence[str]] | None = None) -> Measure:
    """``numerator / denominator`` with its delta-method SD; NaN when either cannot be formed or B <= 0.

    Parameters
    ----------
    result : FitResult
    numerator, denominator : str
        Component or combination names.
    """
    names, a, c, c_free, alts = _fit_arrays(result)
    wa = combination_weights(names, numerator, definitions)
    wb = combination_weights(names, denominator, definitions)
    label = f"{numerator}_{denominator}"
    if wa is None or wb is None:
        return Measure(label, float("nan"), float("nan"), (), float("nan"))
    va, vb = float(wa @ a), float(wb @ a)
    if not vb > 0:
        return Measure(label, float("nan"), float("nan"), (), float("nan"))
    r = va / vb
    # d r / d a = wa / B - A wb / B²  →  var = gᵀ C g  (equivalent to the relative-variance formula, also at A = 0)
    g = wa / vb - va * wb / vb**2
    c = covariance_for(c, c_free, a, wa, wb)
    var = float(g @ c @ g)
    spread = _largest_change(r, [float(wa @ x) / b if (b := float(wb @ x)) > 0 else float("nan") for x in alts])
    return Measure(label, float(r), float(np.sqrt(max(var, 0.0))), (), spread)


def ratios(result: Any, names: Sequence[str] = RATIOS,
           definitions: Mapping[str, Sequence[str]] | None = None) -> dict[str, Measure]:
    """The ratios ``A_B`` listed in *names* (default: the summary.tsv ratio columns)."""
    out: dict[str, Measure] = {}
    for label in names:
        if label.count("_") != 1:
            raise ConfigError(f"ratio {label!r} must be written 'A_B' with exactly one underscore")
        num, den = label.split("_")
        out[label] = ratio(result, num, den, definitions)
    return out
