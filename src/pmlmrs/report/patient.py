"""The patient timeline page: natalizumab stop, PML onset, IRIS window, exams, KPS/EDSS, ratios.

One interactive plotly figure (plotly.js inlined once) over **days since PML onset** (the onset
date of :class:`~pmlmrs.study.stages.StageOptions`; the calendar date is in every hover): clinical
events and exams on top, KPS and EDSS, then one small panel per ratio of summary.tsv with the lesion
(solid) and NAWM (dashed) values and ±1 SD error bars (the ``R_sd`` columns, else the CRLBs). A
patient with several lesion voxels (acq labels, read from the voxels' ``spectrum`` names) gets one
lesion line per acq label (``lesion (frontal)``, ``lesion (parietal)``); NAWM alike.
Background shading is the stage the rules (:func:`~pmlmrs.study.stages.assign_stage`) give each day
from the patient's clinical dates; each exam marker carries the stage assigned to that exam (an
explicit stage included). QC-failed voxels are open symbols; voxels that failed or are missing are
marked on the exams row and by a dashed line on the ratio panels. Pseudonymous IDs only.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["STAGE_COLOURS", "stage_windows", "timeline_figure", "render_timeline", "write_timeline"]

STAGE_COLOURS = {
    "pre_iris": "#f1a340", "iris": "#d7301f", "early_post_pml": "#6baed6", "late_post_pml": "#2171b5",
    "unassigned": "#bdbdbd",
}
#: voi, line dash, colours (the first for a single voxel, then one per acq label).
_VOI_STYLE = (("lesion", "solid", ("#b2182b", "#e08214", "#762a83", "#de77ae", "#8c510a")),
              ("nawm", "dash", ("#2166ac", "#35978f", "#542788", "#80cdc1")))
_EVENTS = (("natalizumab_stop", "natalizumab stop", "#4d4d4d"), ("pml_onset", "PML onset (symptoms)", "#762a83"),
           ("pml_diagnosis", "PML diagnosis", "#9970ab"))


def _ratios() -> tuple[str, ...]:
    from pmlmrs.quant import RATIOS

    return tuple(RATIOS)


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


def _exam_dates(exams: Any, patient: Mapping[str, Any], onset: Any = None) -> Any:
    """Exam dates: ``acq_time``, else PML onset + days since onset."""
    import pandas as pd

    dates = pd.to_datetime(exams["acq_time"], errors="coerce") if "acq_time" in exams.columns else \
        pd.Series(pd.NaT, index=exams.index)
    onset = onset if onset is not None else _ts(patient.get("pml_onset"))
    if onset is not None and "days_since_pml_onset" in exams.columns:
        fill = onset + pd.to_timedelta(pd.to_numeric(exams["days_since_pml_onset"], errors="coerce"), unit="D")
        dates = dates.fillna(fill)
    return dates


def _patient_for_rules(p: Mapping[str, Any]) -> dict[str, Any]:
    """The patient mapping for assign_stage: ``_date_flags`` only when it is a non-empty list."""
    flags = p.get("_date_flags")
    return {**p, "_date_flags": list(flags) if isinstance(flags, (list, tuple)) and flags else None}


def stage_windows(patient: Any, start: Any, end: Any, options: Any = None) -> list[tuple[str, Any, Any]]:
    """The stage of every day from *start* to *end* by the stage rules, as ``(stage, first, last)`` runs.

    Uses :func:`pmlmrs.study.stages.assign_stage` day by day on the patient's clinical dates (no
    explicit stage: that belongs to an exam), so the windows are exactly what the rules give.
    """
    import pandas as pd

    from pmlmrs.study.stages import assign_stage

    p = _patient_for_rules(_as_dict(patient))
    runs: list[list[Any]] = []
    for day in pd.date_range(pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize(), freq="D"):
        s = assign_stage(day.date(), p, None, options).stage
        if runs and runs[-1][0] == s:
            runs[-1][2] = day
        else:
            runs.append([s, day, day])
    return [(s, a, b) for s, a, b in runs]


def _flags(iris_df: Any, pid: str) -> dict[str, tuple[bool | None, Any, str]]:
    """session → (IRIS flag or None when not evaluable, score, reason)."""
    from pmlmrs.report._html import iris_flag_value

    out: dict[str, tuple[bool | None, Any, str]] = {}
    if iris_df is None or not len(iris_df):
        return out
    sub = iris_df[iris_df["participant_id"].astype(str) == pid] if "participant_id" in iris_df.columns else iris_df
    for r in sub.to_dict("records"):
        out[str(r["session_id"])] = (iris_flag_value(r.get("iris_flag")), r.get("iris_score"), str(r.get("reason", "")))
    return out


def _acqs(vox: Any) -> list[str]:
    """The acq label of each voxel row from its ``spectrum`` ("" without one, or without the column)."""
    from pmlmrs.study.bids import acq_label

    if vox is None or "spectrum" not in vox.columns:
        return [""] * (0 if vox is None else len(vox))
    return [acq_label(x) or "" for x in vox["spectrum"]]


def _no_result(ex: Any, vox: Any) -> dict[str, list[tuple[str, str]]]:
    """session → [(voxel label, why)] for voxels that failed (their error) or are missing; the label
    names the acq label where the exam has several voxels of that voi."""
    from collections import Counter

    from pmlmrs.report._html import voi_label

    out: dict[str, list[tuple[str, str]]] = {}
    have: dict[str, set[str]] = {}
    if vox is not None and len(vox):
        rows = vox.to_dict("records")
        n = Counter((str(r["session_id"]), str(r["voi"]).lower()) for r in rows)
        for r, acq in zip(rows, _acqs(vox)):
            sid, voi = str(r["session_id"]), str(r["voi"]).lower()
            have.setdefault(sid, set()).add(voi)
            err = r.get("error")
            if isinstance(err, str) and err.strip() and err.strip().lower() not in ("n/a", "nan"):
                label = voi_label(voi) + (f" ({acq})" if acq and n[(sid, voi)] > 1 else "")
                out.setdefault(sid, []).append((label, f"failed: {err.strip()}"))
    for sid in ex["session_id"].astype(str):
        for voi in ("lesion", "nawm"):
            if voi not in have.get(sid, set()):
                out.setdefault(sid, []).append((voi_label(voi), "no spectrum"))
    return out


def timeline_figure(patient: Any, exams: Any, voxels: Any, iris_df: Any = None, *,
                    ratios: Sequence[str] | None = None, stage_options: Any = None) -> Any:
    """The plotly timeline figure of one patient (see the module docstring)."""
    import numpy as np
    import pandas as pd
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from pmlmrs.report._html import stage_label, voi_label
    from pmlmrs.stats import ratio_sd
    from pmlmrs.study.stages import StageOptions

    o = stage_options or StageOptions()
    p = _as_dict(patient)
    pid = str(p.get("participant_id", ""))
    ex = exams.copy()
    if "participant_id" in ex.columns and pid:
        ex = ex[ex["participant_id"].astype(str) == pid]
    onset = _ts(p.get(o.onset_column))
    ex = ex.assign(_date=_exam_dates(ex, p, onset)).sort_values("_date", kind="stable")
    ex["session_id"] = ex["session_id"].astype(str)
    vox = voxels
    if vox is not None and "participant_id" in vox.columns and pid:
        vox = vox[vox["participant_id"].astype(str) == pid]
    ratios = [r for r in (ratios or _ratios()) if vox is not None and r in vox.columns]

    # Day 0: the PML onset of the stage options (else the first exam, said on the axis).
    known = [d for d in ex["_date"] if d is not None and not pd.isna(d)]
    ref = onset if onset is not None else (min(known) if known else None)
    ref_name = f"PML onset ({o.onset_column})" if onset is not None else "first exam (PML onset unknown)"

    def day(t: Any) -> float | None:
        return None if t is None or ref is None or pd.isna(t) else float((t - ref).days)

    ex["_x"] = [day(d) for d in ex["_date"]]
    if onset is not None and "days_since_pml_onset" in ex.columns:
        ex["_x"] = ex["_x"].fillna(pd.to_numeric(ex["days_since_pml_onset"], errors="coerce"))
    ex["_when"] = [d.strftime("%Y-%m-%d") if d is not None and not pd.isna(d) else "date n/a" for d in ex["_date"]]

    n_rr = math.ceil(len(ratios) / 2)
    specs = [[{"colspan": 2}, None], [{}, {}]] + [[{}, {}] for _ in range(n_rr)]
    titles = ["events and exams", "KPS", "EDSS"] + [r.replace("_", "/") for r in ratios]
    fig = make_subplots(rows=2 + n_rr, cols=2, specs=specs, shared_xaxes="all", vertical_spacing=0.16 / (2 + n_rr),
                        horizontal_spacing=0.08, subplot_titles=titles, row_heights=[1.0] + [0.9] * (1 + n_rr))
    cells = [(1, 1), (2, 1), (2, 2)] + [(3 + k // 2, 1 + k % 2) for k in range(len(ratios))]

    # Clinical events (one level each, labels to the right) and the clinical IRIS window.
    iris_on, iris_end = _ts(p.get("iris_onset")), _ts(p.get("iris_end"))
    last = max(known + [t for t in (iris_on, iris_end, onset) if t is not None], default=None)
    if iris_on is not None and ref is not None:
        end = iris_end if iris_end is not None else last
        fig.add_trace(go.Scatter(
            x=[day(iris_on), day(end)], y=[0.45, 0.45], mode="lines",
            name="IRIS window (clinical dates)" + ("" if iris_end is not None else ", ongoing"),
            customdata=[iris_on.strftime("%Y-%m-%d"), "ongoing" if iris_end is None else end.strftime("%Y-%m-%d")],
            hovertemplate="IRIS window: %{customdata} (day %{x:.0f})<extra></extra>",
            line={"color": STAGE_COLOURS["iris"], "width": 10}, opacity=0.6), row=1, col=1)
    for level, (key, label, colour) in zip((1.55, 1.2, 0.85), _EVENTS):
        t = _ts(p.get(key))
        if t is not None and ref is not None:
            fig.add_trace(go.Scatter(
                x=[day(t)], y=[level], mode="markers+text", text=[label], textposition="middle right", name=label,
                hovertemplate=f"{label}: {t.strftime('%Y-%m-%d')} (day %{{x:.0f}})<extra></extra>",
                marker={"symbol": "diamond", "size": 11, "color": colour}), row=1, col=1)

    # Exams, coloured by their assigned stage; × = IRIS flag raised.
    flags = _flags(iris_df, pid)
    gaps = _no_result(ex, vox)
    hover, colours, symbols = [], [], []
    for r in ex.to_dict("records"):
        sid = r["session_id"]
        txt = f"{sid} · {r['_when']} · day {r['_x']:.0f}" if r["_x"] is not None and not pd.isna(r["_x"]) else sid
        txt += f"<br>stage: {stage_label(r.get('stage', 'unassigned'))}"
        f = flags.get(sid)
        if f is not None:
            txt += "<br>IRIS flag: " + {True: "yes", False: "no", None: "not evaluable"}[f[0]]
            if not (f[1] is None or pd.isna(f[1])):
                txt += f" (score {float(f[1]):.2f})"
        for voi, why in gaps.get(sid, []):
            txt += f"<br>{voi}: {why[:160]}"
        hover.append(txt)
        colours.append(STAGE_COLOURS.get(str(r.get("stage", "unassigned")), "#bdbdbd"))
        symbols.append("x" if f is not None and f[0] else "circle")
    fig.add_trace(go.Scatter(x=ex["_x"], y=[0.0] * len(ex), mode="markers+text", name="exams (× = IRIS flag)",
                             text=list(ex["session_id"]), textposition="bottom center", hovertext=hover,
                             hoverinfo="text", marker={"size": 12, "color": colours, "symbol": symbols,
                                                       "line": {"width": 1, "color": "black"}}), row=1, col=1)
    gap_x = [x for sid, x in zip(ex["session_id"], ex["_x"]) if sid in gaps and x is not None and not pd.isna(x)]
    if gap_x:
        gtext = ["; ".join(f"{v}: {w[:120]}" for v, w in gaps[sid]) for sid in ex["session_id"] if sid in gaps]
        fig.add_trace(go.Scatter(x=gap_x, y=[-0.55] * len(gap_x), mode="markers", name="voxel failed or missing",
                                 hovertext=gtext, hoverinfo="text",
                                 marker={"symbol": "square-x-open", "size": 12, "color": "#cf222e"}), row=1, col=1)
    fig.update_yaxes(visible=False, range=[-0.9, 1.85], row=1, col=1)

    # KPS and EDSS: the pre-PML score (dotted) and the scores at the exams.
    for col, key, pre, colour in ((1, "kps", "kps_pre", "#1b7837"), (2, "edss", "edss_pre", "#b2182b")):
        if key in ex.columns:
            fig.add_trace(go.Scatter(x=ex["_x"], y=pd.to_numeric(ex[key], errors="coerce"), mode="lines+markers",
                                     name=key.upper(), line={"color": colour}, customdata=ex["_when"],
                                     hovertemplate=f"{key.upper()} %{{y}}<br>%{{customdata}} (day %{{x:.0f}})"
                                                   "<extra></extra>"), row=2, col=col)
        pv = pd.to_numeric(pd.Series([p.get(pre)]), errors="coerce").iloc[0]
        if np.isfinite(pv):
            fig.add_hline(y=float(pv), line={"dash": "dot", "color": colour}, row=2, col=col,
                          exclude_empty_subplots=False,
                          annotation_text="≈ 1 year before PML", annotation_position="top left")
    fig.update_yaxes(range=[-5, 105], row=2, col=1)
    fig.update_yaxes(range=[-0.5, 10.5], row=2, col=2)

    # Ratio panels: lesion solid, NAWM dashed, ±1 SD; open symbols = voxel failed QC; one line per
    # acq label of a voi when the patient has several.
    if ratios:
        v = vox.copy()
        v["session_id"] = v["session_id"].astype(str)
        v["voi"] = v["voi"].astype(str).str.lower()
        v["_acq"] = _acqs(v)
        info = ex.set_index("session_id")
        v = v[v["session_id"].isin(info.index)]
        v["_x"] = v["session_id"].map(info["_x"])
        v["_when"] = v["session_id"].map(info["_when"])
        v["_stage"] = v["session_id"].map(info["stage"].astype(str)) if "stage" in info.columns else "unassigned"
        err = v["error"].fillna("").astype(str).str.strip() if "error" in v.columns else pd.Series("", index=v.index)
        qc_fail = err.str.lower().isin(["", "n/a", "nan"])  # a failed voxel has no value: not "failed QC"
        qc_fail &= v["qc_pass"].astype(str).str.lower().eq("false") if "qc_pass" in v.columns else False
        lines = []  # (voi, acq or None for all, label, dash, colour)
        for voi, dash, colours in _VOI_STYLE:
            acqs = sorted(set(v.loc[v["voi"] == voi, "_acq"]))
            if len(acqs) < 2:
                lines.append((voi, None, voi_label(voi), dash, colours[0]))
                continue
            for j, acq in enumerate(acqs):
                lines.append((voi, acq, f"{voi_label(voi)} ({acq or 'no acq label'})", dash,
                              colours[j % len(colours)]))
        for k, r in enumerate(ratios):
            row, col = cells[3 + k]
            sd = ratio_sd(v.assign(**{r: pd.to_numeric(v[r], errors="coerce")}), r)
            for voi, acq, label, dash, colour in lines:
                m = ((v["voi"] == voi) & (True if acq is None else v["_acq"] == acq)).to_numpy()
                s = v[m].assign(_y=pd.to_numeric(v.loc[m, r], errors="coerce").replace([np.inf, -np.inf], np.nan),
                                _sd=sd[m], _qcf=qc_fail[m]).sort_values("_x")
                hov = [f"{label} {r.replace('_', '/')} "
                       + ("n/a" if pd.isna(y) else f"{y:.3g}" + ("" if pd.isna(e) else f" ± {e:.2g}"))
                       + f"<br>{sid} · {w} · day {x:.0f} · {stage_label(st)}" + ("<br>QC fail" if q else "")
                       for y, e, sid, w, x, st, q in zip(s["_y"], s["_sd"], s["session_id"], s["_when"], s["_x"],
                                                         s["_stage"], s["_qcf"])]
                fig.add_trace(go.Scatter(
                    x=s["_x"], y=s["_y"], mode="lines+markers", name=label, legendgroup=label,
                    showlegend=k == 0, line={"dash": dash, "color": colour},
                    error_y={"type": "data", "array": s["_sd"].fillna(0).to_numpy(float), "visible": True,
                             "thickness": 1, "width": 3},
                    marker={"size": 8, "color": colour, "line": {"width": 1.5, "color": colour},
                            "symbol": ["circle-open" if q else "circle" for q in s["_qcf"]]},
                    hovertext=hov, hoverinfo="text"), row=row, col=col)
        if qc_fail.any():  # legend entry for the open symbol
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name="voxel failed QC (open symbol)",
                                     marker={"symbol": "circle-open", "size": 8, "color": "#57606a"}), row=1, col=1)

    # Stage shading from the clinical dates, on every panel; onset and failed-voxel lines. The shapes
    # are set in one go: plotly's add_vrect/add_vline revalidate every shape so far (20 s per cohort).
    def axes(row: int, col: int) -> tuple[str, str]:
        sp = fig.get_subplot(row, col)
        return sp.xaxis.plotly_name.replace("axis", ""), sp.yaxis.plotly_name.replace("axis", "") + " domain"

    shapes = []

    def span(x0: float, x1: float, ratio_panels_only: bool = False, **style: Any) -> None:
        shapes.extend({"type": "rect" if x1 > x0 else "line", "x0": x0, "x1": x1, "y0": 0, "y1": 1,
                       "xref": xr, "yref": yr, **style}
                      for xr, yr in (axes(row, col) for row, col in cells if row >= 3 or not ratio_panels_only))

    first = _ts(p.get("pml_diagnosis")) or _ts(p.get("pml_onset"))  # before it no PML stage applies (rule 3)
    if ref is not None and last is not None and first is not None:
        for s, a, b in stage_windows(p, first, max(last, first) + pd.Timedelta(days=30), o):
            colour = STAGE_COLOURS.get(s, "#bdbdbd")
            span(day(a) - 0.5, day(b) + 0.5, fillcolor=colour, opacity=0.15, line={"width": 0}, layer="below")
            fig.add_trace(go.Scatter(x=[day(a)], y=[None], mode="markers", legendgroup="stages",
                                     name=f"{stage_label(s)} by the rules: {a:%Y-%m-%d} – {b:%Y-%m-%d}",
                                     marker={"size": 12, "symbol": "square", "color": colour, "opacity": 0.4}),
                          row=1, col=1)
    span(0, 0, line={"color": "#762a83", "width": 1, "dash": "dot"})
    for x in gap_x:
        span(x, x, ratio_panels_only=True, line={"color": "#cf222e", "width": 1, "dash": "dash"})
    fig.update_layout(shapes=list(fig.layout.shapes) + shapes)
    fig.update_xaxes(showticklabels=True, zeroline=False)
    for row, col in cells[-2:] if ratios else cells[1:3]:
        fig.update_xaxes(title_text=f"days since {ref_name}", row=row, col=col)
    fig.update_annotations(font_size=12)
    fig.update_layout(height=300 + 230 * (1 + n_rr), margin={"l": 60, "r": 20, "t": 50, "b": 40},
                      legend={"orientation": "h", "y": -0.03, "yanchor": "top"}, hovermode="closest",
                      template="plotly_white")
    return fig


def _exam_rows(exams: Any, patient: Mapping[str, Any], voxels: Any, iris_df: Any,
               exam_links: Mapping[str, str] | None) -> list[dict[str, Any]]:
    import pandas as pd

    from pmlmrs.report._html import fmt_number, stage_label

    pid = str(patient.get("participant_id", ""))
    ex = exams[exams["participant_id"].astype(str) == pid] if "participant_id" in exams.columns and pid else exams
    ex = ex.assign(_date=_exam_dates(ex, patient)).sort_values("_date", kind="stable")
    vox = voxels
    if vox is not None and "participant_id" in vox.columns and pid:
        vox = vox[vox["participant_id"].astype(str) == pid]
    gaps = _no_result(ex.assign(session_id=ex["session_id"].astype(str)), vox)
    flags = _flags(iris_df, pid)
    rows = []
    for r in ex.to_dict("records"):
        sid = str(r.get("session_id"))
        f = flags.get(sid)
        d = r.get("_date")
        rows.append({
            "session_id": sid,
            "date": "n/a" if d is None or pd.isna(d) else d.strftime("%Y-%m-%d"),
            "days": fmt_number(r.get("days_since_pml_onset"), ".0f"),
            "stage": str(r.get("stage", "")), "stage_label": stage_label(r.get("stage", "")),
            "stage_rule": str(r.get("stage_rule", "") or ""),
            "kps": fmt_number(r.get("kps"), ".0f"), "edss": fmt_number(r.get("edss"), ".1f"),
            "delta_kps": fmt_number(r.get("delta_kps"), "+.0f"), "delta_edss": fmt_number(r.get("delta_edss"), "+.1f"),
            "enhancing": {True: "yes", False: "no"}.get(r.get("lesion_enhancing"), "n/a")
            if not isinstance(r.get("lesion_enhancing"), str) else r.get("lesion_enhancing"),
            "assessed": f is not None, "iris_flag": None if f is None else f[0],
            "iris_score": None if f is None else f[1], "iris_reason": "" if f is None else f[2],
            "gaps": [f"{voi}: {why}" for voi, why in gaps.get(sid, [])],
            "link": (exam_links or {}).get(sid),
        })
    return rows


def render_timeline(patient: Any, exams: Any, voxels: Any, iris_df: Any = None, *,
                    ratios: Sequence[str] | None = None, exam_links: Mapping[str, str] | None = None,
                    stage_options: Any = None, produced_by: Sequence[str] | None = None) -> str:
    """The timeline page as HTML text (see :func:`write_timeline`)."""
    from pmlmrs.report._html import STAGE_LABELS, Page, fmt_number
    from pmlmrs.study.stages import StageOptions

    o = stage_options or StageOptions()
    p = _as_dict(patient)
    pid = str(p.get("participant_id", "patient"))
    page = Page("patient.html.jinja", title=f"{pid} · timeline", subtitle="patient timeline")
    fig = page.plotly(timeline_figure(p, exams, voxels, iris_df, ratios=ratios, stage_options=o),
                      div_id="timeline-figure")

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
    rows = _exam_rows(exams, p, voxels, iris_df, exam_links)
    return page.render(participant_id=pid, facts=facts, figure=fig, exams=rows, stage_colours=STAGE_COLOURS,
                       stage_labels=STAGE_LABELS, onset_column=o.onset_column, early_months=o.early_months,
                       late_months=o.late_months, produced_by=list(produced_by or ()))


def write_timeline(path: str | os.PathLike, patient: Any, exams: Any, voxels: Any, iris_df: Any = None, *,
                   ratios: Sequence[str] | None = None, exam_links: Mapping[str, str] | None = None,
                   stage_options: Any = None, produced_by: Sequence[str] | None = None,
                   force: bool = True) -> Path:
    """Write the self-contained timeline page of one patient.

    Parameters
    ----------
    path : path
        The HTML file (DESIGN: ``sub-*/sub-*_timeline.html``).
    patient : dict or Series
        One row of the patients table (``participant_id, pml_onset, pml_diagnosis,
        natalizumab_stop, iris_onset, iris_end, kps_pre, edss_pre``, dates as Timestamps/NaT;
        ``_date_flags`` as :func:`~pmlmrs.study.stages.assign_stage` reads it).
    exams : DataFrame
        The exams table (this patient's rows are selected by ``participant_id``).
    voxels : DataFrame
        group/voxels.tsv (this patient's rows are selected); failed voxels (``error``) and
        ``qc_pass`` false are marked; several voxels of one voi are told apart by the acq label
        of their ``spectrum`` (one line each).
    iris_df : DataFrame, optional
        The IRIS table (:func:`pmlmrs.stats.score_exams`); flags are marked on the exams, an n/a
        flag as not evaluable.
    ratios : sequence of str, optional
        Ratio columns drawn (default: every summary.tsv ratio, :data:`pmlmrs.quant.RATIOS`).
    exam_links : mapping, optional
        ``{session_id: relative URL of the exam report}``.
    stage_options : StageOptions, optional
        The stage options of the run: the PML onset date (day 0) and the rules of the shading.
    produced_by : list of str, optional
        Lines naming the pmlmrs version, basis and options behind the ratios
        (:func:`pmlmrs.report.fit_report.key_options`).
    force : bool
        Overwrite an existing file (WriteError otherwise).
    """
    from pmlmrs.report._html import write_html

    html = render_timeline(patient, exams, voxels, iris_df, ratios=ratios, exam_links=exam_links,
                           stage_options=stage_options, produced_by=produced_by)
    return write_html(html, path, force=force)
