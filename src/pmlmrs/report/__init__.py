"""Reports: self-contained HTML pages (Jinja templates + matplotlib/plotly figures) and tables.

- :mod:`pmlmrs.report._html`: the Jinja environment, figure embedding, :class:`Page`.
- :mod:`pmlmrs.report.figures`: :func:`fit_figure` (spectrum, fit, residual, baseline, components).
- :mod:`pmlmrs.report.fit_report`: :func:`write_fit_report` (``OUTDIR/<spectrum>/report.html``).
- :mod:`pmlmrs.report.exam`, :mod:`pmlmrs.report.patient`, :mod:`pmlmrs.report.cohort`: exam report,
  patient timeline, cohort report; :mod:`pmlmrs.report.mrsinmrs`: the MRSinMRS checklist.

Submodules are imported on use so that ``import pmlmrs.report`` stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["write_fit_report", "render_fit_report", "fit_figure", "fit_figure_plotly", "Page", "render",
           "write_exam_report", "write_timeline", "write_cohort_report", "checklist"]

_LAZY = {
    "write_exam_report": "pmlmrs.report.exam",
    "write_timeline": "pmlmrs.report.patient",
    "write_cohort_report": "pmlmrs.report.cohort",
    "checklist": "pmlmrs.report.mrsinmrs",
    "write_fit_report": "pmlmrs.report.fit_report",
    "render_fit_report": "pmlmrs.report.fit_report",
    "fit_figure": "pmlmrs.report.figures",
    "fit_figure_plotly": "pmlmrs.report.figures",
    "Page": "pmlmrs.report._html",
    "render": "pmlmrs.report._html",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pmlmrs.report' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
