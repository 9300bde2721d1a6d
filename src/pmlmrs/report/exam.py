"""The per-exam report: every voxel's fit side by side, metabolites, quotients, QC, stage, IRIS.

Built only from results (FitResults, a row of :func:`pmlmrs.stats.lesion_nawm_table`, a row of
the IRIS table, QC items): nothing is refitted or recomputed. Pseudonymous IDs only.

Voxels are named by :func:`pmlmrs.study.bids.voxel_id` (``lesion``, ``nawm``, ``lesion:frontal``)
and labelled by their voi, with the acq label where the exam has several voxels of that voi
(``lesion (frontal)``). Quotients and the IRIS alert are per exam: with several lesion voxels they
use their mean (SD of the mean), as the statistics do; the page says so.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["exam_context", "render_exam_report", "write_exam_report"]

_VOIS = ("lesion", "nawm")
_RATIO_ORDER = ("tNAA_tCr", "tCho_tCr", "tNAA_tCho", "Ins_tCr", "Glx_tCr", "Lip_tCr", "Lip09_tCr", "Lip13_tCr")
_EXAM_FIELDS = (
    ("acq_time", "date"), ("days_since_pml_onset", "days since PML onset"), ("kps", "KPS"),
    ("delta_kps", "ΔKPS vs pre-PML"),
    ("edss", "EDSS"), ("delta_edss", "ΔEDSS vs pre-PML"), ("lesion_enhancing", "contrast enhancement in lesion voxel"),
)


def _as_dict(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    if hasattr(obj, "to_dict") and not isinstance(obj, Mapping):
        return dict(obj.to_dict())
    return dict(obj)


def _missing(v: Any) -> bool:
    if v is None:
        return True
    try:
        import pandas as pd

        if v is pd.NA or v is pd.NaT:
            return True
    except ImportError:  # pragma: no cover
        pass
    return isinstance(v, float) and math.isnan(v)


def _fmt_value(v: Any) -> str:
    from pmlmrs.report._html import fmt_number

    if _missing(v):
        return "n/a"
    if hasattr(v, "strftime"):
        return v.strftime("%Y-%m-%d")
    if isinstance(v, bool) or type(v).__name__ in ("bool_", "bool"):
        return "yes" if v else "no"
    if isinstance(v, (int, float)) or type(v).__module__ == "numpy":
        return fmt_number(v, ".4g")
    return str(v)


def _fmt_delta(v: Any) -> str:
    """A change with its sign (``+3``, ``-70``); as :func:`_fmt_value` when not a number."""
    from pmlmrs.report._html import fmt_number

    if _missing(v) or isinstance(v, (bool, str)):
        return _fmt_value(v)
    try:
        return fmt_number(float(v), "+.4g")
    except (TypeError, ValueError):
        return _fmt_value(v)


def _qc_rows(items: Any) -> list[dict[str, str]]:
    """QC items from QCItem objects, dicts, (level, name, message, fix) tuples or a DataFrame."""
    if items is None:
        return []
    if hasattr(items, "to_dict") and hasattr(items, "columns"):
        items = items.to_dict("records")
    rows = []
    for it in items:
        if hasattr(it, "to_dict") and not isinstance(it, Mapping):
            it = it.to_dict()
        if isinstance(it, Mapping):
            rows.append({"level": str(it.get("level", "")), "name": str(it.get("name", "")),
                         "message": str(it.get("message", "")), "fix": str(it.get("fix", "") or "")})
        elif isinstance(it, (tuple, list)):
            parts = list(it) + [""] * (4 - len(it))
            rows.append({"level": str(parts[0]), "name": str(parts[1]), "message": str(parts[2]),
                         "fix": str(parts[3])})
        else:
            rows.append({"level": "", "name": "", "message": str(it), "fix": ""})
    return rows


def _metabolite_table(ctxs: Mapping[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per component/combination with lesion and NAWM amplitude, CRLB % and /tCr."""
    names: list[str] = []
    per: dict[str, dict[str, dict[str, Any]]] = {}
    for voi, ctx in ctxs.items():
        for kind in ("components", "combinations"):
            for c in ctx[kind]:
                key = c["name"]
                if key not in names:
                    names.append(key)
                per.setdefault(key, {})[voi] = {
                    "amplitude": c.get("amplitude", c.get("value")),
                    "crlb": c.get("crlb_percent"), "ratio_tcr": c.get("ratio_tcr"),
                    "flagged": bool(c.get("flagged")), "kind": kind,
                }
    rows = []
    for n in names:
        d = per[n]
        kind = next(iter(d.values()))["kind"]
        rows.append({"name": n, "combination": kind == "combinations",
                     **{voi: d.get(voi) for voi in ctxs}})
    # The combinations (tNAA, tCr, tCho, Glx, Lip...) are what the ratios use: list them first.
    return [r for r in rows if r["combination"]] + [r for r in rows if not r["combination"]]


