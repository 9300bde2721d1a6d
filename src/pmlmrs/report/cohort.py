"""The cohort report (``group/report.html``): counts, descriptives, tests, figures, IRIS, MRSinMRS.

Built from the result tables of :mod:`pmlmrs.stats` (nothing is re-tested here; the medians and
scatter data are read back from the voxels/exams tables with the same functions the statistics
used). Self-contained: plotly.js inlined once, no external resources. Pseudonymous IDs only.
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

    *table* is the per-exam :func:`pmlmrs.stats.lesion_nawm_table` (or its patient means).
    """
    import plotly.graph_objects as go

    from pmlmrs.report._html import voi_label

    fig = go.Figure()
    for voi in ("lesion", "nawm"):
        col = f"{ratio}_{voi}"
        if col not in table.columns:
            continue
        sub = table[table["stage"].isin(stages)]
        fig.add_trace(go.Box(
            x=sub["stage"], y=_finite(sub[col]), name=voi_label(voi),
            marker={"color": _VOI_COLOURS[voi], "size": 5}, boxpoints="all", jitter=0.35, pointpos=0,
            line={"width": 1.2}, fillcolor="rgba(0,0,0,0)",
            hovertext=sub["participant_id"].astype(str) + " " + sub["session_id"].astype(str), hoverinfo="y+text",
        ))
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
            fig.add_annotation(x=r.stage, y=1.0, yref="paper", yanchor="bottom", showarrow=False,
                               text=f"<b>{txt}</b>" if bold else txt, font={"size": 11})
    fig.update_layout(
        title={"text": ratio.replace("_", "/"), "x": 0.01}, boxmode="group", height=360,
        margin={"l": 50, "r": 10, "t": 60, "b": 40}, template="plotly_white",
        xaxis={"categoryorder": "array", "categoryarray": list(stages)},
        legend={"orientation": "h", "y": -0.15},
    )
    return fig


def correlation_figure(data: Any, measure: str, clinical: str, row: Mapping[str, Any] | None) -> Any:
    """Scatter of a lesion measure against a clinical change, coloured by stage, with ρ, p, n."""
    import plotly.graph_objects as go

    from pmlmrs.report.patient import STAGE_COLOURS

    fig = go.Figure()
    for stage, sub in data.groupby("stage", sort=False):
        fig.add_trace(go.Scatter(
            x=_finite(sub[measure]), y=_finite(sub[clinical]), mode="markers", name=str(stage),
            marker={"color": STAGE_COLOURS.get(str(stage), "#636363"), "size": 8},
            hovertext=sub["participant_id"].astype(str) + " " + sub["session_id"].astype(str),
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


def trajectory_figure(trajectories: Any, ratio: str, voi: str = "lesion") -> Any:
    """Spaghetti plot: one line per patient of a ratio over days since PML onset, markers by stage."""
    import plotly.graph_objects as go

    from pmlmrs.report._html import voi_label
    from pmlmrs.report.patient import STAGE_COLOURS

    t = trajectories[(trajectories["ratio"] == ratio) & (trajectories["voi"] == voi)]
    fig = go.Figure()
    for pid, sub in t.groupby("participant_id", sort=True):
        sub = sub.sort_values("days_since_pml_onset")
        fig.add_trace(go.Scatter(
            x=sub["days_since_pml_onset"], y=_finite(sub["value"]), mode="lines+markers", name=str(pid),
            line={"color": "rgba(90,90,90,0.5)", "width": 1},
            marker={"color": [STAGE_COLOURS.get(str(s), "#bdbdbd") for s in sub["stage"]], "size": 8},
            hovertext=[f"{pid} {s} ({st})" for s, st in zip(sub["session_id"], sub["stage"])], showlegend=False,
        ))
    present = [s for s in STAGE_COLOURS if s in set(t["stage"].astype(str))]
    for s in present:  # legend of the marker colours
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=s,
                                 marker={"color": STAGE_COLOURS[s], "size": 8}))
    title = f"{_label(ratio)} ({voi_label(voi)})<br><sub>one line per patient, markers by stage</sub>"
    fig.update_layout(title={"text": title, "x": 0.01},
                      height=380, template="plotly_white", xaxis={"title": "days since PML onset"},
                      yaxis={"title": _label(ratio)}, margin={"l": 50, "r": 10, "t": 70, "b": 40},
                      legend={"orientation": "h", "y": -0.25})
    return fig


