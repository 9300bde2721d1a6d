"""The immutable ``Spectrum``: complex time-domain data (time last), named dims, header, provenance."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pmlmrs.core import axes
from pmlmrs.core.header import Header
from pmlmrs.core.provenance import ProcessingStep
from pmlmrs.errors import ConfigError

__all__ = ["Spectrum", "NIFTI_DIM_TAGS", "dim_to_tag", "tag_to_dim"]

#: NIfTI-MRS dimension tags; a Spectrum names dims by the lower-case tag without ``DIM_``.
NIFTI_DIM_TAGS = (
    "DIM_COIL", "DIM_DYN", "DIM_INDIRECT_0", "DIM_INDIRECT_1", "DIM_INDIRECT_2", "DIM_PHASE_CYCLE",
    "DIM_EDIT", "DIM_MEAS", "DIM_USER_0", "DIM_USER_1", "DIM_USER_2", "DIM_ISIS",
)
_DIM_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def tag_to_dim(tag: str) -> str:
    """``"DIM_COIL"`` -> ``"coil"``."""
    return tag.removeprefix("DIM_").lower()


def dim_to_tag(dim: str) -> str:
    """``"coil"`` -> ``"DIM_COIL"``."""
    return "DIM_" + dim.upper()


@dataclass(frozen=True, eq=False)
class Spectrum:
    """One MRS data set: complex FIDs with named dims, a typed header and provenance.

    Parameters
    ----------
    data : (..., n_points) complex array
        Time-domain FIDs, time last, in the convention of :mod:`pmlmrs.core.axes` (NAA at 2.01 ppm
        in ``spectrum()`` on the ascending ``ppm_axis``; the conjugate of the array stored in a
        NIfTI-MRS file, as ``nifti_mrs.NIFTI_MRS[...]`` presents it). Copied and made
        read-only.
    header : Header
        Acquisition header (SI units).
    dims : tuple of str
        Names of the leading axes, ``len(dims) == data.ndim - 1``: NIfTI-MRS dim tags in lower case
        without ``DIM_`` (``"coil"``, ``"dyn"``, ``"edit"``, ...), or ``"x"``, ``"y"``, ``"z"`` for
        spectroscopic imaging.
    dim_info : mapping
        Per-dim header values (NIfTI-MRS ``dim_N_header``), keyed by dim name.
    provenance : tuple of ProcessingStep
        What produced this data set, oldest first.
    source : str or None
        The file it was read from.

    Examples
    --------
    >>> import numpy as np
    >>> s = Spectrum(np.ones(8, complex), Header(123.2, 2.5e-4))
    >>> s.n_points, s.spectral_width
    (8, 4000.0)
    """

    data: NDArray[np.complex128]
    header: Header
    dims: tuple[str, ...] = ()
    dim_info: Mapping[str, Any] = field(default_factory=dict)
    provenance: tuple[ProcessingStep, ...] = ()
    source: str | None = None

    def __post_init__(self) -> None:
        data = np.array(self.data, dtype=np.complex128, copy=True)
        if data.ndim < 1 or data.shape[-1] < 2:
            raise ConfigError(f"Spectrum data must have a time axis of at least 2 points, got shape {data.shape}")
        dims = tuple(self.dims)
        if len(dims) != data.ndim - 1:
            raise ConfigError(
                f"Spectrum dims {dims} do not match data shape {data.shape}: "
                f"expected {data.ndim - 1} names for the leading axes"
            )
        for d in dims:
            if not isinstance(d, str) or not _DIM_RE.match(d):
                raise ConfigError(f"invalid dim name {d!r}: use lower-case names such as 'coil' or 'dyn'")
        if len(set(dims)) != len(dims):
            raise ConfigError(f"duplicate dim names in {dims}")
        if not isinstance(self.header, Header):
            raise ConfigError(f"Spectrum.header must be a Header, got {type(self.header).__name__}")
        data.flags.writeable = False
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "dims", dims)
        object.__setattr__(self, "dim_info", {k: v for k, v in dict(self.dim_info).items() if k in dims})
        object.__setattr__(self, "provenance", tuple(self.provenance))
        if self.source is not None:
            object.__setattr__(self, "source", str(self.source))

    # ---- shape and axes -------------------------------------------------------------------------
    @property
    def n_points(self) -> int:
        """Number of time points."""
        return int(self.data.shape[-1])

    @property
    def shape(self) -> tuple[int, ...]:
        """Data shape, ``(*dim_sizes, n_points)``."""
        return tuple(self.data.shape)

    @property
    def dim_sizes(self) -> dict[str, int]:
        """Size of every named dim."""
        return dict(zip(self.dims, self.data.shape[:-1]))

    @property
    def spectral_width(self) -> float:
        """Hz."""
        return self.header.spectral_width

    @property
    def dwell_time(self) -> float:
        """s."""
        return self.header.dwell_time

    @property
    def spectrometer_frequency(self) -> float:
        """MHz."""
        return self.header.spectrometer_frequency

    @property
    def time_axis(self) -> NDArray[np.float64]:
        """``(n_points,)`` s."""
        return axes.time_axis(self.n_points, self.dwell_time)

    @property
    def hz_axis(self) -> NDArray[np.float64]:
        """``(n_points,)`` Hz, ascending."""
        return axes.hz_axis(self.n_points, self.dwell_time)

    @property
    def ppm_axis(self) -> NDArray[np.float64]:
        """``(n_points,)`` ppm, ascending (plots invert it)."""
        h = self.header
        return axes.ppm_axis(self.n_points, h.dwell_time, h.spectrometer_frequency, h.ppm_reference)

    def spectrum(self) -> NDArray[np.complex128]:
        """Frequency-domain data ``(..., n_points)``, same order as :attr:`ppm_axis`."""
        return axes.fid_to_spectrum(self.data)

    def slice_ppm(self, lo: float, hi: float) -> slice:
        """Index slice of the spectrum covering ``lo <= ppm <= hi``."""
        return axes.ppm_slice(self.ppm_axis, lo, hi)

    def ppm_to_hz(self, ppm: ArrayLike) -> NDArray:
        """Offset from the receiver frequency, Hz."""
        return axes.ppm_to_hz(ppm, self.spectrometer_frequency, self.header.ppm_reference)

    def hz_to_ppm(self, hz: ArrayLike) -> NDArray:
        """Chemical shift of an offset in Hz."""
        return axes.hz_to_ppm(hz, self.spectrometer_frequency, self.header.ppm_reference)

    # ---- deriving new objects -------------------------------------------------------------------
    def replace(self, **changes: Any) -> Spectrum:
        """A copy with fields changed (``data``, ``header``, ``dims``, ...), validated again."""
        return replace(self, **changes)

    def with_data(self, data: ArrayLike, *, step: ProcessingStep | None = None,
                  dims: tuple[str, ...] | None = None, header: Header | None = None,
                  dim_info: Mapping[str, Any] | None = None) -> Spectrum:
        """A new Spectrum with new data (and optionally dims/header), recording *step*."""
        prov = self.provenance + ((step,) if step is not None else ())
        return replace(
            self,
            data=data,
            dims=self.dims if dims is None else dims,
            header=self.header if header is None else header,
            dim_info=self.dim_info if dim_info is None else dim_info,
            provenance=prov,
        )

    def with_step(self, step: ProcessingStep) -> Spectrum:
        """The same data with one more provenance step."""
        return replace(self, provenance=self.provenance + (step,))

    def axis_of(self, dim: str) -> int:
        """Array axis of a named dim; ConfigError naming the dims that exist."""
        try:
            return self.dims.index(dim)
        except ValueError:
            raise ConfigError(f"{self.source or 'Spectrum'} has no dim {dim!r}; its dims are {self.dims or '()'}") from None

    def has_dim(self, dim: str) -> bool:
        """Whether a dim of that name exists."""
        return dim in self.dims

    def take(self, dim: str, index: int) -> Spectrum:
        """The sub-Spectrum at ``index`` along ``dim`` (that dim removed)."""
        ax = self.axis_of(dim)
        dims = self.dims[:ax] + self.dims[ax + 1:]
        return replace(self, data=np.take(self.data, index, axis=ax), dims=dims)

    def iter(self, dim: str) -> Iterator[Spectrum]:
        """Iterate over one dim, yielding sub-Spectra without it."""
        for i in range(self.data.shape[self.axis_of(dim)]):
            yield self.take(dim, i)

    def iter_fids(self) -> Iterator[tuple[tuple[int, ...], NDArray[np.complex128]]]:
        """Iterate over every FID: ``(index into the leading dims, (n_points,) array)``."""
        for idx in itertools.product(*(range(n) for n in self.data.shape[:-1])):
            yield idx, self.data[idx]

    def squeeze(self) -> Spectrum:
        """Drop dims of size one."""
        keep = [i for i, n in enumerate(self.data.shape[:-1]) if n != 1]
        data = self.data.reshape(tuple(self.data.shape[i] for i in keep) + (self.n_points,))
        return replace(self, data=data, dims=tuple(self.dims[i] for i in keep))

    # ---- display --------------------------------------------------------------------------------
    def __repr__(self) -> str:
        h = self.header
        dims = ", ".join(f"{d}={n}" for d, n in self.dim_sizes.items())
        te = "" if h.echo_time is None else f", TE {h.echo_time * 1e3:g} ms"
        src = "" if self.source is None else f", from {self.source.rsplit('/', 1)[-1]}"
        return (
            f"<Spectrum {h.nucleus} {h.spectrometer_frequency:.4f} MHz, {self.n_points} pts, "
            f"SW {h.spectral_width:.1f} Hz{te}{', ' + dims if dims else ''}{src}>"
        )
