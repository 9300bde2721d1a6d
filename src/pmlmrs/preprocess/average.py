"""Averaging of transients (mean over the transient dim), keeping the count in the header."""

from __future__ import annotations

import numpy as np

from pmlmrs.core import ProcessingStep, Spectrum
from pmlmrs.preprocess._util import check_finite, skip, transient_dim

__all__ = ["average", "N_TRANSIENTS_KEY"]

#: Header key (``acquisition`` in memory, user-defined ``vendor`` entry in NIfTI-MRS) holding the
#: number of transients averaged.
N_TRANSIENTS_KEY = "NumberOfTransients"


def average(spectrum: Spectrum, dim: str | None = None) -> Spectrum:
    """Mean over the transient dim.

    Parameters
    ----------
    spectrum : Spectrum
    dim : str, optional
        Transient dim (default: the first of ``"dyn"``, ``"average"``, ``"meas"`` present).

    Returns
    -------
    Spectrum
        Without that dim. ``header.acquisition["NumberOfTransients"]`` holds the number of
        transients averaged (times any earlier count), mirrored as a user-defined key in
        ``header.vendor`` so that the NIfTI-MRS writer keeps it. Unchanged, with a logged reason,
        when there is no transient dim.
    """
    dim = transient_dim(spectrum, dim)
    if dim is None:
        skip("average", f"no transient dim in dims {spectrum.dims}", level="warning")
        return spectrum
    check_finite(spectrum)
    ax = spectrum.axis_of(dim)
    n = spectrum.dim_sizes[dim]
    data = np.asarray(spectrum.data).mean(axis=ax)
    h = spectrum.header
    prev = h.acquisition.get(N_TRANSIENTS_KEY)
    total = n * int(prev) if isinstance(prev, (int, np.integer)) and prev > 0 else n
    acq = {**h.acquisition, N_TRANSIENTS_KEY: total}
    vendor = {**h.vendor, N_TRANSIENTS_KEY: {"Value": total,
                                            "Description": "number of transients averaged (pmlmrs preprocess)"}}
    dims = spectrum.dims[:ax] + spectrum.dims[ax + 1:]
    dim_info = {k: v for k, v in spectrum.dim_info.items() if k != dim}
    step = ProcessingStep("average", params={"dim": dim, "n_averaged": n, "n_transients_total": total},
                          details=f"mean of {n} transients along {dim!r}")
    return spectrum.with_data(data, dims=dims, dim_info=dim_info, header=h.replace(acquisition=acq, vendor=vendor),
                              step=step)