# ----------------------------------------------------------------------------------------------
# Tables


def _median_range_table(desc: Any, stages: Sequence[str]) -> tuple[list[str], list[dict[str, Any]]]:
    """Rows ratio × compartment, one ``median [min–max] (n)`` cell per stage."""
    from pmlmrs.report._html import fmt_number

    rows = []
    for (ratio, comp), sub in desc.groupby(["ratio", "compartment"], sort=False):
        cells = []
        for s in stages:
            r = sub[sub["stage"] == s]
            if r.empty or int(r["n"].iloc[0]) == 0:
                cells.append({"text": "–", "title": "no data", "n": 0})
                continue
            r = r.iloc[0]
            cells.append({
                "text": (f"{fmt_number(r['median'], '.3g')} "
                         f"[{fmt_number(r['min'], '.3g')}–{fmt_number(r['max'], '.3g')}]"),
                "n": int(r["n"]),
                "title": f"IQR {fmt_number(r['q1'], '.3g')}–{fmt_number(r['q3'], '.3g')}",
            })
        rows.append({"ratio": ratio, "compartment": comp, "cells": cells})
    return list(stages), rows


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
                         provenance: Any, *, options: Any = None, title: str = "PML cohort: 1H MRS") -> str:
    """The cohort report as HTML text (see :func:`write_cohort_report`)."""
    from pmlmrs.report._html import Page
    from pmlmrs.stats import StatsOptions, describe, stage_counts
    from pmlmrs.stats.correlation import correlation_data
    from pmlmrs.stats.groups import analysis_table

    opts = options if options is not None else StatsOptions()
    stages = list(opts.stages)
    page = Page("cohort.html.jinja", title=title,
                subtitle=f"{0 if patients is None else len(patients)} patients · {len(exams)} exams · "
                         f"{len(voxels)} voxels")
    counts = stage_counts(voxels, exams, opts)
    desc = describe(voxels, opts)
    desc_stages, desc_rows = _median_range_table(desc, stages + ["unassigned"])
    table = analysis_table(voxels, opts)
    ratios = [r for r in opts.ratios if f"{r}_lesion" in table.columns]
    boxes = [{"ratio": r, "figure": page.plotly(stage_box_figure(table, r, stage_stats, stages, opts.alpha))}
             for r in ratios]

    scatters = []
    if correlations is not None and len(correlations):
        data = correlation_data(voxels, exams, opts)
        subsets = dict(opts.correlation_subsets)
        for r in correlations.to_dict("records"):
            sub = data[data["stage"].isin(subsets.get(r["subset"], stages))]
            if r["measure"] not in sub.columns or r["clinical"] not in sub.columns:
                continue
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
    iris_rows = []
    for r in _records(iris_df):
        flag = r["iris_flag"] if isinstance(r["iris_flag"], bool) else str(r["iris_flag"]).lower() == "true"
        iris_rows.append({**r, "iris_flag": flag})

    fe_rows, traj = _fixed_effects(longitudinal)
    traj_figs = []
    if traj is not None and len(traj):
        for r in ("Lip_tCr", "tCho_tCr"):
            if r in set(traj["ratio"]):
                traj_figs.append(page.plotly(trajectory_figure(traj, r, "lesion")))

    mrs_rows = _records(mrsinmrs)
    return page.render(
        counts=_records(counts), desc_stages=desc_stages, desc_rows=desc_rows,
        relative=opts.relative, lipid_rise=opts.lipid_rise, unit=opts.unit,
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
                        mrsinmrs: Any, provenance: Any, *, options: Any = None, title: str = "PML cohort: 1H MRS",
                        force: bool = True) -> Path:
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
    title : str
    force : bool
        Overwrite an existing file (WriteError otherwise).
    """
    from pmlmrs.report._html import write_html

    html = render_cohort_report(voxels, exams, patients, stage_stats, correlations, iris_df, iris_eval,
                                longitudinal, mrsinmrs, provenance, options=options, title=title)
    return write_html(html, path, force=force)
