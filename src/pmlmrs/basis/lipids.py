"""Simulated lipid and macromolecule components: LCModel's ``Lip*``/``MM*`` and the fatty-acyl lipid lines.

Two lipid models (``FitOptions.lipid_model``):

* ``"fatty_acyl"`` (default): one line per chemical group of a mobile fatty-acyl chain, at the
  positions of in vivo lipid spectra (Hamilton et al. 2011, NMR Biomed 24:784, doi:10.1002/nbm.1622,
  Table 1; the olefinic and glycerol lines above 4.2 ppm are outside the default fit window). The
  lines are delta functions: their lineshape (Lorentzian and Gaussian width) is that of the fit
  group, so it follows the data instead of being fixed in advance.

  ====== ===== ========================= =======
  name   ppm   group                     protons
  ====== ===== ========================= =======
  Lip09  0.90  methyl -CH3               3
  Lip13  1.30  bulk methylene -(CH2)n-   2
  Lip16  1.59  beta-carboxyl -CH2-       2
  Lip20  2.03  allylic -CH2-C=           2
  Lip22  2.25  alpha-carboxyl -CH2-COO   2
  Lip28  2.77  bis-allylic =C-CH2-C=     2
  ====== ===== ========================= =======

  Measured on ``validation/lesion_suite.py`` (Lorentzian multi-line lipids that are in neither
  model; 3 seeds x 200 spectra, default ``FitOptions`` with its lipid width prior): fitted Lip/tCr
  against the truth has R^2 0.970-0.976 (slope 0.95-0.97), 0.992-0.995 without the baseline humps,
  0.983-0.989 (slope 0.89-0.93) with broad lines (CH3 8-35 Hz, CH2 8-40 Hz); 0.84-0.95 (slope ~0.75)
  with LCModel's Gaussians (measured before the lipid-region charge of the baseline), whose fixed
  width leaves the Lorentzian wings of real lipid lines to the baseline and the macromolecule spectrum. The bulk methylene band as three
  free lines (1.22/1.30/1.38 ppm) gained 0.004 in R^2 but lowered the slope by 0.04 and traded with
  the simulated MM12/MM14 on in vivo data, so it is not used. On
  LCModel-shaped (Gaussian) lipids LCModel's own set is better (R^2 0.998 against 0.980-0.993).

* ``"lcmodel"``: LCModel's default set of simulated basis spectra (LCModel & LCMgui User's Manual,
  S. Provencher, version 6.3, Sec. 11.7 "Lipids & macromolecules": the ``CHSIMU`` defaults; the
  same values are used by other packages that follow LCModel, e.g. spant's ``get_lip13a_paras``).
  For each line: chemical shift (ppm), full width at half maximum (ppm) and the "effective number
  of protons" (``AMPSIM``). The MM components are always these.

====== ============================================ ===================== ===========================
name   ppm                                          FWHM (ppm)            protons
====== ============================================ ===================== ===========================
Lip09  0.89                                         0.14                  3
Lip13a 1.28                                         0.15                  2
Lip13b 1.28                                         0.089                 2
Lip20  2.04, 2.25, 2.8                              0.15, 0.15, 0.2       1.33, 0.67, 0.87
MM09   0.91                                         0.14                  3
MM12   1.21                                         0.15                  2
MM14   1.43                                         0.17                  2
MM17   1.67                                         0.15                  2
MM20   2.08, 2.25, 1.95, 3.0                        0.15, 0.2, 0.15, 0.2  1.33, 0.33, 0.33, 0.4
====== ============================================ ===================== ===========================

Scaling (as LCModel): the area of one proton is taken from the basis itself, from the 3.027 ppm
methyl singlet of Cr (3 protons; PCr 3.029 ppm or the NAA 2.008 ppm singlet when Cr is missing), see
:func:`proton_area`. A component with ``p`` protons has FID amplitude ``p * proton_area`` at t = 0,
so its fitted amplitude is in the same units as a metabolite of the basis: with a basis scaled to
1 mM per spectrum, Lip13 = 1 means 1 mM of CH2 pairs (2 protons), not 1 mM of lipid molecules.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pmlmrs._logging import logger
from pmlmrs.basis.basis import Basis
from pmlmrs.core import axes
from pmlmrs.errors import BasisError

__all__ = [
    "Resonance",
    "LIPID_MM_TABLE",
    "FATTY_ACYL_TABLE",
    "LIPID_MODELS",
    "MM_NAMES",
    "gaussian_fid",
    "proton_area",
    "simulate_components",
]


@dataclass(frozen=True)
class Resonance:
    """One Gaussian line: chemical shift (ppm), FWHM (ppm) and effective number of protons."""

    ppm: float
    fwhm_ppm: float
    protons: float


#: LCModel default simulated components (manual Sec. 11.7).
LIPID_MM_TABLE: dict[str, tuple[Resonance, ...]] = {
    "Lip09": (Resonance(0.89, 0.14, 3.0),),
    "Lip13a": (Resonance(1.28, 0.15, 2.0),),
    "Lip13b": (Resonance(1.28, 0.089, 2.0),),
    "Lip20": (Resonance(2.04, 0.15, 1.33), Resonance(2.25, 0.15, 0.67), Resonance(2.8, 0.2, 0.87)),
    "MM09": (Resonance(0.91, 0.14, 3.0),),
    "MM12": (Resonance(1.21, 0.15, 2.0),),
    "MM14": (Resonance(1.43, 0.17, 2.0),),
    "MM17": (Resonance(1.67, 0.15, 2.0),),
    "MM20": (Resonance(2.08, 0.15, 1.33), Resonance(2.25, 0.2, 0.33), Resonance(1.95, 0.15, 0.33),
             Resonance(3.0, 0.2, 0.4)),
}
MM_NAMES: tuple[str, ...] = ("MM09", "MM12", "MM14", "MM17", "MM20")

#: Fatty-acyl lipid lines (Hamilton et al. 2011); width 0: the fit group's lineshape is theirs.
FATTY_ACYL_TABLE: dict[str, tuple[Resonance, ...]] = {
    "Lip09": (Resonance(0.90, 0.0, 3.0),),
    "Lip13": (Resonance(1.30, 0.0, 2.0),),
    "Lip16": (Resonance(1.59, 0.0, 2.0),),
    "Lip20": (Resonance(2.03, 0.0, 2.0),),
    "Lip22": (Resonance(2.25, 0.0, 2.0),),
    "Lip28": (Resonance(2.77, 0.0, 2.0),),
}

#: Lipid components of each lipid model (``FitOptions.lipid_model``): name -> resonances.
LIPID_MODELS: dict[str, dict[str, tuple[Resonance, ...]]] = {
    "fatty_acyl": FATTY_ACYL_TABLE,
    "lcmodel": {n: LIPID_MM_TABLE[n] for n in ("Lip09", "Lip13a", "Lip13b", "Lip20")},
}

#: Singlets used to find the area of one proton in a basis: (name, ppm, protons).
_REFERENCE_SINGLETS: tuple[tuple[str, float, float], ...] = (
    ("Cr", 3.027, 3.0), ("PCr", 3.029, 3.0), ("NAA", 2.008, 3.0),
)


def gaussian_fid(resonances: Iterable[Resonance], n_points: int, dwell_time: float,
                 spectrometer_frequency: float, ppm_reference: float,
                 proton_area: float = 1.0) -> NDArray[np.complex128]:
    """FID ``(n_points,)`` of a sum of Gaussian lines (NIfTI-MRS convention, see :mod:`pmlmrs.core.axes`);
    a line of width 0 is a delta function (a constant-amplitude FID).

    A line of FWHM ``w`` Hz has the envelope ``exp(-(pi w t)^2 / (4 ln 2))``; its FID starts at
    ``protons * proton_area`` so that its spectral area is that of ``protons`` basis protons.
    """
    t = axes.time_axis(n_points, dwell_time)
    fid = np.zeros(n_points, dtype=np.complex128)
    for r in resonances:
        hz = (r.ppm - ppm_reference) * spectrometer_frequency
        w = r.fwhm_ppm * spectrometer_frequency
        fid += r.protons * proton_area * np.exp(2j * np.pi * hz * t - (np.pi * w * t) ** 2 / (4 * np.log(2)))
    return fid


def proton_area(basis: Basis) -> float:
    """Area (FID amplitude at t = 0) of one proton in *basis*, from a reference singlet.

    The basis spectrum (2 Hz Gaussian broadening, first point halved) is integrated over +-0.3 ppm
    around the singlet (Cr 3.027 ppm, else PCr 3.029 ppm, else NAA 2.008 ppm, 3 protons); a line of
    FID amplitude ``A`` then sums to ``n_points * A / 2``, so the FID amplitude per proton is
    ``2 * sum / n_points / 3``.
    When no reference is in the basis the unit is 1 and a warning is logged.
    """
    for name, ppm0, n_h in _REFERENCE_SINGLETS:
        if name in basis:
            fid = np.array(basis.fid(name))
            t = axes.time_axis(basis.n_points, basis.dwell_time)
            fid = fid * np.exp(-(np.pi * 2.0 * t) ** 2 / (4 * np.log(2)))
            fid[0] *= 0.5          # trapezoid rule: no flat offset, a line of amplitude A sums to n A / 2
            spec = axes.fid_to_spectrum(fid)
            ppm = basis.ppm_axis
            sel = (ppm > ppm0 - 0.3) & (ppm < ppm0 + 0.3)
            area = 2.0 * float(np.sum(spec[sel].real)) / basis.n_points
            if area > 0:
                return area / n_h
    logger.warning("basis has no Cr, PCr or NAA singlet to scale simulated components; using 1 per proton")
    return 1.0


def simulate_components(names: Sequence[str], n_points: int, dwell_time: float,
                        spectrometer_frequency: float, ppm_reference: float = 4.65, *,
                        proton_area: float = 1.0, extra: Sequence[tuple] | None = None,
                        echo_time: float | None = None, lipid_model: str = "fatty_acyl") -> Basis:
    """Simulated lipid / macromolecule components as a :class:`~pmlmrs.basis.Basis`.

    Parameters
    ----------
    names : sequence of str
        Lipid names of *lipid_model* (:data:`LIPID_MODELS`), ``MM09`` ... ``MM20``
        (:data:`LIPID_MM_TABLE`) or names of *extra* components.
    n_points, dwell_time : int, float
        Time grid (s).
    spectrometer_frequency : float
        MHz.
    ppm_reference : float
        Chemical shift at the receiver frequency.
    proton_area : float
        FID amplitude of one proton (see :func:`proton_area`); 1 gives "protons" units.
    extra : sequence of (name, ppm, fwhm_ppm, protons), optional
        User-defined single Gaussian components (a name may repeat to add lines to one component).
    echo_time : float or None
        Recorded on the returned Basis.
    lipid_model : {"fatty_acyl", "lcmodel"}
        Which lipid lines ``Lip*`` names refer to.

    Returns
    -------
    Basis
        One FID per name, in the order given.
    """
    if lipid_model not in LIPID_MODELS:
        raise BasisError(f"unknown lipid model {lipid_model!r}; known are {sorted(LIPID_MODELS)}")
    table = {n: r for n, r in LIPID_MM_TABLE.items() if n in MM_NAMES}
    table.update(LIPID_MODELS[lipid_model])
    user: dict[str, tuple[Resonance, ...]] = {}
    for name, ppm, fwhm, prot in extra or ():
        user[str(name)] = user.get(str(name), ()) + (Resonance(float(ppm), float(fwhm), float(prot)),)
    table.update(user)
    fids = []
    for n in names:
        if n not in table:
            raise BasisError(f"no simulated component {n!r}; known are {sorted(table)}")
        fids.append(gaussian_fid(table[n], n_points, dwell_time, spectrometer_frequency, ppm_reference,
                                 proton_area))
    return Basis(tuple(names), np.array(fids).reshape(len(fids), n_points), dwell_time, spectrometer_frequency,
                 echo_time=echo_time, ppm_reference=ppm_reference,
                 source=f"simulated (lipids: {lipid_model}; MM: LCModel Sec. 11.7)",
                 meta={"proton_area": proton_area})
