"""1H spin systems of brain metabolites: chemical shifts (ppm), scalar couplings (Hz), proton counts.

Sources
-------
- V. Govindaraju, K. Young, A. A. Maudsley. Proton NMR chemical shifts and coupling constants for
  brain metabolites. NMR Biomed 2000; 13:129-153, doi:10.1002/1099-1492(200005)13:3<129::AID-NBM619>3.0.CO;2-V,
  Table 2, for every metabolite below unless noted, with the published corrections (corrigendum) for
  the choline moieties of GPC and PCho and for taurine.
- GABA: P. G. Near et al. (J-difference editing of GABA: simulated and experimental multiplet patterns,
  MRM 2013; 70:1183-1191), the values Govindaraju and Near recommend in place of the 2000 table.
- Glucose anomers in the proportion 0.36 alpha : 0.64 beta (mutarotation equilibrium; also the choice of
  the ISMRM 2016 fitting-challenge basis).

Verification status
-------------------
The values of Ala, Asp, Cr, PCr, Gln, Glu, GSH, Gly, Ins, Lac, NAA, PCho, GPC, sIns, Tau, alpha-Glc and
GABA (Near 2013) were checked against an independent transcription of the same tables. Those of Asc,
NAAG, PE, beta-Glc and Ace were checked only through the agreement of the simulated PRESS TE 30 ms basis
with the ISMRM 2016 challenge basis (correlation 0.97-1.00, see ``tests/basis/test_simulate.py``).
Further 2015 corrections (other than GABA) are not applied.

Conventions
-----------
- Each metabolite is a tuple of :class:`SpinGroup` s: the moieties that are not scalar-coupled to each
  other (e.g. the NAA acetyl singlet and its aspartate ABX system). Groups are simulated separately and
  their signals added; this is exact, because uncoupled groups evolve independently.
- A spin group lists its spins by chemical shift; ``scale`` multiplies its signal. An uncoupled singlet
  of ``n`` equivalent protons is written as one spin with ``scale = n`` (exact for a singlet).
  Coupled methyl groups (Lac, Ala) are written as three spins, so the quartet of the CH partner is
  right.
- ``nuclei`` marks heteronuclei (``"31P"``) coupled to the protons of phosphorylated moieties (GPC, PCho,
  PE): they enter the Hamiltonian only through the secular ``J Iz Sz`` term, are not touched by the 1H
  pulses and are not detected. Couplings to 14N (about 2.7 Hz in the choline moieties) are left out:
  the quadrupolar 14N relaxes fast enough in solution to decouple them.
- Exchangeable NH / NH2 / OH protons (NAA NH 7.82 ppm, Gln NH2 6.82/7.53 ppm, ...) are left out, as in
  most brain basis sets (they exchange with water and are largely saturated by water suppression).
- Coupling pairs are 0-based spin indices within a group: ``(i, j, J_Hz)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pmlmrs.errors import BasisError

__all__ = ["SpinGroup", "Metabolite", "METABOLITES", "metabolite_names", "get_metabolite"]


@dataclass(frozen=True)
class SpinGroup:
    """One scalar-coupled moiety.

    Parameters
    ----------
    shifts : tuple of float
        Chemical shift (ppm) of every spin; the value of a heteronucleus is ignored (use 0.0).
    couplings : tuple of (int, int, float)
        Scalar couplings ``(i, j, J)`` in Hz between spins ``i`` and ``j`` (0-based).
    scale : float
        Multiplies the signal of the group: the number of equivalent protons of a singlet written as one
        spin, or an isomer fraction (glucose anomers).
    nuclei : tuple of str, optional
        ``"1H"`` (default for every spin) or ``"31P"`` per spin.
    label : str
        A name for the moiety (documentation only).
    """

    shifts: tuple[float, ...]
    couplings: tuple[tuple[int, int, float], ...] = ()
    scale: float = 1.0
    nuclei: tuple[str, ...] | None = None
    label: str = ""

    def __post_init__(self) -> None:
        n = len(self.shifts)
        if n == 0:
            raise BasisError(f"spin group {self.label!r} has no spins")
        nuc = self.nuclei if self.nuclei is not None else ("1H",) * n
        if len(nuc) != n or any(x not in ("1H", "31P") for x in nuc):
            raise BasisError(f"spin group {self.label!r}: nuclei must be '1H' or '31P', one per spin")
        object.__setattr__(self, "nuclei", tuple(nuc))
        for i, j, _ in self.couplings:
            if not (0 <= i < n and 0 <= j < n) or i == j:
                raise BasisError(f"spin group {self.label!r}: bad coupling pair ({i}, {j}) for {n} spins")
            if nuc[i] != "1H" and nuc[j] != "1H":
                raise BasisError(f"spin group {self.label!r}: couplings between two heteronuclei are not modelled")

    @property
    def n_spins(self) -> int:
        """All spins, heteronuclei included."""
        return len(self.shifts)

    @property
    def n_protons(self) -> float:
        """Protons represented (1H spins times ``scale``)."""
        return sum(1 for x in self.nuclei if x == "1H") * self.scale  # type: ignore[union-attr]


@dataclass(frozen=True)
class Metabolite:
    """A metabolite: its LCModel name, its spin groups, and where the values come from."""

    name: str
    groups: tuple[SpinGroup, ...]
    source: str = "Govindaraju 2000"
    note: str = field(default="", compare=False)

    @property
    def n_protons(self) -> float:
        """Non-exchangeable protons simulated (glucose: weighted over anomers)."""
        return float(sum(g.n_protons for g in self.groups))


def _singlet(ppm: float, protons: float, label: str) -> SpinGroup:
    return SpinGroup((ppm,), (), float(protons), None, label)


_G = "Govindaraju 2000"
_GC = "Govindaraju 2000 (with the corrigendum values)"

#: The spin-system table, keyed by LCModel name.
METABOLITES: dict[str, Metabolite] = {m.name: m for m in (
    Metabolite("Ace", (_singlet(1.904, 3, "CH3"),), _G),
    Metabolite("Ala", (SpinGroup((3.7746, 1.4667, 1.4667, 1.4667),
                                 ((0, 1, 7.234), (0, 2, 7.234), (0, 3, 7.234)), label="CH-CH3"),), _G),
    Metabolite("Asc", (SpinGroup((4.4965, 4.0072, 3.7469, 3.7194),
                                 ((0, 1, 2.0713), (1, 2, 7.6261), (1, 3, 4.1079), (2, 3, -11.5487)),
                                 label="4-CH 5-CH 6-CH2"),), _G),
    Metabolite("Asp", (SpinGroup((3.8914, 2.8011, 2.6533),
                                 ((0, 1, 3.647), (0, 2, 9.107), (1, 2, -17.426)), label="ABX"),), _G),
    Metabolite("Cr", (_singlet(3.027, 3, "N-CH3"), _singlet(3.913, 2, "CH2")), _G),
    Metabolite("GABA", (SpinGroup((2.2840, 2.2840, 1.8880, 1.8880, 3.0130, 3.0130),
                                  ((0, 1, -15.938), (0, 2, 7.678), (0, 3, 6.980), (1, 2, 6.980),
                                   (1, 3, 7.678), (2, 3, -15.000), (2, 4, 8.510), (2, 5, 6.503),
                                   (3, 4, 6.503), (3, 5, 8.510), (4, 5, -14.062)),
                                  label="2-CH2 3-CH2 4-CH2"),),
              "Near et al. 2013 (MRM 70:1183)"),
    Metabolite("GPC", (
        _singlet(3.212, 9, "N(CH3)3"),
        SpinGroup((3.605, 3.672, 3.903, 3.871, 3.946, 0.0),
                  ((0, 1, -14.78), (0, 2, 5.77), (1, 2, 4.53), (2, 3, 5.77), (2, 4, 4.53), (3, 4, -14.78),
                   (3, 5, 6.03), (4, 5, 6.03)),
                  nuclei=("1H", "1H", "1H", "1H", "1H", "31P"), label="glycerol + 31P"),
        SpinGroup((4.312, 4.312, 3.659, 3.659, 0.0),
                  ((0, 1, -9.32), (0, 2, 3.10), (0, 3, 5.90), (1, 2, 5.90), (1, 3, 3.10), (2, 3, -9.32),
                   (0, 4, 6.03), (1, 4, 6.03)),
                  nuclei=("1H", "1H", "1H", "1H", "31P"), label="choline CH2-CH2 + 31P"),
    ), _GC),
    Metabolite("GSH", (
        _singlet(3.769, 2, "glycine CH2"),
        SpinGroup((4.5608, 2.9264, 2.9747), ((0, 1, 7.09), (0, 2, 4.71), (1, 2, -14.06)), label="cysteine"),
        SpinGroup((3.769, 2.159, 2.146, 2.510, 2.560),
                  ((0, 1, 6.34), (0, 2, 6.36), (1, 2, -15.48), (1, 3, 6.7), (1, 4, 7.6), (2, 3, 7.6),
                   (2, 4, 6.7), (3, 4, -15.92)), label="glutamate"),
    ), _G),
    Metabolite("Glc", (
        SpinGroup((5.216, 3.519, 3.698, 3.395, 3.822, 3.826, 3.749),
                  ((0, 1, 3.8), (1, 2, 9.6), (2, 3, 9.4), (3, 4, 9.9), (4, 5, 1.5), (4, 6, 6.0), (5, 6, -12.1)),
                  scale=0.36, label="alpha-glucose"),
        SpinGroup((4.630, 3.230, 3.473, 3.387, 3.450, 3.882, 3.707),
                  ((0, 1, 8.0), (1, 2, 9.1), (2, 3, 9.4), (3, 4, 8.9), (4, 5, 1.6), (4, 6, 5.4), (5, 6, -12.3)),
                  scale=0.64, label="beta-glucose"),
    ), _G, "0.36 alpha + 0.64 beta"),
    Metabolite("Gln", (SpinGroup((3.7530, 2.1290, 2.1090, 2.4320, 2.4540),
                                 ((0, 1, 5.847), (0, 2, 6.500), (1, 2, -14.504), (1, 3, 9.165), (1, 4, 6.347),
                                  (2, 3, 6.324), (2, 4, 9.209), (3, 4, -15.371)),
                                 label="2-CH 3-CH2 4-CH2"),), _G),
    Metabolite("Glu", (SpinGroup((3.7433, 2.0375, 2.1200, 2.3378, 2.3520),
                                 ((0, 1, 7.331), (0, 2, 4.651), (1, 2, -14.849), (1, 3, 6.413), (1, 4, 8.406),
                                  (2, 3, 8.478), (2, 4, 6.875), (3, 4, -15.915)),
                                 label="2-CH 3-CH2 4-CH2"),), _G),
    Metabolite("Gly", (_singlet(3.548, 2, "CH2"),), _G),
    Metabolite("Ins", (SpinGroup((3.5217, 4.0538, 3.5217, 3.6144, 3.2690, 3.6144),
                                 ((0, 1, 2.889), (1, 2, 3.006), (2, 3, 9.997), (3, 4, 9.485), (4, 5, 9.482),
                                  (5, 0, 9.998)), label="ring CH x6"),), _G),
    Metabolite("Lac", (SpinGroup((4.0974, 1.3142, 1.3142, 1.3142),
                                 ((0, 1, 6.933), (0, 2, 6.933), (0, 3, 6.933)), label="CH-CH3"),), _G),
    Metabolite("NAA", (
        _singlet(2.008, 3, "acetyl CH3"),
        SpinGroup((4.3817, 2.6727, 2.4863), ((0, 1, 3.861), (0, 2, 9.821), (1, 2, -15.592)),
                  label="aspartate CH-CH2"),
    ), _G),
    Metabolite("NAAG", (
        _singlet(2.042, 3, "acetyl CH3"),
        SpinGroup((4.607, 2.721, 2.519), ((0, 1, 4.412), (0, 2, 9.515), (1, 2, -15.910)),
                  label="aspartyl CH-CH2"),
        SpinGroup((4.128, 1.8847, 2.0476, 2.1797, 2.1887),
                  ((0, 1, 4.61), (0, 2, 8.42), (1, 2, -14.28), (1, 3, 10.56), (1, 4, 4.9), (2, 3, 11.11),
                   (2, 4, 4.85), (3, 4, -15.28)), label="glutamate"),
    ), _G),
    Metabolite("PCho", (
        _singlet(3.208, 9, "N(CH3)3"),
        SpinGroup((4.2805, 4.2805, 3.641, 3.641, 0.0),
                  ((0, 1, -14.89), (0, 2, 2.284), (0, 3, 7.231), (1, 2, 7.326), (1, 3, 2.235), (2, 3, -14.19),
                   (0, 4, 6.298), (1, 4, 6.249)),
                  nuclei=("1H", "1H", "1H", "1H", "31P"), label="CH2-CH2 + 31P"),
    ), _GC),
    Metabolite("PCr", (_singlet(3.029, 3, "N-CH3"), _singlet(3.930, 2, "CH2")), _G),
    Metabolite("PE", (SpinGroup((3.9765, 3.9765, 3.2160, 3.2160, 0.0),
                                ((0, 1, -14.56), (0, 2, 3.182), (0, 3, 6.716), (1, 2, 7.204), (1, 3, 2.980),
                                 (2, 3, -14.71), (0, 4, 7.288), (1, 4, 7.088)),
                                nuclei=("1H", "1H", "1H", "1H", "31P"), label="OCH2-NCH2 + 31P"),), _G),
    Metabolite("Tau", (SpinGroup((3.4206, 3.4206, 3.2459, 3.2459),
                                 ((0, 1, -12.438), (0, 2, 6.742), (0, 3, 6.464), (1, 2, 6.403), (1, 3, 6.792),
                                  (2, 3, -12.93)), label="NCH2-SCH2"),), _GC),
    Metabolite("sIns", (_singlet(3.34, 6, "ring CH x6"),), _G),
)}


def metabolite_names() -> list[str]:
    """LCModel names of the metabolites in :data:`METABOLITES`, sorted."""
    return sorted(METABOLITES)


def get_metabolite(name: str) -> Metabolite:
    """The spin system of one metabolite (aliases such as ``PCh``, ``mI``, ``Scyllo`` accepted).

    Raises
    ------
    BasisError
        Unknown name; the message lists the known ones.
    """
    from pmlmrs.basis.basis import canonical_name

    key = canonical_name(name)
    if key not in METABOLITES:
        folded = {k.lower(): k for k in METABOLITES}
        key = folded.get(key.lower(), key)
    if key not in METABOLITES:
        raise BasisError(f"no spin system for metabolite {name!r}; known: {', '.join(metabolite_names())}")
    return METABOLITES[key]