def _quotient_rows(quotients: Mapping[str, Any]) -> list[dict[str, Any]]:
    from pmlmrs.report._html import detected, quotient_text

    rows = []
    for r in _RATIO_ORDER:
        if f"{r}_lesion" not in quotients and f"{r}_quotient" not in quotients:
            continue
        le, nw, sd = (quotients.get(f"{r}_{k}") for k in ("lesion", "nawm", "nawm_sd"))
        rows.append({
            "ratio": r.replace("_", "/"),
            "lesion": le, "lesion_sd": quotients.get(f"{r}_lesion_sd"), "nawm": nw, "nawm_sd": sd,
            "quotient": quotient_text(le, nw, sd, quotients.get(f"{r}_quotient"), r),
            "not_detected": detected(nw, sd) is False, "difference": quotients.get(f"{r}_difference"),
        })
    return rows


def _lipid_rise_text(q: Mapping[str, Any]) -> str:
    """The lipid rise, n/a as the Lip/tCr quotient when it is that quotient and NAWM lipid is not detected."""
    from pmlmrs.report._html import fmt_number, quotient_text

    rise, quot = q.get("lipid_rise"), q.get("Lip_tCr_quotient")
    if not _missing(rise) and not _missing(quot) and (rise == quot or math.isclose(float(rise), float(quot))):
        return quotient_text(q.get("Lip_tCr_lesion"), q.get("Lip_tCr_nawm"), q.get("Lip_tCr_nawm_sd"), rise, "Lip_tCr")
    return fmt_number(rise, ".3g")


def _order(vid: str) -> tuple[int, str, str]:
    """Sort key of a voxel id: lesion voxels, then NAWM, then others; by acq label within a voi."""
    from pmlmrs.study.bids import split_voxel_id

    voi, acq = split_voxel_id(vid)
    return (_VOIS.index(voi) if voi in _VOIS else len(_VOIS), voi, acq or "")


def _labels(ids: Iterable[str]) -> dict[str, str]:
    """Display label of each voxel id: ``lesion``, ``NAWM``, and ``lesion (frontal)`` or ``lesion (no acq
    label)`` where the exam has several voxels of that voi (as the timeline names its lines)."""
    from pmlmrs.report._html import voi_label
    from pmlmrs.study.bids import split_voxel_id

    ids = sorted(ids, key=_order)
    per_voi = Counter(split_voxel_id(i)[0] for i in ids)
    out = {}
    for i in ids:
        voi, acq = split_voxel_id(i)
        out[i] = voi_label(voi) + (f" ({acq or 'no acq label'})" if per_voi[voi] > 1 else "")
    return out


def _unavailable(fitted: Iterable[str], failed: Mapping[str, str], labels: Mapping[str, str]
                 ) -> list[dict[str, str]]:
    """The voxels without a fit: each failed one with its error, and each VOI without any voxel."""
    from pmlmrs.report._html import voi_label
    from pmlmrs.study.bids import split_voxel_id

    have = {split_voxel_id(i)[0] for i in [*fitted, *failed]}
    rows = [(_order(i), {"voi": labels[i], "failed": True, "message": m}) for i, m in failed.items()]
    rows += [(_order(voi), {"voi": voi_label(voi), "failed": False,
                            "message": "no spectrum for this exam (no file in the dataset, or none given)"})
             for voi in _VOIS if voi not in have]
    return [r for _, r in sorted(rows, key=lambda kr: kr[0])]


