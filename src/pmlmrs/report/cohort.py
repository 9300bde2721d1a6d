"""The cohort report (``group/report.html``): counts, descriptives, tests, figures, IRIS, MRSinMRS.

Built from the result tables of :mod:`pmlmrs.stats` (nothing is re-tested here; the medians and
scatter data are read back from the voxels/exams tables with the same functions the statistics
used; the page leaves out lesion/NAWM quotients whose NAWM denominator is not detected, see
:func:`pmlmrs.report._html.quotient_text`). Self-contained: plotly.js inlined once, no external
resources. Pseudonymous IDs only.

Counts are by voxel (an exam with two lesion voxels, ``acq-frontal`` and ``acq-parietal``, counts
two lesion voxels, and each voxel without a usable result is listed with its acq label); medians,
tests, plots and IRIS are per exam (or patient), an exam's lesion value being the mean of its
lesion voxels, as :func:`pmlmrs.stats.lesion_nawm_table` defines it.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["stage_box_figure", "correlation_figure", "roc_figure", "trajectory_figure",
           "render_cohort_report", "write_cohort_report"]

_VOI_COLOURS = {"lesion": "#b2182b", "nawm": "#2166ac"}
_CLINICAL_LABELS = {"delta_kps": "ΔKPS (exam − pre-PML)", "delta_edss": "ΔEDSS (exam − pre-PML)"}
_FAMILY_TEXT = {
    "ratio": "per ratio: its lesion-vs-NAWM tests over the stages, its pairwise stage tests, its omnibus tests",
    "comparison": "all ratios pooled: every lesion-vs-NAWM test, every pairwise stage test, every omnibus test",
    "all": "every test in the table",
}


def _fmt_p(p: Any) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "n/a"
    p = float(p)
    if p < 1e-300:  # underflow (e.g. an intercept's Wald test): not a meaningful number
        return "< 1e-300"
    if p < 0.001:
        return f"{p:.1e}"
    return f"{p:.3f}"


def _label(name: str) -> str:
    """Axis/title label of a measure or clinical column (``tNAA_tCho`` → ``tNAA/tCho``)."""
    if name in _CLINICAL_LABELS:
        return _CLINICAL_LABELS[name]
    if name == "lipid_rise":
        return "lipid rise (lesion vs NAWM Lip/tCr)"
    return name.replace("_", "/")


def _records(df: Any) -> list[dict[str, Any]]:
    if df is None:
        return []
    return df.to_dict("records")


def _finite(series: Any) -> Any:
    import numpy as np
    import pandas as pd

    return pd.to_numeric(series, errors="coerce").replace([np.inf, -np.inf], np.nan)


# ----------------------------------------------------------------------------------------------
# Figures


def stage_box_figure(table: Any, ratio: str, stage_stats: Any, stages: Sequence[str], alpha: float = 0.05) -> Any:
    """Box + strip plot of one ratio per stage, lesion beside NAWM, with the lesion-vs-NAWM p above.

    *table* is the per-exam :func:`pmlmrs.stats.lesion_nawm_table` (or its patient means); optional
    boolean columns ``qc_fail_lesion``/``qc_fail_nawm`` draw the points of QC-failed voxels open.
    """
    import plotly.graph_objects as go

    from pmlmrs.report._html import stage_label, voi_label

    fig = go.Figure()
    sub = table[table["stage"].isin(stages)]
    x = sub["stage"].map(stage_label)
    who = sub["participant_id"].astype(str) + " " + sub["session_id"].astype(str)
    for voi in ("lesion", "nawm"):
        col = f"{ratio}_{voi}"
        if col not in table.columns:
            continue
        y = _finite(sub[col])
        fail = sub[f"qc_fail_{voi}"].fillna(False).astype(bool) if f"qc_fail_{voi}" in sub.columns else \
            y.isna() & False
        colour = _VOI_COLOURS[voi]
        common = {"offsetgroup": voi, "alignmentgroup": "stages", "legendgroup": voi}
        # The box over every value; the points on top, in two traces sharing its slot: filled = QC
        # pass, open = the voxel failed QC (a Box takes one marker symbol per trace).
        fig.add_trace(go.Box(x=x, y=y, name=voi_label(voi), boxpoints=False, line={"width": 1.2, "color": colour},
                             fillcolor="rgba(0,0,0,0)", hoverinfo="skip", **common))
        for m, symbol, label in ((~fail, "circle", ""), (fail, "circle-open", "QC fail")):
            if not m.any():
                continue
            fig.add_trace(go.Box(
                x=x[m], y=y[m], name=f"{voi_label(voi)} {label}".strip(), showlegend=False,
                boxpoints="all", jitter=0.35, pointpos=0, line={"width": 0, "color": colour},
                fillcolor="rgba(0,0,0,0)", hoveron="points",
                marker={"color": colour, "size": 6 if label else 5, "symbol": symbol, "line": {"width": 1.5,
                                                                                               "color": colour}},
                hovertext=who[m] + (" · QC fail" if label else ""), hoverinfo="y+text", **common))
            if label:  # a Box legend entry shows no marker: a legend-only scatter does
                fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=f"{voi_label(voi)}: failed QC",
                                         marker={"symbol": symbol, "size": 7, "color": colour}))
    if stage_stats is not None and len(stage_stats):
        st = stage_stats[(stage_stats["ratio"] == ratio) & (stage_stats["comparison"] == "lesion_vs_nawm")]
        for r in st.itertuples(index=False):
            if r.stage not in stages:
                continue
            p = r.p
            star = ""
            if isinstance(r.p_holm, float) and not math.isnan(r.p_holm) and r.p_holm < alpha:
                star = " †"
            txt = f"p = {_fmt_p(p)}{star}" if not (isinstance(p, float) and math.isnan(p)) else "not tested"
            bold = isinstance(p, float) and not math.isnan(p) and p < alpha
            fig.add_annotation(x=stage_label(r.stage), y=1.0, yref="paper", yanchor="bottom", showarrow=False,
                               text=f"<b>{txt}</b>" if bold else txt, font={"size": 11})
    fig.update_layout(
        title={"text": ratio.replace("_", "/"), "x": 0.01}, boxmode="group", height=360,
        margin={"l": 50, "r": 10, "t": 60, "b": 40}, template="plotly_white",
        xaxis={"categoryorder": "array", "categoryarray": [stage_label(st) for st in stages]},
        legend={"orientation": "h", "y": -0.15},
    )
    return fig


def correlation_figure(data: Any, measure: str, clinical: str, row: Mapping[str, Any] | None) -> Any:
    """Scatter of a lesion measure against a clinical change, coloured by stage, with ρ, p, n.

    A boolean column ``not_evaluable`` (e.g. a lipid rise over an undetected NAWM lipid) draws
    those points open, with the reason in the hover.
    """
    import plotly.graph_objects as go

    from pmlmrs.report._html import stage_label
    from pmlmrs.report.patient import STAGE_COLOURS

    fig = go.Figure()
    for stage, sub in data.groupby("stage", sort=False):
        nd = sub["not_evaluable"].fillna(False).astype(bool) if "not_evaluable" in sub.columns else \
            sub[measure].isna() & False
        fig.add_trace(go.Scatter(
            x=_finite(sub[measure]), y=_finite(sub[clinical]), mode="markers", name=stage_label(stage),
            marker={"color": STAGE_COLOURS.get(str(stage), "#636363"), "size": 8, "line": {"width": 1.5},
                    "symbol": ["circle-open" if v else "circle" for v in nd]},
            hovertext=sub["participant_id"].astype(str) + " " + sub["session_id"].astype(str)
            + nd.map({True: " · NAWM lipid not detected: quotient not meaningful", False: ""}),
        ))
    if row is not None:
        rho, p, n = row.get("rho"), row.get("p"), row.get("n")
        rho_s = "n/a" if rho is None or (isinstance(rho, float) and math.isnan(rho)) else f"{rho:.3f}"
        label = f"Spearman ρ = {rho_s}, p = {_fmt_p(p)}, n = {n} ({row.get('unit', '')})"
    else:
        label = "not computed"
    fig.update_layout(
        title={"text": f"{_label(measure)} vs {_label(clinical).split(' (')[0]}<br><sub>{label}</sub>", "x": 0.01},
        height=340, margin={"l": 50, "r": 10, "t": 80, "b": 40}, template="plotly_white",
        xaxis={"title": _label(measure)}, yaxis={"title": _label(clinical)}, legend={"orientation": "h", "y": -0.25},
    )
    return fig


def roc_figure(iris_df: Any, stages: Sequence[str], auc_text: str) -> Any:
    """ROC curve of the LOPO IRIS scores (IRIS vs the other assigned stages)."""
    import numpy as np
    import plotly.graph_objects as go

    d = iris_df[iris_df["stage"].isin(stages)].copy()
    d["score"] = _finite(d["iris_score"])
    d = d.dropna(subset=["score"])
    y = (d["stage"] == "iris").to_numpy()
    s = d["score"].to_numpy(float)
    fig = go.Figure()
    if y.any() and (~y).any():
        thr = np.r_[np.inf, np.unique(s)[::-1]]
        tpr = [float((s[y] >= t).mean()) for t in thr]
        fpr = [float((s[~y] >= t).mean()) for t in thr]
        fig.add_trace(go.Scatter(x=fpr, y=tpr, mode="lines+markers", name="LOPO scores", line={"shape": "hv"}))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line={"dash": "dot", "color": "grey"}))
    sub = auc_text.replace(" (", "<br>(", 1)
    fig.update_layout(title={"text": f"ROC, leave-one-patient-out<br><sub>{sub}</sub>", "x": 0.01},
                      height=440, template="plotly_white", legend={"x": 0.55, "y": 0.1},
                      xaxis={"title": "1 − specificity", "range": [0, 1]},
                      yaxis={"title": "sensitivity", "range": [0, 1.02]}, margin={"l": 50, "r": 10, "t": 115, "b": 40})
    return fig


def trajectory_figure(trajectories: Any, ratio: str, voi: str = "lesion", *, stage_options: Any = None,
                      qc_fail: Any = frozenset()) -> Any:
    """Spaghetti plot: one line per patient of a ratio over days since PML onset, markers by stage.

    The post-PML windows of the stage rules are marked (early below ``early_months``, unassigned
    up to ``late_months``, shaded, late above); pre-IRIS and IRIS windows differ per patient and
    show in the marker colours. Points of *qc_fail* ``(participant_id, session_id, voi)`` are open.
    """
    import plotly.graph_objects as go

    from pmlmrs.report._html import stage_label, voi_label
    from pmlmrs.report.patient import STAGE_COLOURS
    from pmlmrs.study.stages import DAYS_PER_MONTH, StageOptions

    so = stage_options or StageOptions()
    t = trajectories[(trajectories["ratio"] == ratio) & (trajectories["voi"] == voi)]
    fig = go.Figure()
    for pid, sub in t.groupby("participant_id", sort=True):
        sub = sub.sort_values("days_since_pml_onset")
        bad = [(str(pid), str(s), voi) in qc_fail for s in sub["session_id"]]
        fig.add_trace(go.Scatter(
            x=sub["days_since_pml_onset"], y=_finite(sub["value"]), mode="lines+markers", name=str(pid),
            line={"color": "rgba(90,90,90,0.5)", "width": 1},
            marker={"color": [STAGE_COLOURS.get(str(s), "#bdbdbd") for s in sub["stage"]], "size": 8,
                    "symbol": ["circle-open" if b else "circle" for b in bad], "line": {"width": 1.5}},
            hovertext=[f"{pid} {s} ({stage_label(st)}){' · QC fail' if b else ''}"
                       for s, st, b in zip(sub["session_id"], sub["stage"], bad)], showlegend=False,
        ))
    present = [s for s in STAGE_COLOURS if s in set(t["stage"].astype(str))]
    for s in present:  # legend of the marker colours
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=stage_label(s),
                                 marker={"color": STAGE_COLOURS[s], "size": 8}))
    early, late = so.early_months * DAYS_PER_MONTH, so.late_months * DAYS_PER_MONTH
    fig.add_vrect(x0=early, x1=late, fillcolor=STAGE_COLOURS["unassigned"], opacity=0.25, line_width=0, layer="below",
                  annotation_text=f"{so.early_months:g}–{so.late_months:g} months: unassigned after IRIS",
                  annotation_position="top left", annotation_font_size=10)
    right = max([late] + [float(d) for d in t["days_since_pml_onset"].dropna()]) + 30
    fig.add_vrect(x0=late, x1=right, fillcolor=STAGE_COLOURS["late_post_pml"], opacity=0.08, line_width=0,
                  layer="below", annotation_text="late post-PML", annotation_position="top right",
                  annotation_font_size=10)
    title = (f"{_label(ratio)} ({voi_label(voi)})<br><sub>one line per patient, markers by stage (open: QC fail); "
             "shaded: post-PML windows</sub>")
    fig.update_layout(title={"text": title, "x": 0.01},
                      height=380, template="plotly_white", xaxis={"title": "days since PML onset"},
                      yaxis={"title": _label(ratio)}, margin={"l": 50, "r": 10, "t": 70, "b": 40},
                      legend={"orientation": "h", "y": -0.25})
    return fig


# ----------------------------------------------------------------------------------------------
# Tables


def _not_detected(table: Any, ratio: str) -> Any:
    """Rows whose NAWM *ratio* is not detected (≤ 0 or below DETECTION_SD of its SD): quotient n/a."""
    import numpy as np

    from pmlmrs.report._html import DETECTION_SD

    if f"{ratio}_nawm" not in table.columns:
        return np.zeros(len(table), bool)
    nawm = _finite(table[f"{ratio}_nawm"]).to_numpy(float)
    sd = _finite(table[f"{ratio}_nawm_sd"]).to_numpy(float) if f"{ratio}_nawm_sd" in table.columns else \
        np.full(len(table), np.nan)
    with np.errstate(invalid="ignore"):
        return ~np.isnan(nawm) & ((nawm <= 0) | (nawm < DETECTION_SD * sd))


def _median_range_table(table: Any, ratios: Sequence[str], stages: Sequence[str], opts: Any
                        ) -> tuple[list[str], list[dict[str, Any]]]:
    """Rows ratio × compartment, one ``median [min–max]`` cell per stage, from the analysis table.

    The observations of :func:`pmlmrs.stats.describe`, except that a lesion/NAWM quotient over a NAWM
    value that is not detected is left out (counted as n/a), and no cell shows ∞: a non-finite value
    is left out and counted the same way.
    """
    import numpy as np

    from pmlmrs.report._html import fmt_number

    rel = f"lesion_nawm_{opts.relative}"
    comps = [(r, c, col, r if c == rel and opts.relative == "quotient" else None)
             for r in ratios for c, col in (("lesion", f"{r}_lesion"), ("nawm", f"{r}_nawm"),
                                            (rel, f"{r}_{opts.relative}"))]
    comps.append(("lipid_rise", f"lesion_nawm_{opts.lipid_rise}", "lipid_rise",
                  "Lip_tCr" if opts.lipid_rise == "quotient" else None))
    rows = []
    for ratio, comp, col, denom in comps:
        if col not in table.columns:
            continue
        vals = _finite(table[col]).to_numpy(float)
        raw = np.asarray(table[col], dtype=float)
        masked = _not_detected(table, denom) if denom else np.zeros(len(table), bool)
        cells = []
        for s in stages:
            in_s = (table["stage"] == s).to_numpy()
            x = vals[in_s & ~masked & ~np.isnan(vals)]
            n_na = int((in_s & ~np.isnan(raw) & (masked | np.isnan(vals))).sum())
            if not len(x):
                cells.append({"text": "–" if not n_na else "n/a", "n": 0, "n_na": n_na,
                              "title": "no data" if not n_na else "no evaluable value"})
                continue
            q1, med, q3 = np.percentile(x, [25, 50, 75])
            text = f"{fmt_number(med, '.3g')} [{fmt_number(x.min(), '.3g')}–{fmt_number(x.max(), '.3g')}]"
            cells.append({"text": text,
                          "n": len(x), "n_na": n_na, "title": f"IQR {fmt_number(q1, '.3g')}–{fmt_number(q3, '.3g')}"})
        rows.append({"ratio": ratio, "compartment": comp, "cells": cells})
    return list(stages), rows


def _voxel_status(voxels: Any, exams: Any) -> list[dict[str, str]]:
    """Voxels without a usable result, one row per voxel: failed (their error), missing (exam without
    that VOI; needs *exams*) and processed but failing QC (with SNR and linewidth). ``voi`` is the
    VOI, ``voxel`` its label with the acq label of the ``spectrum`` where the exam has several
    voxels of that VOI (``lesion (frontal)``)."""
    from collections import Counter

    from pmlmrs.report._html import fmt_number, voi_label
    from pmlmrs.study.bids import acq_label

    out = []
    have = set()
    records = _records(voxels)
    n = Counter((str(r["participant_id"]), str(r["session_id"]), str(r["voi"]).lower()) for r in records)
    for r in records:
        key = (str(r["participant_id"]), str(r["session_id"]), str(r["voi"]).lower())
        have.add(key)
        err = r.get("error")
        acq = acq_label(r.get("spectrum")) if n[key] > 1 else None
        base = {"participant_id": key[0], "session_id": key[1], "voi": key[2], "stage": str(r.get("stage", "")),
                "voxel": voi_label(key[2]) + (f" ({acq})" if acq else "")}
        if isinstance(err, str) and err.strip() and err.strip().lower() not in ("n/a", "nan"):
            out.append({**base, "status": "failed", "message": err.strip()})
        elif str(r.get("qc_pass", "")).strip().lower() == "false":
            out.append({**base, "status": "failed QC",
                        "message": f"SNR {fmt_number(r.get('snr'), '.1f')}, "
                                   f"FWHM {fmt_number(r.get('fwhm_ppm'), '.3f')} ppm, "
                                   f"fit quality {fmt_number(r.get('fit_quality'), '.2f')} "
                                   "(details in the exam report)"})
    for e in _records(exams):
        for voi in ("lesion", "nawm"):
            if (str(e["participant_id"]), str(e["session_id"]), voi) not in have:
                out.append({"participant_id": str(e["participant_id"]), "session_id": str(e["session_id"]), "voi": voi,
                            "voxel": voi_label(voi), "stage": str(e.get("stage", "")), "status": "missing",
                            "message": "no spectrum for this VOI"})
    order = {"failed": 0, "missing": 1, "failed QC": 2}
    return sorted(out, key=lambda r: (order[r["status"]], r["participant_id"], r["session_id"], r["voxel"]))


def _count_rows(counts: Any, status: list[dict[str, str]]) -> list[dict[str, Any]]:
    """group/stage_counts rows with the voxels failing QC split into failed / missing / failed QC."""
    from pmlmrs.report._html import stage_label

    rows = []
    for c in _records(counts):
        sel = [r for r in status if c["stage"] == "total" or r["stage"] == c["stage"]]
        n = {k: sum(r["status"] == k for r in sel) for k in ("failed", "missing", "failed QC")}
        rows.append({**c, "label": stage_label(c["stage"]), "n_failed": n["failed"], "n_missing": n["missing"],
                     "n_qc_only": n["failed QC"]})
    return rows


def _problem_rows(problems: Any) -> list[dict[str, str]]:
    def text(v: Any) -> str:
        return "" if v is None or (isinstance(v, float) and math.isnan(v)) or str(v) == "n/a" else str(v)

    rows = problems.to_dict("records") if hasattr(problems, "to_dict") else list(problems or [])
    out = []
    for r in rows:
        row = {k: text(r.get(k)) for k in ("level", "participant_id", "session_id", "voi", "message", "action")}
        if row["voi"] and text(r.get("acq")):                 # one voxel of several of its voi: "lesion (frontal)"
            row["voi"] += f" ({text(r.get('acq'))})"
        out.append({**row, "cls": {"error": "qc-fail", "warning": "qc-warn"}.get(str(r.get("level")), "")})
    return out


def _test_rows(stage_stats: Any, comparison: str, alpha: float) -> list[dict[str, Any]]:
    from pmlmrs.report._html import fmt_number

    if stage_stats is None or not len(stage_stats):
        return []
    rows = []
    for r in stage_stats[stage_stats["comparison"] == comparison].to_dict("records"):
        p = r["p"]
        rows.append({
            **{k: r[k] for k in ("ratio", "stage", "group_a", "group_b", "test", "direction")},
            "n_a": r["n_a"], "n_b": r["n_b"],
            "median_a": fmt_number(r["median_a"], ".3g"), "median_b": fmt_number(r["median_b"], ".3g"),
            "statistic": fmt_number(r["statistic"], ".4g"),
            "effect": fmt_number(r.get("effect"), ".2f"), "shift": fmt_number(r.get("shift"), ".3g"),
            "p": _fmt_p(p), "p_holm": _fmt_p(r["p_holm"]), "p_fdr": _fmt_p(r["p_fdr"]),
            "significant": isinstance(p, float) and not math.isnan(p) and p < alpha,
            "significant_adj": isinstance(r["p_holm"], float) and not math.isnan(r["p_holm"]) and r["p_holm"] < alpha,
        })
    return rows


def _provenance_rows(provenance: Any) -> list[dict[str, str]]:
    """Key/value or step rows from a dict, a list of dicts/ProcessingSteps/strings, or text."""
    if provenance is None:
        return []
    if isinstance(provenance, str):
        return [{"key": "", "value": line} for line in provenance.splitlines() if line.strip()]
    if isinstance(provenance, Mapping):
        out = []
        for k, v in provenance.items():
            if isinstance(v, (Mapping, list, tuple)):
                v = json.dumps(v, indent=1, default=str, sort_keys=isinstance(v, Mapping))
            out.append({"key": str(k), "value": str(v), "block": "\n" in str(v)})
        return out
    out = []
    for i, item in enumerate(provenance):
        if hasattr(item, "to_nifti_mrs"):
            d = item.to_nifti_mrs()
            out.append({"key": f"{d.get('Time', '')} {d.get('Method', '')}".strip(),
                        "value": f"{d.get('Program', '')} {d.get('Version', '')}: {d.get('Details', '')}"})
        elif isinstance(item, Mapping):
            out.append({"key": str(item.get("time", item.get("step", i + 1))),
                        "value": "; ".join(f"{k}: {v}" for k, v in item.items() if k not in ("time", "step"))})
        else:
            out.append({"key": str(i + 1), "value": str(item)})
    return out


def _iris_summary(ev: Mapping[str, Any] | None) -> dict[str, Any]:
    from pmlmrs.report._html import fmt_number

    ev = dict(ev or {})
    lo, hi = ev.get("auc_ci", (float("nan"), float("nan"))) or (float("nan"), float("nan"))
    auc = ev.get("auc", float("nan"))
    auc_text = (f"LOPO AUC {fmt_number(auc, '.2f')} [{fmt_number(lo, '.2f')}, {fmt_number(hi, '.2f')}] "
                f"({int(ev.get('ci_level', 0.95) * 100)} % patient bootstrap, "
                f"{ev.get('n_bootstrap', 'n/a')} resamples, "
                f"seed {ev.get('seed', 'n/a')})") if ev.get("fitted") else ev.get("reason", "model not fitted")
    model = ev.get("model") or {}
    coefs = [{"feature": k, "coef": fmt_number(v, ".3g"),
              "mean": fmt_number((model.get("feature_mean") or {}).get(k), ".3g"),
              "sd": fmt_number((model.get("feature_sd") or {}).get(k), ".3g")}
             for k, v in (model.get("coef_standardised") or {}).items()]
    from pmlmrs.stats.iris import GHEUENS_QUOTE, GHEUENS_SOURCE

    g = {"quote": GHEUENS_QUOTE, "source": GHEUENS_SOURCE, **(ev.get("gheuens") or {})}
    g["has_counts"] = "n_flagged" in g
    return {
        "fitted": bool(ev.get("fitted")), "reason": ev.get("reason", ""), "auc_text": auc_text,
        "sensitivity": fmt_number(ev.get("sensitivity"), ".2f"),
        "specificity": fmt_number(ev.get("specificity"), ".2f"),
        "threshold": fmt_number(ev.get("threshold"), "g"), "penalty": fmt_number(ev.get("penalty"), "g"),
        "n_exams": ev.get("n_exams", "n/a"), "n_patients": ev.get("n_patients", "n/a"),
        "n_iris": ev.get("n_iris", "n/a"), "n_not_iris": ev.get("n_not_iris", "n/a"),
        "flags_from_model": ev.get("flags_from_model"), "min_auc": ev.get("min_auc"),
        "intercept": fmt_number(model.get("intercept"), ".3g"), "coefs": coefs,
        "label": ev.get("label", ""), "features": ev.get("features", []),
        "gheuens": g, "disclaimer": ev.get("disclaimer", "decision support, not diagnosis"),
    }


def _fixed_effects(longitudinal: Any) -> tuple[list[dict[str, Any]], Any]:
    from pmlmrs.report._html import fmt_number

    if longitudinal is None:
        return [], None
    fe = getattr(longitudinal, "fixed_effects", longitudinal)
    traj = getattr(longitudinal, "trajectories", None)
    rows = []
    for r in fe.to_dict("records"):
        rows.append({
            "ratio": r.get("ratio"), "voi": r.get("voi"), "term": r.get("term") or "–",
            "coef": fmt_number(r.get("coef"), ".3g"), "se": fmt_number(r.get("se"), ".2g"),
            "ci": f"[{fmt_number(r.get('ci_low'), '.3g')}, {fmt_number(r.get('ci_high'), '.3g')}]",
            "p": _fmt_p(r.get("p")), "n_patients": r.get("n_patients"), "n_exams": r.get("n_exams"),
            "fitted": bool(r.get("fitted")), "reason": r.get("reason", ""),
        })
    return rows, traj


# ----------------------------------------------------------------------------------------------


def render_cohort_report(voxels: Any, exams: Any, patients: Any, stage_stats: Any, correlations: Any,
                         iris_df: Any, iris_eval: Mapping[str, Any] | None, longitudinal: Any, mrsinmrs: Any,
                         provenance: Any, *, options: Any = None, problems: Any = None, stage_options: Any = None,
                         title: str = "PML cohort: 1H MRS") -> str:
    """The cohort report as HTML text (see :func:`write_cohort_report`)."""
    from pmlmrs.report._html import DETECTION_SD, Page, iris_flag_value, stage_label
    from pmlmrs.stats import StatsOptions, stage_counts
    from pmlmrs.stats.correlation import correlation_data
    from pmlmrs.stats.groups import analysis_table

    opts = options if options is not None else StatsOptions()
    stages = list(opts.stages)
    page = Page("cohort.html.jinja", title=title,
                subtitle=f"{0 if patients is None else len(patients)} patients · {len(exams)} exams · "
                         f"{len(voxels)} voxels")
    status = _voxel_status(voxels, exams)
    qc_fail = {(r["participant_id"], r["session_id"], r["voi"]) for r in status if r["status"] == "failed QC"}
    counts = _count_rows(stage_counts(voxels, exams, opts), status)
    table = analysis_table(voxels, opts)
    for voi in ("lesion", "nawm"):
        table[f"qc_fail_{voi}"] = [(str(p), str(q), voi) in qc_fail
                                   for p, q in zip(table["participant_id"], table["session_id"])]
    ratios = [r for r in opts.ratios if f"{r}_lesion" in table.columns]
    desc_stages, desc_rows = _median_range_table(table, ratios, stages + ["unassigned"], opts)
    boxes = [{"ratio": r, "figure": page.plotly(stage_box_figure(table, r, stage_stats, stages, opts.alpha))}
             for r in ratios]

    scatters = []
    if correlations is not None and len(correlations):
        data = correlation_data(voxels, exams, opts)
        if opts.lipid_rise == "quotient" and opts.unit == "exam":
            nd = table.loc[_not_detected(table, "Lip_tCr"), ["participant_id", "session_id"]]
            keys = set(zip(nd["participant_id"].astype(str), nd["session_id"].astype(str)))
            data["not_evaluable"] = [(str(p), str(q)) in keys
                                     for p, q in zip(data["participant_id"], data["session_id"])]
        subsets = dict(opts.correlation_subsets)
        for r in correlations.to_dict("records"):
            sub = data[data["stage"].isin(subsets.get(r["subset"], stages))]
            if r["measure"] not in sub.columns or r["clinical"] not in sub.columns:
                continue
            if r["measure"] != "lipid_rise" and "not_evaluable" in sub.columns:
                sub = sub.drop(columns="not_evaluable")
            scatters.append(page.plotly(correlation_figure(sub, r["measure"], r["clinical"], r)))
    corr_rows = []
    for r in _records(correlations):
        corr_rows.append({**r, "rho": "n/a" if r["rho"] is None or math.isnan(r["rho"]) else f"{r['rho']:.3f}",
                          "p_text": _fmt_p(r["p"]),
                          "significant": isinstance(r["p"], float) and not math.isnan(r["p"]) and r["p"] < opts.alpha})

    iris = _iris_summary(iris_eval)
    roc = None
    if iris_df is not None and len(iris_df) and iris["fitted"]:
        roc = page.plotly(roc_figure(iris_df, stages, iris["auc_text"]))
    iris_rows = [{**r, "iris_flag": iris_flag_value(r["iris_flag"])} for r in _records(iris_df)]

    fe_rows, traj = _fixed_effects(longitudinal)
    traj_figs = []
    if traj is not None and len(traj):
        for r in ("Lip_tCr", "tCho_tCr"):
            if r in set(traj["ratio"]):
                traj_figs.append(page.plotly(trajectory_figure(traj, r, "lesion", stage_options=stage_options,
                                                               qc_fail=qc_fail)))

    mrs_rows = _records(mrsinmrs)
    return page.render(
        counts=counts, desc_stages=desc_stages, desc_labels=[stage_label(s) for s in desc_stages],
        desc_rows=desc_rows, detection_sd=DETECTION_SD,
        relative=opts.relative, lipid_rise=opts.lipid_rise, unit=opts.unit,
        voxel_status=status, problems=_problem_rows(problems), problems_given=problems is not None,
        lvn_rows=_test_rows(stage_stats, "lesion_vs_nawm", opts.alpha),
        svs_rows=_test_rows(stage_stats, "stage_vs_stage", opts.alpha),
        family=opts.family, family_text=_FAMILY_TEXT.get(opts.family, opts.family), alpha=opts.alpha, boxes=boxes,
        corr_rows=corr_rows, corr_notes=(correlations.attrs.get("notes", []) if correlations is not None else []),
        scatters=scatters, iris=iris, roc=roc, iris_rows=iris_rows,
        fe_rows=fe_rows, traj_figs=traj_figs, mrsinmrs=mrs_rows,
        mrsinmrs_ref=(getattr(mrsinmrs, "attrs", {}) or {}).get("reference", "Lin et al. 2021, NMR Biomed 34:e4484"),
        provenance=_provenance_rows(provenance),
        options_json=json.dumps(opts.to_dict(), indent=1, default=str),
    )


def write_cohort_report(path: str | os.PathLike, voxels: Any, exams: Any, patients: Any, stage_stats: Any,
                        correlations: Any, iris_df: Any, iris_eval: Mapping[str, Any] | None, longitudinal: Any,
                        mrsinmrs: Any, provenance: Any, *, options: Any = None, problems: Any = None,
                        stage_options: Any = None, title: str = "PML cohort: 1H MRS", force: bool = True) -> Path:
    """Write the self-contained cohort report.

    Parameters
    ----------
    path : path
        The HTML file (DESIGN: ``group/report.html``).
    voxels, exams, patients : DataFrame
        group/voxels.tsv, the exams table, the patients table.
    stage_stats : DataFrame
        :func:`pmlmrs.stats.stage_stats`.
    correlations : DataFrame
        :func:`pmlmrs.stats.correlations`.
    iris_df, iris_eval : DataFrame, dict
        :func:`pmlmrs.stats.score_exams`.
    longitudinal : Longitudinal or DataFrame or None
        :func:`pmlmrs.stats.longitudinal` (or just its fixed-effects table).
    mrsinmrs : DataFrame or None
        :func:`pmlmrs.report.mrsinmrs.checklist`.
    provenance : dict, list or str
        The run's provenance log (software versions, options, inputs, steps), shown as given.
    options : StatsOptions, optional
        The options the statistics used (stages, α, family; shown in the report).
    problems : DataFrame or list of dict, optional
        group/problems.tsv (``level, participant_id, session_id, voi, message, action``), listed with
        the voxels that failed, are missing or failed QC (those come from *voxels* and *exams*).
    stage_options : StageOptions, optional
        The stage options of the run (the post-PML windows marked on the follow-up plots).
    title : str
    force : bool
        Overwrite an existing file (WriteError otherwise).
    """
    from pmlmrs.report._html import write_html

    html = render_cohort_report(voxels, exams, patients, stage_stats, correlations, iris_df, iris_eval,
                                longitudinal, mrsinmrs, provenance, options=options, problems=problems,
                                stage_options=stage_options, title=title)
    return write_html(html, path, force=force)
