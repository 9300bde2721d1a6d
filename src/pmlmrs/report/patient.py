"""The patient timeline page: natalizumab stop, PML onset, IRIS window, exams, KPS/EDSS, ratios.

One interactive plotly figure (plotly.js inlined once) with a shared date axis: clinical events
and exams on top, KPS and EDSS below, then lesion (solid) and NAWM (dashed) trajectories of the
ratios. Each exam is shaded in the colour of its assigned stage (the band reaches half-way to the
neighbouring exams), so the bands show exactly what the stage rules decided; the clinical IRIS
window from the participants table is drawn separately. Pseudonymous IDs only.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["STAGE_COLOURS", "timeline_figure", "render_timeline", "write_timeline"]

STAGE_COLOURS = {
    "pre_iris": "#f1a340", "iris": "#d7301f", "early_post_pml": "#6baed6", "late_post_pml": "#2171b5",
    "unassigned": "#bdbdbd",
}
_DEFAULT_RATIOS = ("Lip_tCr", "tCho_tCr", "tNAA_tCho", "tNAA_tCr")
_EVENTS = (("natalizumab_stop", "natalizumab stop", "#4d4d4d"), ("pml_onset", "PML onset", "#762a83"),
           ("pml_diagnosis", "PML diagnosis", "#9970ab"))


def _as_dict(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    if hasattr(obj, "to_dict") and not isinstance(obj, Mapping):
        return dict(obj.to_dict())
    return dict(obj)


def _ts(v: Any) -> Any:
    import pandas as pd

    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    t = pd.to_datetime(v, errors="coerce")
    return None if t is pd.NaT or pd.isna(t) else t


def _exam_dates(exams: Any, patient: Mapping[str, Any]) -> Any:
    """Exam dates: ``acq_time``, else PML onset + days since onset."""
    import pandas as pd

    dates = pd.to_datetime(exams["acq_time"], errors="coerce") if "acq_time" in exams.columns else \
        pd.Series(pd.NaT, index=exams.index)
    onset = _ts(patient.get("pml_onset"))
    if onset is not None and "days_since_pml_onset" in exams.columns:
        fill = onset + pd.to_timedelta(pd.to_numeric(exams["days_since_pml_onset"], errors="coerce"), unit="D")
        dates = dates.fillna(fill)
    return dates


def timeline_figure(patient: Any, exams: Any, voxels: Any, iris_df: Any = None, *,
                    ratios: Sequence[str] = _DEFAULT_RATIOS) -> Any:
    """The plotly timeline figure of one patient (see the module docstring)."""
    import numpy as np
    import pandas as pd
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from pmlmrs.report._html import voi_label

    p = _as_dict(patient)
    pid = str(p.get("participant_id", ""))
    ex = exams.copy()
    if "participant_id" in ex.columns and pid:
        ex = ex[ex["participant_id"].astype(str) == pid]
    ex = ex.assign(_date=_exam_dates(ex, p)).sort_values("_date", kind="stable")
    vox = voxels
    if vox is not None and "participant_id" in vox.columns and pid:
        vox = vox[vox["participant_id"].astype(str) == pid]
    ratios = [r for r in ratios if vox is not None and r in vox.columns]
    n_rows = 3 + len(ratios)
    titles = ["events and exams", "KPS", "EDSS"] + [r.replace("_", "/") for r in ratios]
    heights = [0.7, 0.8, 0.8] + [1.0] * len(ratios)
    fig = make_subplots(rows=n_rows, cols=1, shared_xaxes=True, vertical_spacing=0.035,
                        subplot_titles=titles, row_heights=heights)

    # Stage bands around each exam (half-way to the neighbours).
    dates = list(ex["_date"])
    stages = list(ex["stage"].astype(str)) if "stage" in ex.columns else ["unassigned"] * len(ex)
    pad = pd.Timedelta(days=15)
    shown_stage: set[str] = set()
    bands = []
    for i, (d, s) in enumerate(zip(dates, stages)):
        if d is None or pd.isna(d):
            continue
        left = d - pad if i == 0 or pd.isna(dates[i - 1]) else d - (d - dates[i - 1]) / 2
        right = d + pad if i == len(dates) - 1 or pd.isna(dates[i + 1]) else d + (dates[i + 1] - d) / 2
        bands.append((left, right, STAGE_COLOURS.get(s, "#bdbdbd")))
        if s not in shown_stage:  # legend entry for the band colour (a real date keeps the axis a date axis)
            shown_stage.add(s)
            fig.add_trace(go.Scatter(x=[d], y=[None], mode="markers", name=f"stage: {s}",
                                     marker={"size": 12, "symbol": "square", "color": STAGE_COLOURS.get(s, "#bdbdbd"),
                                             "opacity": 0.4}, legendgroup="stages"), row=1, col=1)

    # Clinical events and the IRIS window.
    iris_on, iris_end = _ts(p.get("iris_onset")), _ts(p.get("iris_end"))
    if iris_on is not None:
        known = [d for d in dates if d is not None and not pd.isna(d)]
        end = iris_end if iris_end is not None else max([iris_on] + known)
        fig.add_trace(go.Scatter(x=[iris_on, end], y=[0.45, 0.45], mode="lines", name="IRIS window" +
                                 ("" if iris_end is not None else " (ongoing)"),
                                 hovertemplate="IRIS window: %{x|%Y-%m-%d}<extra></extra>",
                                 line={"color": STAGE_COLOURS["iris"], "width": 10}, opacity=0.6), row=1, col=1)
    # One level per event, labels to the right: events days apart (diagnosis, natalizumab stop) stay legible.
    for level, (key, label, colour) in zip((1.55, 1.2, 0.85), _EVENTS):
        t = _ts(p.get(key))
        if t is not None:
            fig.add_trace(go.Scatter(x=[t], y=[level], mode="markers+text", text=[label], textposition="middle right",
                                     name=label, hovertemplate=f"{label}: %{{x|%Y-%m-%d}}<extra></extra>",
                                     marker={"symbol": "diamond", "size": 11, "color": colour}),
                          row=1, col=1)
    flags = {}
    if iris_df is not None and len(iris_df):
        sub = iris_df[iris_df["participant_id"].astype(str) == pid] if "participant_id" in iris_df.columns else iris_df
        for r in sub.itertuples(index=False):
            flags[str(r.session_id)] = (bool(str(r.iris_flag).lower() == "true" or r.iris_flag is True),
                                        r.iris_score, str(r.reason))
    hover, colours, symbols = [], [], []
    for r in ex.itertuples(index=False):
        sid = str(r.session_id)
        f = flags.get(sid)
        txt = f"{sid}<br>stage: {getattr(r, 'stage', '')}"
        if f is not None:
            txt += f"<br>IRIS flag: {'yes' if f[0] else 'no'}"
            if f[1] is not None and not (isinstance(f[1], float) and math.isnan(f[1])):
                txt += f" (score {float(f[1]):.2f})"
        hover.append(txt)
        colours.append(STAGE_COLOURS.get(str(getattr(r, "stage", "unassigned")), "#bdbdbd"))
        symbols.append("x" if f is not None and f[0] else "circle")
    fig.add_trace(go.Scatter(x=ex["_date"], y=[0.0] * len(ex), mode="markers+text", name="exams (× = IRIS flag)",
                             text=[str(s) for s in ex["session_id"]], textposition="bottom center",
                             hovertext=hover, hoverinfo="text",
                             marker={"size": 12, "color": colours, "symbol": symbols,
                                     "line": {"width": 1, "color": "black"}}), row=1, col=1)
    fig.update_yaxes(visible=False, range=[-0.8, 1.85], row=1, col=1)

    # KPS and EDSS: the pre-PML score (dotted) and the scores at the exams.
    for row, key, pre, colour in ((2, "kps", "kps_pre", "#1b7837"), (3, "edss", "edss_pre", "#b2182b")):
        if key in ex.columns:
            fig.add_trace(go.Scatter(x=ex["_date"], y=pd.to_numeric(ex[key], errors="coerce"), mode="lines+markers",
                                     name=key.upper(), line={"color": colour}), row=row, col=1)
        pv = pd.to_numeric(pd.Series([p.get(pre)]), errors="coerce").iloc[0]
        if np.isfinite(pv):
            fig.add_hline(y=float(pv), line={"dash": "dot", "color": colour}, row=row, col=1,
                          exclude_empty_subplots=False,
                          annotation_text=f"{key.upper()} ≈ 1 year before PML", annotation_position="top left")
    fig.update_yaxes(range=[-5, 105], row=2, col=1)
    fig.update_yaxes(range=[-0.5, 10.5], row=3, col=1)

    # Ratio trajectories: lesion solid, NAWM dashed.
    if ratios:
        v = vox.copy()
        v["session_id"] = v["session_id"].astype(str)
        dmap = dict(zip(ex["session_id"].astype(str), ex["_date"]))
        v["_date"] = v["session_id"].map(dmap)
        for k, r in enumerate(ratios):
            for voi, dash, colour in (("lesion", "solid", "#b2182b"), ("nawm", "dash", "#2166ac")):
                s = v[v["voi"].astype(str).str.lower() == voi]
                s = s.groupby("_date", as_index=False)[r].mean().sort_values("_date")
                y = pd.to_numeric(s[r], errors="coerce").replace([np.inf, -np.inf], np.nan)
                fig.add_trace(go.Scatter(x=s["_date"], y=y, mode="lines+markers", name=voi_label(voi),
                                         legendgroup=voi, showlegend=k == 0,
                                         line={"dash": dash, "color": colour}), row=4 + k, col=1)
    # The stage bands on every panel (added last and per row: plotly's row="all" skips panels that
    # have no traces yet), and a date axis everywhere (the shared axes must agree on their type).
    for left, right, colour in bands:
        for row in range(1, n_rows + 1):
            fig.add_vrect(x0=left, x1=right, fillcolor=colour, opacity=0.15, line_width=0, layer="below",
                          row=row, col=1, exclude_empty_subplots=False)
    onset = _ts(p.get("pml_onset"))
    if onset is not None:  # day 0 of "days since PML onset", on every panel
        for row in range(1, n_rows + 1):
            fig.add_vline(x=onset, line={"color": "#762a83", "width": 1, "dash": "dot"}, row=row, col=1,
                          exclude_empty_subplots=False)
    fig.update_xaxes(type="date")
    fig.update_xaxes(showticklabels=True, row=1, col=1)  # dates on the events panel as well as at the bottom
    fig.update_layout(height=260 + 170 * n_rows, margin={"l": 60, "r": 20, "t": 50, "b": 40},
                      legend={"orientation": "h", "y": -0.04}, hovermode="closest", template="plotly_white")
    return fig


def _exam_rows(exams: Any, patient: Mapping[str, Any], iris_df: Any,
               exam_links: Mapping[str, str] | None) -> list[dict[str, Any]]:
    import pandas as pd

    from pmlmrs.report._html import fmt_number

    pid = str(patient.get("participant_id", ""))
    ex = exams[exams["participant_id"].astype(str) == pid] if "participant_id" in exams.columns and pid else exams
    ex = ex.assign(_date=_exam_dates(ex, patient)).sort_values("_date", kind="stable")
    iris = {}
    if iris_df is not None and len(iris_df):
        for r in iris_df.itertuples(index=False):
            if str(r.participant_id) == pid:
                iris[str(r.session_id)] = r
    rows = []
    for r in ex.to_dict("records"):
        sid = str(r.get("session_id"))
        ir = iris.get(sid)
        d = r.get("_date")
        flag = None if ir is None else str(ir.iris_flag).lower() == "true"
        rows.append({
            "session_id": sid,
            "date": "n/a" if d is None or pd.isna(d) else d.strftime("%Y-%m-%d"),
            "days": fmt_number(r.get("days_since_pml_onset"), ".0f"),
            "stage": str(r.get("stage", "")), "stage_rule": str(r.get("stage_rule", "") or ""),
            "kps": fmt_number(r.get("kps"), ".0f"), "edss": fmt_number(r.get("edss"), ".1f"),
            "delta_kps": fmt_number(r.get("delta_kps"), "+.0f"), "delta_edss": fmt_number(r.get("delta_edss"), "+.1f"),
            "enhancing": {True: "yes", False: "no"}.get(r.get("lesion_enhancing"), "n/a")
            if not isinstance(r.get("lesion_enhancing"), str) else r.get("lesion_enhancing"),
            "iris_flag": flag, "iris_score": None if ir is None else ir.iris_score,
            "iris_reason": "" if ir is None else str(ir.reason),
            "link": (exam_links or {}).get(sid),
        })
    return rows


def render_timeline(patient: Any, exams: Any, voxels: Any, iris_df: Any = None, *,
                    ratios: Sequence[str] = _DEFAULT_RATIOS, exam_links: Mapping[str, str] | None = None) -> str:
    """The timeline page as HTML text (see :func:`write_timeline`)."""
    from pmlmrs.report._html import Page, fmt_number

    p = _as_dict(patient)
    pid = str(p.get("participant_id", "patient"))
    page = Page("patient.html.jinja", title=f"{pid} · timeline", subtitle="patient timeline")
    fig = page.plotly(timeline_figure(p, exams, voxels, iris_df, ratios=ratios), div_id="timeline-figure")

    def date(key: str) -> str:
        t = _ts(p.get(key))
        return "n/a" if t is None else t.strftime("%Y-%m-%d")

    facts = [("PML onset", date("pml_onset")), ("PML diagnosis", date("pml_diagnosis")),
             ("natalizumab stop", date("natalizumab_stop")), ("IRIS onset", date("iris_onset")),
             ("IRIS end", date("iris_end") if _ts(p.get("iris_onset")) is None or _ts(p.get("iris_end")) is not None
              else "ongoing"),
             ("KPS before PML", fmt_number(p.get("kps_pre"), ".0f")),
             ("EDSS before PML", fmt_number(p.get("edss_pre"), ".1f"))]
    for key in ("sex", "age"):
        if key in p:
            facts.append((key, fmt_number(p.get(key), ".0f") if key == "age" else str(p.get(key))))
    rows = _exam_rows(exams, p, iris_df, exam_links)
    return page.render(participant_id=pid, facts=facts, figure=fig, exams=rows,
                       stage_colours=STAGE_COLOURS)


def write_timeline(path: str | os.PathLike, patient: Any, exams: Any, voxels: Any, iris_df: Any = None, *,
                   ratios: Sequence[str] = _DEFAULT_RATIOS, exam_links: Mapping[str, str] | None = None,
                   force: bool = True) -> Path:
    """Write the self-contained timeline page of one patient.

    Parameters
    ----------
    path : path
        The HTML file (DESIGN: ``sub-*/sub-*_timeline.html``).
    patient : dict or Series
        One row of the patients table (``participant_id, pml_onset, pml_diagnosis,
        natalizumab_stop, iris_onset, iris_end, kps_pre, edss_pre``, dates as Timestamps/NaT).
    exams : DataFrame
        The exams table (this patient's rows are selected by ``participant_id``).
    voxels : DataFrame
        group/voxels.tsv (this patient's rows are selected).
    iris_df : DataFrame, optional
        The IRIS table (:func:`pmlmrs.stats.score_exams`); flags are marked on the exams.
    ratios : sequence of str
        Ratio columns drawn as trajectories.
    exam_links : mapping, optional
        ``{session_id: relative URL of the exam report}``.
    force : bool
        Overwrite an existing file (WriteError otherwise).
    """
    from pmlmrs.report._html import write_html

    html = render_timeline(patient, exams, voxels, iris_df, ratios=ratios, exam_links=exam_links)
    return write_html(html, path, force=force)