def _mean_notes(ids: Iterable[str]) -> list[str]:
    """One sentence per VOI with several voxels: its exam values are their mean."""
    from pmlmrs.report._html import voi_label
    from pmlmrs.study.bids import split_voxel_id

    per: dict[str, list[str]] = {}
    for i in sorted(ids, key=_order):
        voi, acq = split_voxel_id(i)
        per.setdefault(voi, []).append(acq or "no acq label")
    return [f"This exam has {len(acqs)} {voi_label(voi)} voxels ({', '.join(acqs)}): its {voi_label(voi)} values "
            "here are their mean (SD of the mean from the CRLBs; a voxel that could not be fitted has no value), as "
            "in the statistics (one value per exam). The IRIS alert takes the mean of those that passed QC (a voxel "
            "left out is named in its reason)." for voi, acqs in per.items() if len(acqs) > 1]


def exam_context(exam: Any, fits: Mapping[str, Any], quotients: Any = None, iris_row: Any = None,
                 qc: Any = None, failures: Mapping[str, Any] | None = None,
                 crlb_max: float | None = None, produced_by: Sequence[str] | None = None) -> dict[str, Any]:
    """The template context of the exam report (no figures); *crlb_max*: the QC threshold used;
    *produced_by*: lines naming the software version, basis and options (default: from the fits).

    *fits* and *failures* are keyed by voxel id (``lesion``, ``nawm``, ``lesion:frontal``); the
    context's ``vois`` lists the fitted voxel ids in page order, ``voi_labels`` their labels."""
    from pmlmrs.report._html import DETECTION_SD, iris_flag_value, stage_label
    from pmlmrs.report.fit_report import fit_context
    from pmlmrs.study.bids import split_voxel_id

    ex = _as_dict(exam)
    fitted = sorted((k for k, v in (fits or {}).items() if v is not None), key=_order)
    failed = {k: str(m).strip() for k, m in (failures or {}).items()
              if k not in fitted and not _missing(m) and str(m).strip()}
    labels = _labels([*fitted, *failed])
    ctxs = {k: fit_context(fits[k], voi=split_voxel_id(k)[0], name=labels[k], crlb_max=crlb_max) for k in fitted}
    q = _as_dict(quotients)
    iris = _as_dict(iris_row)
    if isinstance(qc, Mapping):
        qc_by_voi = {voi: _qc_rows(items) for voi, items in qc.items()}
    elif qc is not None:
        qc_by_voi = {"exam": _qc_rows(qc)}
    else:
        qc_by_voi = {voi: ctx["qc"] for voi, ctx in ctxs.items()}
    qc_pass = {voi: ctx["qc_pass"] for voi, ctx in ctxs.items()}
    missing = [v for v in _VOIS if all(split_voxel_id(k)[0] != v for k in ctxs)]
    stage = str(ex.get("stage", "unassigned"))
    return {
        "participant_id": str(ex.get("participant_id", "")),
        "session_id": str(ex.get("session_id", "")),
        "exam_fields": [(label, _fmt_delta(ex.get(key)) if key.startswith("delta_") else _fmt_value(ex.get(key)))
                        for key, label in _EXAM_FIELDS if key in ex],
        "stage": stage, "stage_label": stage_label(stage),
        "stage_rule": "" if _missing(ex.get("stage_rule")) else str(ex.get("stage_rule")),
        "vois": list(ctxs),
        "voi_labels": labels,
        "missing_vois": missing,
        "unavailable": _unavailable(fitted, failed, labels),
        "mean_notes": _mean_notes([*fitted, *failed]),
        "fit_summary": {voi: ctx["fit"] for voi, ctx in ctxs.items()},
        "units": {voi: ctx["units"] for voi, ctx in ctxs.items()},
        "metabolites": _metabolite_table(ctxs),
        "ratios_by_voi": {voi: ctx["ratios"] for voi, ctx in ctxs.items()},
        "quotients": _quotient_rows(q),
        "lipid_rise": _lipid_rise_text(q) if q else "n/a",
        "detection_sd": DETECTION_SD,
        "qc": qc_by_voi,
        "qc_pass": qc_pass,
        "iris": {
            "present": bool(iris),
            "flag": iris_flag_value(iris.get("iris_flag")),
            "score": iris.get("iris_score"),
            "rule": iris.get("rule", ""),
            "reason": iris.get("reason", ""),
        },
        "crlb_max": next(iter(ctxs.values()))["crlb_max"] if ctxs else 20.0,
        "produced_by": list(produced_by) if produced_by else
        (next(iter(ctxs.values()))["key_options"] if ctxs else []),
    }


