"""Water scaling: basis units → mM, with water/metabolite relaxation and tissue (GM/WM/CSF) correction.

Conventions
-----------
*Basis units.* A basis spectrum of amplitude 1 is taken to be 1 mM of the metabolite, its FID at
t = 0 being ``basis_scale`` × (its number of protons). ``basis_scale`` is measured on the basis
itself (:func:`basis_proton_scale`: |FID(0)| of Cr over its 5 non-exchangeable protons, after
removing a 0-ppm reference peak), so any file normalisation works: the ISMRM 2016 challenge
``.RAW``/text basis has Cr FID[0] = 5.0 (scale 1), its LCModel ``.BASIS`` 5.0/64 (scale 0.0156);
the fitted amplitudes follow the same scale, so the concentrations agree. Set
``QuantOptions.basis_scale`` to impose a value (e.g. 1 for a basis known to be per proton).

*Water area.* The water reference signal at t = 0 (the area of the water peak in the same
units as the data), from a fit of the reference (``pmlmrs.fit`` water helper when available, else a
single-Voigt fit here, :func:`water_area`). Water has 2 protons (``water_protons``).

*Formula* (LCModel's WCONC/ATTH2O/ATTMET; Gasparovic et al. 2006, doi:10.1002/mrm.20901; the
ISMRM 2016 fitting-challenge README)::

    conc_mM = amplitude × basis_scale × water_protons × W_eff / (water_area × R_met × f_tissue)

    W_eff  = Σ_t f_t · d_t · [H2O] · exp(−TE/T2w_t) · (1 − exp(−TR/T1w_t))      t ∈ {GM, WM, CSF}
    R_met  = exp(−TE/T2m) · (1 − exp(−TR/T1m))
    f_tissue = f_GM + f_WM  (metabolites only in tissue; 1 when ``csf_correction`` is off)

with f_t the volume fractions, d_t the water contents (g/ml, i.e. relative to pure water) and
[H2O] = 55 508 mM (pure water, 1 mol / 18.015 g at 1 g/ml). T1 terms are 1 when TR is not given
(TR ≫ T1). For the challenge (GM 0.6/0.78/110 ms, WM 0.4/0.65/80 ms, T2m 160 ms, TE 30 ms)
``W_eff / R_met = 29 697 mM × 1.206``, the README's numbers. LCModel's WCONC·ATTH2O is ``W_eff``
and ATTMET is ``R_met``; set them directly with ``water_concentration_override`` and
``metabolite_attenuation_override``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from pmlmrs.config import Options
from pmlmrs.core import ProcessingStep, Spectrum
from pmlmrs.errors import ConfigError, FitError

__all__ = [
    "QuantOptions",
    "PURE_WATER_MM",
    "water_concentration",
    "metabolite_attenuation",
    "concentration_scale",
    "water_area",
    "scale_to_water",
    "basis_proton_scale",
]

#: Molar concentration of pure water at 1 g/ml (1 mol / 18.015 g), mM.
PURE_WATER_MM = 1e6 / 18.015


@dataclasses.dataclass(frozen=True)
class QuantOptions(Options):
    """Options of water scaling (all times in ms, as users type them).

    Defaults [default] describe a white-matter voxel (PML lesions and NAWM lie in white matter);
    set the fractions from a segmentation when one is available.

    Attributes
    ----------
    gm_fraction, wm_fraction, csf_fraction : float
        Tissue volume fractions in the voxel (normalised to sum 1).
    gm_water_content, wm_water_content, csf_water_content : float
        Water content relative to pure water (g/ml): 0.78, 0.65, 0.97 (Ernst 1993).
    gm_water_t2, wm_water_t2, csf_water_t2 : float
        Water T2, ms (3 T: 110, 80 as the ISMRM challenge; CSF 1000 [default]).
    gm_water_t1, wm_water_t1, csf_water_t1 : float
        Water T1, ms (3 T: 1820, 1084, 4163; Wansapura 1999, Lu 2005) — used only with ``repetition_time``.
    metabolite_t2, metabolite_t1 : float
        ms; one value for all metabolites (160 ms as the ISMRM challenge; T1 1400 ms) [default].
    echo_time, repetition_time : float or None
        ms; None takes TE from the spectrum header and treats TR as ≫ T1 (no T1 correction).
    water_concentration : float
        Pure water, mM (55 508).
    water_protons : int
        2.
    basis_scale : float or None
        FID[0] of a 1-proton, 1-unit basis signal; None measures it on the basis
        (:func:`basis_proton_scale`), 1.0 when no basis is at hand.
    reference_metabolite, reference_protons : str, float
        The basis metabolite and its proton count used to measure ``basis_scale`` (Cr, 5).
    csf_correction : bool
        Divide by the tissue fraction (metabolites are absent from CSF).
    water_concentration_override : float or None
        LCModel WCONC × ATTH2O: the relaxation-attenuated water concentration, mM; replaces the tissue model.
    metabolite_attenuation_override : float or None
        LCModel ATTMET; replaces ``R_met``.
    combinations : mapping of str to list of str
        Extra or replacement metabolite combinations for the outputs, e.g.
        ``{"Lip": ["Lip09", "Lip13", "Lip20"]}`` (default: DESIGN.md's, :data:`pmlmrs.quant.COMBINATIONS`).
    """

    gm_fraction: float = 0.0
    wm_fraction: float = 1.0
    csf_fraction: float = 0.0
    gm_water_content: float = 0.78
    wm_water_content: float = 0.65
    csf_water_content: float = 0.97
    gm_water_t2: float = 110.0
    wm_water_t2: float = 80.0
    csf_water_t2: float = 1000.0
    gm_water_t1: float = 1820.0
    wm_water_t1: float = 1084.0
    csf_water_t1: float = 4163.0
    metabolite_t2: float = 160.0
    metabolite_t1: float = 1400.0
    echo_time: float | None = None
    repetition_time: float | None = None
    water_concentration: float = PURE_WATER_MM
    water_protons: int = 2
    basis_scale: float | None = None
    reference_metabolite: str = "Cr"
    reference_protons: float = 5.0
    csf_correction: bool = True
    water_concentration_override: float | None = None
    metabolite_attenuation_override: float | None = None
    combinations: Mapping[str, Sequence[str]] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        combos = {}
        for k, v in dict(self.combinations or {}).items():
            if isinstance(v, str) or not all(isinstance(x, str) for x in v):
                raise ConfigError(f"QuantOptions.combinations[{k!r}] must be a list of component names, got {v!r}")
            combos[str(k)] = tuple(v)
        object.__setattr__(self, "combinations", combos)
        fr = (self.gm_fraction, self.wm_fraction, self.csf_fraction)
        if any((not math.isfinite(f)) or f < 0 for f in fr) or sum(fr) <= 0:
            raise ConfigError(f"tissue fractions must be non-negative with a positive sum, got GM/WM/CSF = {fr}")
        for name in ("gm_water_t2", "wm_water_t2", "csf_water_t2", "gm_water_t1", "wm_water_t1",
                     "csf_water_t1", "metabolite_t2", "metabolite_t1", "water_concentration", "reference_protons"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ConfigError(f"QuantOptions.{name} must be a positive number, got {v!r}")
        if self.basis_scale is not None and not (math.isfinite(self.basis_scale) and self.basis_scale > 0):
            raise ConfigError(f"QuantOptions.basis_scale must be a positive number or None, got {self.basis_scale!r}")
        if self.water_protons <= 0:
            raise ConfigError(f"QuantOptions.water_protons must be positive, got {self.water_protons!r}")
        if self.csf_correction and self.gm_fraction + self.wm_fraction <= 0:
            raise ConfigError("the voxel has no tissue (GM + WM = 0): metabolite concentrations are undefined")

    def fractions(self) -> tuple[float, float, float]:
        """GM, WM, CSF fractions normalised to sum 1."""
        tot = self.gm_fraction + self.wm_fraction + self.csf_fraction
        return self.gm_fraction / tot, self.wm_fraction / tot, self.csf_fraction / tot


def _te_tr(options: QuantOptions, echo_time_s: float | None) -> tuple[float, float | None]:
    te = options.echo_time if options.echo_time is not None else (
        None if echo_time_s is None else echo_time_s * 1e3)
    if te is None:
        raise ConfigError("water scaling needs the echo time: the spectrum header has none; "
                          "give --echo-time (ms), echo_time in the [quant] table of --config, or "
                          "QuantOptions.echo_time in Python")
    return float(te), options.repetition_time


def water_concentration(options: QuantOptions | None = None, *, echo_time: float | None = None) -> float:
    """Relaxation-attenuated, tissue-weighted water concentration ``W_eff`` (LCModel WCONC×ATTH2O), mM.

    Parameters
    ----------
    options : QuantOptions
    echo_time : float, optional
        s (from the header); ``options.echo_time`` (ms) wins when set.
    """
    o = options or QuantOptions()
    if o.water_concentration_override is not None:
        return float(o.water_concentration_override)
    te, tr = _te_tr(o, echo_time)
    gm, wm, csf = o.fractions()
    total = 0.0
    for f, d, t2, t1 in ((gm, o.gm_water_content, o.gm_water_t2, o.gm_water_t1),
                         (wm, o.wm_water_content, o.wm_water_t2, o.wm_water_t1),
                         (csf, o.csf_water_content, o.csf_water_t2, o.csf_water_t1)):
        r1 = 1.0 if tr is None else 1.0 - math.exp(-tr / t1)
        total += f * d * o.water_concentration * math.exp(-te / t2) * r1
    return total


def metabolite_attenuation(options: QuantOptions | None = None, *, echo_time: float | None = None) -> float:
    """Metabolite relaxation attenuation ``R_met`` (LCModel ATTMET); the README's 1/1.206 for the challenge."""
    o = options or QuantOptions()
    if o.metabolite_attenuation_override is not None:
        return float(o.metabolite_attenuation_override)
    te, tr = _te_tr(o, echo_time)
    r1 = 1.0 if tr is None else 1.0 - math.exp(-tr / o.metabolite_t1)
    return math.exp(-te / o.metabolite_t2) * r1


def basis_proton_scale(basis: Any, metabolite: str = "Cr", protons: float = 5.0) -> float:
    """FID amplitude at t = 0 of one proton of a 1-unit basis signal.

    ``|FID(0)|`` of *metabolite* (Cr: CH3 + CH2 = 5 protons; PCr is tried next) divided by *protons*,
    after subtracting a reference singlet at 0 ppm (TMS/DSS) when the basis has one.

    Raises
    ------
    BasisError
        Neither the metabolite nor PCr is in the basis.
    """
    from pmlmrs.errors import BasisError

    candidates = [(metabolite, protons)] + ([("PCr", 5.0)] if metabolite == "Cr" else [])
    for name, n_h in candidates:
        if name in basis:
            b = basis
            refs = dict(getattr(basis, "meta", {}) or {}).get("reference_peak") or {}
            if name in refs and hasattr(basis, "remove_reference_peak"):
                b = basis.remove_reference_peak()
            return float(abs(b.fid(name)[0])) / float(n_h)
    raise BasisError(f"{getattr(basis, 'source', None) or 'basis'} has no {metabolite} to measure its scale "
                     "(amplitude per proton); set QuantOptions.basis_scale")


def concentration_scale(water_signal: float, options: QuantOptions | None = None, *,
                        echo_time: float | None = None, basis_scale: float | None = None) -> float:
    """Factor turning basis amplitudes into mM, given the water area (FID at t = 0).

    Parameters
    ----------
    water_signal : float
        Water reference area in the same units as the fitted data (positive).
    options : QuantOptions
    echo_time : float, optional
        s, from the header.
    basis_scale : float, optional
        Measured basis scale (:func:`basis_proton_scale`), used when ``options.basis_scale`` is None;
        1 when neither is given.
    """
    o = options or QuantOptions()
    if not (math.isfinite(water_signal) and water_signal > 0):
        raise FitError(f"water reference area must be positive and finite, got {water_signal!r}")
    gm, wm, _ = o.fractions()
    f_tissue = (gm + wm) if o.csf_correction else 1.0
    w_eff = water_concentration(o, echo_time=echo_time)
    r_met = metabolite_attenuation(o, echo_time=echo_time)
    scale = o.basis_scale if o.basis_scale is not None else (1.0 if basis_scale is None else float(basis_scale))
    return scale * o.water_protons * w_eff / (water_signal * r_met * f_tissue)


def _fit_water_engine(water: Spectrum) -> float | None:
    """The fitting engine's water helper, if the installed pmlmrs has one."""
    try:
        from pmlmrs import fit as _fit
    except ImportError:  # pragma: no cover
        return None
    helper = getattr(_fit, "fit_water", None)
    if helper is None:
        return None
    out = helper(water)
    for attr in ("area", "amplitude"):
        if hasattr(out, attr):
            return float(getattr(out, attr))
    if isinstance(out, dict):
        for key in ("area", "amplitude"):
            if key in out:
                return float(out[key])
    if isinstance(out, (int, float)):
        return float(out)
    return None


def _voigt_area(fid: np.ndarray, dwell: float) -> float:
    """Area (|signal| at t = 0) of the dominant peak, from a single-Voigt fit of the FID.

    The peak frequency comes from the magnitude spectrum; then amplitude, phase, frequency, Lorentzian
    and Gaussian damping are fitted to the first part of the FID (least squares), which ignores
    small peaks elsewhere and extrapolates over a corrupted first point.
    """
    from scipy.optimize import least_squares

    n = fid.size
    t = np.arange(n) * dwell
    spec = np.fft.fftshift(np.fft.fft(fid))
    hz = np.fft.fftshift(np.fft.fftfreq(n, dwell))
    f0 = float(hz[int(np.argmax(np.abs(spec)))])
    # time window: until the envelope falls to 2 % (at least 64 points)
    env = np.abs(fid)
    below = np.nonzero(env < 0.02 * env[: max(4, n // 64)].max())[0]
    m = int(np.clip(below[0] if below.size else n, 64, n))
    tt, y = t[1:m], fid[1:m]  # the first point is often corrupted (digital filter, half-point weighting)

    def model(p: np.ndarray) -> np.ndarray:
        amp, ph, f, lw, gw = p
        return amp * np.exp(1j * ph + 2j * np.pi * f * tt - np.pi * lw * tt - (np.pi * gw * tt) ** 2 / (4 * np.log(2)))

    def resid(p: np.ndarray) -> np.ndarray:
        r = model(p) - y
        return np.concatenate([r.real, r.imag])

    a0 = float(np.abs(fid[1:4]).mean()) if n > 4 else float(np.abs(fid[0]))
    p0 = np.array([a0, float(np.angle(fid[1] if n > 1 else fid[0])), f0, 3.0, 3.0])
    lo = [0.0, -4 * np.pi, f0 - 20.0, 0.0, 0.0]
    hi = [np.inf, 4 * np.pi, f0 + 20.0, 200.0, 200.0]
    sol = least_squares(resid, p0, bounds=(lo, hi), x_scale="jac", max_nfev=400)
    return float(sol.x[0])


def water_area(water: Spectrum | np.ndarray, *, dwell_time: float | None = None,
               method: str = "auto") -> float:
    """Area of the water reference: its signal at t = 0, in the data's units.

    Parameters
    ----------
    water : Spectrum or (n_points,) complex array
        Water reference FID (already combined and averaged).
    dwell_time : float, optional
        s; needed when *water* is an array.
    method : {"auto", "engine", "voigt"}
        ``engine``: :func:`pmlmrs.fit.fit_water`; ``voigt``: single-Voigt fit here; ``auto``: the
        engine when it exists, else the Voigt fit.
    """
    from pmlmrs.errors import check_option

    check_option("method", method, ("auto", "engine", "voigt"))
    if isinstance(water, Spectrum):
        w = water.squeeze()
        if w.data.ndim != 1:
            raise FitError(f"{water.source or 'water reference'}: expected one FID, got dims {w.dims}; "
                           "combine coils and average first (pmlmrs preprocess)")
        if method in ("auto", "engine"):
            val = _fit_water_engine(w)
            if val is not None:
                return val
            if method == "engine":
                raise FitError("pmlmrs.fit has no fit_water helper")
        fid, dwell = np.asarray(w.data), w.dwell_time
    else:
        if dwell_time is None:
            raise ConfigError("water_area of an array needs dwell_time")
        fid, dwell = np.asarray(water, dtype=complex).ravel(), float(dwell_time)
    return _voigt_area(fid, dwell)


def scale_to_water(result: Any, water: Spectrum | float, options: QuantOptions | None = None, *,
                   basis: Any = None) -> Any:
    """A FitResult with amplitudes, covariance and CRLBs in mM and ``concentration_scale`` set.

    The fit components, data and baseline stay in data units; ``concentration_scale`` records the
    factor (basis units × factor = mM). Scaling an already scaled result starts again from basis units.

    Parameters
    ----------
    result : FitResult
    water : Spectrum or float
        The water reference (its area is measured with :func:`water_area`) or its area directly.
    options : QuantOptions, optional
    basis : Basis, optional
        The basis that was fitted, to measure its scale (default: ``result.model.basis`` when the
        result still has its model); without either, and without ``options.basis_scale``, the basis
        is assumed per proton (scale 1) and a warning is logged.
    """
    from pmlmrs._logging import logger

    o = options or QuantOptions()
    area = water_area(water) if isinstance(water, Spectrum) else float(water)
    te = result.spectrum.header.echo_time
    b_scale = o.basis_scale
    if b_scale is None:
        basis = basis if basis is not None else getattr(getattr(result, "model", None), "basis", None)
        if basis is not None:
            b_scale = basis_proton_scale(basis, o.reference_metabolite, o.reference_protons)
        else:
            logger.warning("water scaling without the basis: assuming basis amplitudes per proton (scale 1); "
                           "pass basis= or set QuantOptions.basis_scale")
            b_scale = 1.0
    scale = concentration_scale(area, o, echo_time=te, basis_scale=b_scale)
    old = result.concentration_scale
    base = 1.0 if old is None else float(old)
    f = scale / base
    step = ProcessingStep(
        "water_scaling",
        params={**{k: v for k, v in o.to_dict().items() if k != "combinations"}, "water_area": area, "concentration_scale": scale, "basis_proton_scale": b_scale,
                "water_concentration_attenuated_mM": water_concentration(o, echo_time=te),
                "metabolite_attenuation": metabolite_attenuation(o, echo_time=te)},
        details=f"amplitudes scaled to mM with the water reference (area {area:.6g}, factor {scale:.6g})",
    )
    return result.replace(
        amplitudes=np.asarray(result.amplitudes) * f,
        covariance=np.asarray(result.covariance) * f * f,
        covariance_free=None if getattr(result, "covariance_free", None) is None
        else np.asarray(result.covariance_free) * f * f,
        crlb=np.asarray(result.crlb) * f,
        alternatives={k: np.asarray(v) * f for k, v in getattr(result, "alternatives", {}).items()},
        concentration_scale=scale,
        provenance=tuple(result.provenance) + (step,),
    )
