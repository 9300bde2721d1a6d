"""Shared HTML infrastructure: the Jinja environment, figure embedding, self-contained pages.

Every page pmlmrs writes is one self-contained file: CSS inline, matplotlib figures inline as SVG
(or PNG data URIs), plotly figures with the plotly.js bundle inlined once per page, no external
``<script src>``/``<link href>`` and no network access when opened.

Templates live in ``pmlmrs/report/templates/*.jinja`` (package data). Pages extend
``base.html.jinja``, whose blocks are ``title``, ``head`` (extra CSS), ``header``, ``content`` and
``footer``; its context variables are ``title``, ``subtitle``, ``generated`` (UTC time),
``version`` and ``plotly_js`` (the inline bundle, emitted in ``<head>`` when the page has plotly
figures; :class:`Page` fills it).
"""

from __future__ import annotations

import base64
import datetime as _dt
import functools
import io
import math
import os
from pathlib import Path
from typing import Any

from pmlmrs.errors import WriteError

__all__ = [
    "environment",
    "render",
    "write_html",
    "mpl_svg",
    "mpl_png",
    "plotly_div",
    "plotly_js",
    "Page",
    "fmt_number",
    "level_class",
    "voi_label",
    "STAGE_LABELS",
    "stage_label",
    "iris_flag_value",
    "DETECTION_SD",
    "detected",
    "quotient_text",
]

#: Readable stage names for the pages (tables and TSVs keep the raw labels).
STAGE_LABELS = {"pre_iris": "pre-IRIS", "iris": "IRIS", "early_post_pml": "early post-PML",
                "late_post_pml": "late post-PML", "unassigned": "unassigned"}
#: A NAWM value below this many of its own SDs (or ≤ 0) counts as "not detected": a lesion/NAWM
#: quotient over it is not shown (pages only; the TSVs keep every quotient).
DETECTION_SD = 2.0


def fmt_number(value: Any, spec: str = ".3g", missing: str = "n/a") -> str:
    """Format a number for a table (``n/a`` for None/NaN, ``inf`` kept)."""
    if value is None:
        return missing
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(f):
        return missing
    if math.isinf(f):
        return "∞" if f > 0 else "−∞"
    return format(f, spec)


def level_class(level: str) -> str:
    """CSS class of a QC level (``ok``/``warn``/``fail``)."""
    return {"ok": "qc-ok", "warn": "qc-warn", "fail": "qc-fail"}.get(str(level), "qc-unknown")


def voi_label(voi: str) -> str:
    """Display label of a VOI: ``lesion``, ``NAWM``; other names as given."""
    return {"lesion": "lesion", "nawm": "NAWM"}.get(voi, voi)


def stage_label(stage: Any) -> str:
    """Readable name of a stage label (``early_post_pml`` → ``early post-PML``); others as given."""
    return STAGE_LABELS.get(str(stage), str(stage))


def iris_flag_value(value: Any) -> bool | None:
    """An iris.tsv ``iris_flag`` as True/False, or None when not evaluable (n/a, NA, NaN, empty)."""
    from pmlmrs.config import parse_bool

    try:
        return parse_bool(value)
    except ValueError:
        return None