def render_exam_report(exam: Any, fits: Mapping[str, Any], quotients: Any = None, iris_row: Any = None,
                       qc: Any = None, *, failures: Mapping[str, Any] | None = None,
                       crlb_max: float | None = None, produced_by: Sequence[str] | None = None,
                       interactive: bool = False) -> str:
    """The exam report as HTML text (see :func:`write_exam_report`)."""
    from pmlmrs.report._html import Page
    from pmlmrs.report.figures import fit_figure, fit_figure_plotly

    ctx = exam_context(exam, fits, quotients, iris_row, qc, failures, crlb_max, produced_by)
    title = f"{ctx['participant_id']} · {ctx['session_id']}"
    subtitle = f"exam report · stage: {ctx['stage_label']}"
    page = Page("exam.html.jinja", title=title, subtitle=subtitle)
    figures, interactive_divs = {}, {}
    for voi in ctx["vois"]:
        res = fits[voi]
        label = ctx["voi_labels"][voi]
        figures[voi] = page.mpl(fit_figure(res, title=label, figsize=(6.0, 5.5)), alt=f"{label} fit")
        if interactive:
            interactive_divs[voi] = page.plotly(fit_figure_plotly(res, title=label))
    return page.render(figures=figures, interactive=interactive_divs, **ctx)


def write_exam_report(path: str | os.PathLike, exam: Any, fits: Mapping[str, Any], quotients: Any = None,
                      iris_row: Any = None, qc: Any = None, *, failures: Mapping[str, Any] | None = None,
                      crlb_max: float | None = None, produced_by: Sequence[str] | None = None,
                      interactive: bool = False, force: bool = True) -> Path:
    """Write the self-contained HTML report of one exam.

    Parameters
    ----------
    path : path
        The HTML file to write.
    exam : dict or Series
        One row of the exams table (``participant_id, session_id, acq_time, stage, stage_rule,
        days_since_pml_onset, kps, edss, delta_kps, delta_edss, lesion_enhancing``).
    fits : dict
        ``{voxel id: FitResult}``: ``{"lesion": ..., "nawm": ...}``, or with several voxels of a voi
        their ids with the acq label (``{"lesion:frontal": ..., "lesion:parietal": ..., "nawm": ...}``,
        :func:`pmlmrs.study.bids.voxel_id`); a VOI without any voxel, or None, is reported as such.
    quotients : dict or Series, optional
        The exam's row of :func:`pmlmrs.stats.lesion_nawm_table` (lesion, NAWM, quotient,
        difference per ratio).
    iris_row : dict or Series, optional
        The exam's row of the IRIS table (:func:`pmlmrs.stats.score_exams`).
    qc : optional
        QC items: ``{voxel id: items}`` or one list of items (QCItem, dicts or
        ``(level, name, message, fix)`` tuples); default: the items attached to each FitResult.
    failures : dict, optional
        ``{voxel id: error message}`` of voxels that could not be processed; shown, distinct from a
        voxel that has no spectrum at all.
    crlb_max : float, optional
        The QC CRLB threshold (%) the run used: rows above it are highlighted (default: the one
        recorded with the fits, else QCOptions').
    produced_by : list of str, optional
        Lines naming the pmlmrs version, basis (name, SHA-256), fit and QC options of the run
        (:func:`pmlmrs.report.fit_report.key_options`); default: from the fits' own records.
    interactive : bool
        Add plotly versions of the fit figures (plotly.js inlined once, ≈ 4 MB).
    force : bool
        Overwrite an existing file (WriteError otherwise).
    """
    from pmlmrs.report._html import write_html

    html = render_exam_report(exam, fits, quotients, iris_row, qc, failures=failures, crlb_max=crlb_max,
                              produced_by=produced_by, interactive=interactive)
    return write_html(html, path, force=force)

