"""``Basis``: metabolite basis FIDs on one time grid, with the acquisition values they were made for."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pmlmrs.core import axes
from pmlmrs.errors import BasisError

__all__ = ["Basis", "canonical_name", "NAME_ALIASES"]

#: Alternative spellings accepted in basis files, mapped to the LCModel names pmlmrs uses.
NAME_ALIASES: dict[str, str] = {
    "PCh": "PCho", "Cho": "PCho", "mI": "Ins", "mIns": "Ins", "Ins": "Ins", "myo-inositol": "Ins",
    "Scyllo": "sIns", "sI": "sIns", "scyllo": "sIns", "Glc": "Glc", "Lac": "Lac",
    "Mac": "Mac", "MM": "Mac", "MMBL": "Mac", "GABA": "GABA", "NAAG": "NAAG", "NAA": "NAA",
}


def canonical_name(name: str) -> str:
    """The LCModel name for a metabolite (``PCh`` -> ``PCho``, ``Scyllo`` -> ``sIns``, ``mI`` -> ``Ins``)."""
    n = name.strip()
    return NAME_ALIASES.get(n, n)


@dataclass(frozen=True, eq=False)
class Basis:
    """Basis FIDs, one per metabolite, in the pmlmrs Spectrum convention (as :class:`~pmlmrs.core.Spectrum`).

    Parameters
    ----------
    names : tuple of str
        Metabolite names (canonical LCModel spelling, see :func:`canonical_name`).
    fids : (n_metabolites, n_points) complex array
        Time-domain basis signals, sampled every ``dwell_time`` from t = 0.
    dwell_time : float
        s.
    spectrometer_frequency : float
        MHz the basis was simulated or measured at.
    echo_time : float or None
        s.
    ppm_reference : float
        Chemical shift at the basis receiver frequency (4.65 ppm for 1H unless the file says
        otherwise), so the basis and data ppm axes can be aligned.
    nucleus : str
    source : str or None
        File or folder it was read from.
    meta : mapping
        Anything else the file said (sequence, creator, ...).
    """

    names: tuple[str, ...]
    fids: NDArray[np.complex128]
    dwell_time: float
    spectrometer_frequency: float
    echo_time: float | None = None
    ppm_reference: float = 4.65
    nucleus: str = "1H"
    source: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        fids = np.array(self.fids, dtype=np.complex128, copy=True)
        names = tuple(str(n) for n in self.names)
        if fids.ndim != 2 or fids.shape[0] != len(names):
            raise BasisError(
                f"{self.source or 'Basis'}: fids must be (n_metabolites, n_points) with one row per name; "
                f"got shape {fids.shape} for {len(names)} names"
            )
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise BasisError(f"{self.source or 'Basis'}: duplicate metabolite names {dup}")
        if not np.all(np.isfinite(fids)):
            bad = [names[i] for i in np.where(~np.all(np.isfinite(fids), axis=1))[0]]
            raise BasisError(f"{self.source or 'Basis'}: non-finite values in {bad}")
        if self.dwell_time <= 0 or self.spectrometer_frequency <= 0:
            raise BasisError(f"{self.source or 'Basis'}: dwell_time and spectrometer_frequency must be positive")
        fids.flags.writeable = False
        object.__setattr__(self, "fids", fids)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "dwell_time", float(self.dwell_time))
        object.__setattr__(self, "spectrometer_frequency", float(self.spectrometer_frequency))
        object.__setattr__(self, "ppm_reference", float(self.ppm_reference))
        object.__setattr__(self, "meta", dict(self.meta))

    @property
    def n_points(self) -> int:
        """Points per basis FID."""
        return int(self.fids.shape[1])

    @property
    def spectral_width(self) -> float:
        """Hz."""
        return 1.0 / self.dwell_time

    @property
    def ppm_axis(self) -> NDArray[np.float64]:
        """``(n_points,)`` ppm, ascending, of :meth:`spectra`."""
        return axes.ppm_axis(self.n_points, self.dwell_time, self.spectrometer_frequency, self.ppm_reference)

    def spectra(self) -> NDArray[np.complex128]:
        """``(n_metabolites, n_points)`` frequency-domain basis spectra."""
        return axes.fid_to_spectrum(self.fids)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and canonical_name(name) in self.names

    def __len__(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        """Row of a metabolite; BasisError listing the names that exist."""
        n = canonical_name(name)
        if n not in self.names:
            raise BasisError(f"{self.source or 'Basis'} has no metabolite {name!r}; it has {list(self.names)}")
        return self.names.index(n)

    def fid(self, name: str) -> NDArray[np.complex128]:
        """The FID of one metabolite, ``(n_points,)``."""
        return self.fids[self.index(name)]

    def subset(self, names: Iterable[str]) -> Basis:
        """Only the named metabolites, in the order given."""
        idx = [self.index(n) for n in names]
        return replace(self, names=tuple(self.names[i] for i in idx), fids=self.fids[idx])

    def drop(self, names: Iterable[str]) -> Basis:
        """All metabolites except the named ones (unknown names are ignored)."""
        gone = {canonical_name(n) for n in names}
        return self.subset([n for n in self.names if n not in gone])

    def add(self, names: Iterable[str], fids: NDArray[np.complex128]) -> Basis:
        """A basis with more components on the same grid."""
        fids = np.atleast_2d(np.asarray(fids, dtype=np.complex128))
        return replace(self, names=self.names + tuple(names), fids=np.vstack([self.fids, fids]))

    def replace(self, **changes: Any) -> Basis:
        """A copy with fields changed (validated again)."""
        return replace(self, **changes)

    # ---- grid, field and reference ---------------------------------------------------------------
    def resample(self, dwell_time: float, n_points: int, *, spectrometer_frequency: float | None = None,
                 ppm_reference: float | None = None) -> Basis:
        """The basis on another time grid (Fourier interpolation; see :mod:`pmlmrs.basis.resample`).

        ``spectrometer_frequency`` (MHz) and ``ppm_reference`` retune it to a data set's field and
        ppm reference; FID values are kept, so amplitudes mean the same on either grid.
        """
        from pmlmrs.basis.resample import resample_basis

        return resample_basis(self, dwell_time, n_points, spectrometer_frequency=spectrometer_frequency,
                              ppm_reference=ppm_reference)

    def match(self, spectrum: Any, *, field_tolerance: float | None = None) -> Basis:
        """Check nucleus and field against a Spectrum and resample to its grid.

        Raises IncompatibleDataError when the nuclei differ or the spectrometer frequencies differ by
        more than *field_tolerance* (default :data:`pmlmrs.basis.resample.FIELD_TOLERANCE`, 5 %).
        """
        from pmlmrs.basis.resample import FIELD_TOLERANCE, match_basis

        return match_basis(self, spectrum,
                           field_tolerance=FIELD_TOLERANCE if field_tolerance is None else field_tolerance)

    def peak_ppm(self, name: str, lo: float, hi: float) -> float:
        """Chemical shift (ppm) of the largest peak of one metabolite between *lo* and *hi* ppm."""
        from pmlmrs.basis.reference import peak_ppm

        return peak_ppm(self.fid(name), self.dwell_time, self.spectrometer_frequency, self.ppm_reference,
                        lo, hi)[0]

    def remove_reference_peak(self, *, ppm: float = 0.0, names: Iterable[str] | None = None) -> Basis:
        """Subtract a reference singlet (TMS/DSS near 0 ppm) where one is found (or from *names*)."""
        from pmlmrs.basis.reference import remove_reference_peak

        return remove_reference_peak(self, ppm=ppm, names=None if names is None else list(names))

    def read_options(self) -> Any:
        """``ReadOptions`` with this basis's frequency, spectral width and TE, for headerless data."""
        from pmlmrs.config import ReadOptions

        return ReadOptions(central_frequency=self.spectrometer_frequency, spectral_width=self.spectral_width,
                           echo_time=None if self.echo_time is None else self.echo_time * 1e3,
                           nucleus=self.nucleus)

    def __repr__(self) -> str:
        te = "" if self.echo_time is None else f", TE {self.echo_time * 1e3:g} ms"
        return (
            f"<Basis {len(self.names)} metabolites, {self.spectrometer_frequency:.3f} MHz, {self.n_points} pts, "
            f"SW {self.spectral_width:.1f} Hz{te}: {' '.join(self.names)}>"
        )