def _float(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def detected(value: Any, sd: Any, k: float = DETECTION_SD) -> bool | None:
    """Whether a (NAWM) value is detected: > 0 and, with a known SD, ≥ k·SD; None when it is missing."""
    v, e = _float(value), _float(sd)
    if math.isnan(v):
        return None
    return v > 0 and (math.isnan(e) or v >= k * e)


def quotient_text(lesion: Any, nawm: Any, nawm_sd: Any, quotient: Any, ratio: str, spec: str = ".3g") -> str:
    """A lesion/NAWM quotient for display: ``n/a (NAWM lipid not detected; > 2.9)`` when the NAWM
    denominator is not :func:`detected` (the bound is lesion / (NAWM + k·SD)), else the number."""
    if detected(nawm, nawm_sd) is not False:
        return fmt_number(quotient, spec)
    num = ratio.replace("/", "_").split("_")[0]
    what = "lipid" if num.startswith("Lip") else num
    le, bound = _float(lesion), max(_float(nawm), 0.0) + DETECTION_SD * _float(nawm_sd)
    text = f"n/a (NAWM {what} not detected"
    if le > 0 and bound > 0:
        text += f"; > {format(le / bound, spec)}"
    return text + ")"


@functools.lru_cache(maxsize=1)
def environment() -> Any:
    """The Jinja environment over the package templates (autoescaping on, strict undefined)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pmlmrs.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "jinja", "html.jinja"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = fmt_number
    env.filters["level_class"] = level_class
    env.filters["stage"] = stage_label
    return env


def _base_context() -> dict[str, Any]:
    from pmlmrs import __version__

    return {
        "version": __version__,
        "generated": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "subtitle": "",
        "plotly_js": "",
    }


def render(template: str, **context: Any) -> str:
    """Render a package template with the base context (version, generation time) filled in."""
    ctx = _base_context()
    ctx.update(context)
    return environment().get_template(template).render(**ctx)


def write_html(html: str, path: str | os.PathLike, *, force: bool = True) -> Path:
    """Write a page (UTF-8); WriteError when it exists and *force* is false."""
    p = Path(path)
    if p.exists() and not force:
        raise WriteError("exists; use --force (force=True) to overwrite", p)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise WriteError(f"cannot write: {exc}", p) from exc
    return p


def mpl_svg(fig: Any, *, close: bool = True) -> Any:
    """A matplotlib Figure as inline ``<svg>`` markup (safe for templates)."""
    from markupsafe import Markup

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight",
                metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    if close:
        _close(fig)
    svg = buf.getvalue()
    i = svg.find("<svg")
    return Markup(svg[i:] if i >= 0 else svg)


def mpl_png(fig: Any, *, dpi: int = 110, close: bool = True, alt: str = "figure") -> Any:
    """A matplotlib Figure as an ``<img>`` with a PNG data URI (smaller than SVG for dense plots)."""
    from markupsafe import Markup, escape

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    if close:
        _close(fig)
    b64 = base64.b64encode(buf.getvalue()).decode("ascii")
    return Markup(f'<img class="figure" alt="{escape(alt)}" src="data:image/png;base64,{b64}"/>')


def _close(fig: Any) -> None:
    try:
        import matplotlib.pyplot as plt

        plt.close(fig)
    except Exception:  # noqa: BLE001 - figures made without pyplot need no closing
        pass


@functools.lru_cache(maxsize=1)
def plotly_js() -> str:
    """The plotly.js bundle shipped with the plotly package (for one inline ``<script>`` per page)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def plotly_div(fig: Any, *, div_id: str | None = None) -> Any:
    """A plotly figure as a ``<div>`` + inline script, *without* plotly.js (the page includes it once).

    A given *div_id* is prefixed with ``fig-`` so it cannot clash with section ids of the template.
    """
    from markupsafe import Markup

    if div_id is not None and not div_id.startswith("fig-"):
        div_id = f"fig-{div_id}"

    html = fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                       config={"displaylogo": False, "responsive": True})
    return Markup(html)


class Page:
    """Collects figures for one page and renders it self-contained.

    >>> page = Page("fit_report.html.jinja", title="dataset1")      # doctest: +SKIP
    >>> ctx = {"figure": page.mpl(fig), "interactive": page.plotly(pfig)}  # doctest: +SKIP
    >>> page.write(path, **ctx)                                       # doctest: +SKIP

    Matplotlib figures go in as SVG (or PNG with ``fmt="png"``); plotly figures as divs, and the
    plotly.js bundle is added to ``<head>`` once when the page has at least one.
    """

    def __init__(self, template: str, **context: Any) -> None:
        self.template = template
        self.context = dict(context)
        self._uses_plotly = False

    def mpl(self, fig: Any, *, fmt: str = "svg", alt: str = "figure") -> Any:
        """Embed a matplotlib figure (closes it)."""
        return mpl_png(fig, alt=alt) if fmt == "png" else mpl_svg(fig)

    def plotly(self, fig: Any, *, div_id: str | None = None) -> Any:
        """Embed a plotly figure; the page will carry plotly.js once."""
        self._uses_plotly = True
        return plotly_div(fig, div_id=div_id)

    def render(self, **context: Any) -> str:
        """The HTML text."""
        from markupsafe import Markup

        ctx = {**self.context, **context}
        if self._uses_plotly:
            ctx["plotly_js"] = Markup(plotly_js().replace("</script>", "<\\/script>"))
        return render(self.template, **ctx)

    def write(self, path: str | os.PathLike, *, force: bool = True, **context: Any) -> Path:
        """Render and write."""
        return write_html(self.render(**context), path, force=force)
