"""Figures of fits: spectrum, fit, residual, baseline and components on an inverted ppm axis.

:func:`fit_figure` draws with matplotlib's object API (no pyplot state, no display needed) and
returns a ``Figure`` (embed it with :func:`pmlmrs.report._html.mpl_svg`); :func:`fit_figure_plotly`
is the interactive variant. Both draw only what the FitResult holds (real parts of the phased
window arrays), never refitting.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["fit_figure", "fit_figure_plotly", "component_traces"]

_LIPID_COLOUR = "#b35806"
_MM_COLOUR = "#8073ac"
_MET_COLOUR = "#4d4d4d"


def component_traces(result: Any, *, min_fraction: float = 0.02,
                     names: Sequence[str] | None = None) -> list[tuple[str, np.ndarray, str]]:
    """Components worth drawing: ``(name, real spectrum, colour)``, largest first.

    A component is drawn when its peak height is at least *min_fraction* of the largest component's
    (zero-amplitude ones never), or when it is named in *names*.
    """
    comps = np.real(np.asarray(result.components))
    if comps.size == 0:
        return []
    heights = np.max(np.abs(comps), axis=1) if comps.ndim == 2 else np.array([])
    top = float(heights.max()) if heights.size else 0.0
    out = []
    for i, n in enumerate(result.names):
        if result.amplitudes[i] <= 0:
            continue
        if (names is not None and n in names) or (top > 0 and heights[i] >= min_fraction * top):
            colour = _LIPID_COLOUR if n.startswith("Lip") else (_MM_COLOUR if n.startswith(("MM", "Mac")) else _MET_COLOUR)
            out.append((n, comps[i], colour))
    order = np.argsort([-float(np.max(np.abs(c))) for _, c, _ in out])
    return [out[i] for i in order]


def _label(result: Any) -> str:
    spec = result.spectrum
    src = spec.source.rsplit("/", 1)[-1] if spec.source else ""
    return src


def fit_figure(result: Any, *, ax: Any = None, title: str | None = None, components: bool = True,
               residual: bool = True, baseline: bool = True, ppm_range: tuple[float, float] | None = None,
               max_components: int = 14, figsize: tuple[float, float] = (8.0, 6.0)) -> Any:
    """Data, fit, baseline, residual and components of one fit, ppm axis inverted (high ppm left).

    Layout (LCModel-like, one panel): the residual on top (offset above the data), the data (black)
    with the fit (red) and the baseline (dashed) in the middle, the fitted components stacked below,
    each labelled at its largest peak.

    Parameters
    ----------
    result : FitResult
    ax : matplotlib Axes, optional
        Draw into it (its figure is returned); a new Figure otherwise.
    title : str, optional
        Defaults to the spectrum's file name.
    components, residual, baseline : bool
    ppm_range : (lo, hi), optional
        Restrict the x axis.
    max_components : int
        Draw at most this many components (largest first).
    figsize : (w, h)
        Inches, for a new Figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        ax = fig.add_subplot(1, 1, 1)
    else:
        fig = ax.figure
    ppm = np.asarray(result.ppm)
    data = np.real(result.data)
    fit = np.real(result.fit)
    base = np.real(result.baseline)
    res = data - fit
    sel = np.ones(ppm.size, bool) if ppm_range is None else (ppm >= min(ppm_range)) & (ppm <= max(ppm_range))
    if not sel.any():
        sel = np.ones(ppm.size, bool)
    span = float(np.ptp(data[sel])) or 1.0
    top = float(np.max(data[sel]))

    ax.plot(ppm, data, color="black", lw=0.8, label="data")
    ax.plot(ppm, fit, color="#d62728", lw=1.0, label="fit")
    if baseline:
        ax.plot(ppm, base, color="#1f77b4", lw=0.8, ls="--", label="baseline")
    if residual:
        off = top + 0.1 * span - float(np.min(res[sel]))
        ax.plot(ppm, res + off, color="#2ca02c", lw=0.7, label="residual")
        ax.axhline(off, color="#2ca02c", lw=0.4, ls=":")
    if components:
        traces = component_traces(result)[:max_components]
        # Stack the components downwards, each under the previous one by its own height.
        bottom = float(np.min(np.minimum(data[sel], base[sel])))
        gap = 0.04 * span
        for name, y, colour in traces:
            off = bottom - gap - float(np.max(y[sel]))
            bottom = off + float(np.min(y[sel]))
            ax.plot(ppm, y + off, color=colour, lw=0.7)
            j = int(np.argmax(np.abs(y[sel])))
            ax.annotate(name, (ppm[sel][j], off + y[sel][j]), fontsize=7, color=colour,
                        xytext=(2, 2), textcoords="offset points")
    ax.set_xlim(float(ppm[sel].max()), float(ppm[sel].min()))
    ax.set_xlabel("chemical shift / ppm")
    ax.set_yticks([])
    for s in ("left", "right", "top"):
        ax.spines[s].set_visible(False)
    ax.legend(loc="upper left", fontsize=8, frameon=False, ncol=4)
    ax.set_title(title if title is not None else _label(result), fontsize=10, loc="left")
    return fig


def fit_figure_plotly(result: Any, *, title: str | None = None, components: bool = True,
                      max_components: int = 14) -> Any:
    """Interactive version of :func:`fit_figure` (plotly ``Figure``; components hidden until clicked)."""
    import plotly.graph_objects as go

    ppm = np.asarray(result.ppm)
    data = np.real(result.data)
    fit = np.real(result.fit)
    res = data - fit
    span = float(np.ptp(data)) or 1.0
    off = float(np.max(data)) + 0.1 * span - float(np.min(res))
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=ppm, y=data, name="data", line={"color": "black", "width": 1}))
    fig.add_trace(go.Scatter(x=ppm, y=fit, name="fit", line={"color": "#d62728", "width": 1.2}))
    fig.add_trace(go.Scatter(x=ppm, y=np.real(result.baseline), name="baseline",
                             line={"color": "#1f77b4", "width": 1, "dash": "dash"}))
    fig.add_trace(go.Scatter(x=ppm, y=res + off, name="residual (offset)", line={"color": "#2ca02c", "width": 1}))
    if components:
        for name, y, colour in component_traces(result)[:max_components]:
            fig.add_trace(go.Scatter(x=ppm, y=y, name=name, visible="legendonly",
                                     line={"color": colour, "width": 1}))
    fig.update_layout(
        title=title if title is not None else _label(result),
        xaxis={"title": "chemical shift / ppm", "autorange": "reversed"},
        yaxis={"showticklabels": False},
        template="simple_white", height=460, margin={"l": 20, "r": 20, "t": 40, "b": 40},
    )
    return fig
