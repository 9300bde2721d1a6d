"""The per-spectrum fit report (``OUTDIR/<spectrum>/report.html``).

Built only from the FitResult (and what :func:`pmlmrs.quant.fit_to_dict` derives from it): the fit
figure, the metabolite table with CRLBs, combinations, ratios with their SDs, QC items, the fit
parameters and the provenance (software version, options, input SHA-256, processing steps).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["fit_context", "render_fit_report", "write_fit_report"]


def fit_context(result: Any, *, name: str | None = None, voi: str | None = None,
                fit_doc: dict[str, Any] | None = None, **fit_dict_kwargs: Any) -> dict[str, Any]:
    """Template context for one fit (also usable by exam/patient reports).

    Keys: ``name``, ``units``, ``qc_pass``, ``qc`` (list of dicts), ``components`` (rows with
    ``name, group, amplitude, crlb_percent, ratio_tcr, flagged``), ``combinations``, ``ratios``,
    ``fit`` (snr, fwhm, fit quality, convergence), ``parameters`` (JSON text), ``provenance``.

    Parameters
    ----------
    result : FitResult
    name : str, optional
    voi : str, optional
        Used when QC has not run.
    fit_doc : dict, optional
        A :func:`pmlmrs.quant.fit_to_dict` output to reuse (else computed).
    """
    from pmlmrs.qc import QCOptions
    from pmlmrs.quant import fit_to_dict

    doc = fit_doc if fit_doc is not None else fit_to_dict(result, name=name, voi=voi, **fit_dict_kwargs)
    crlb_max = QCOptions().crlb_max
    tcr = (doc["combinations"].get("tCr") or {}).get("value")
    if tcr is None and "tCr" in doc["amplitudes"]:
        tcr = doc["amplitudes"]["tCr"]
    rows = []
    for c in doc["components"]:
        pct = c["crlb_percent"]
        rows.append({
            **c,
            "ratio_tcr": (c["amplitude"] / tcr) if tcr else None,
            "flagged": c["amplitude"] > 0 and (pct is None or pct > crlb_max),
        })
    combos = []
    for k, m in doc["combinations"].items():
        combos.append({"name": k, **m, "ratio_tcr": (m["value"] / tcr) if (tcr and m["value"] is not None) else None,
                       "flagged": m["crlb_percent"] is None or m["crlb_percent"] > crlb_max})
    ratios = [{"name": k.replace("_", "/"), "column": k, **v} for k, v in doc["ratios"].items()]
    prov = doc["provenance"]
    return {
        "name": doc["spectrum"],
        "units": doc["units"],
        "concentration_scale": doc["concentration_scale"],
        "qc_pass": doc["qc_pass"],
        "qc": doc["qc"],
        "components": rows,
        "combinations": combos,
        "ratios": ratios,
        "fit": doc["fit"],
        "header": doc["header"],
        "parameters": json.dumps(doc["parameters"], indent=1, sort_keys=True),
        "provenance": prov,
        "options_json": json.dumps(prov["options"], indent=1, sort_keys=True, default=str),
        "crlb_max": crlb_max,
    }


def render_fit_report(result: Any, *, name: str | None = None, voi: str | None = None,
                      interactive: bool = False, fit_doc: dict[str, Any] | None = None,
                      **fit_dict_kwargs: Any) -> str:
    """The report page as a string (see :func:`write_fit_report`)."""
    from pmlmrs.report._html import Page
    from pmlmrs.report.figures import fit_figure, fit_figure_plotly

    ctx = fit_context(result, name=name, voi=voi, fit_doc=fit_doc, **fit_dict_kwargs)
    spec = result.spectrum
    h = spec.header
    subtitle = (f"{h.nucleus} {h.spectrometer_frequency:.3f} MHz"
                + (f", TE {h.echo_time * 1e3:g} ms" if h.echo_time is not None else "")
                + f", {spec.n_points} points, SW {h.spectral_width:.0f} Hz"
                + (f", voxel: {voi}" if voi else ""))
    page = Page("fit_report.html.jinja", title=ctx["name"], subtitle=subtitle)
    figure = page.mpl(fit_figure(result, title=ctx["name"]), alt=f"fit of {ctx['name']}")
    interactive_div = page.plotly(fit_figure_plotly(result, title=ctx["name"])) if interactive else ""
    return page.render(figure=figure, interactive=interactive_div, **ctx)


def write_fit_report(result: Any, path: str | os.PathLike, *, name: str | None = None, voi: str | None = None,
                     interactive: bool = False, force: bool = True, fit_doc: dict[str, Any] | None = None,
                     **fit_dict_kwargs: Any) -> Path:
    """Write the self-contained HTML report of one fit.

    Parameters
    ----------
    result : FitResult
    path : path
        The ``report.html`` to write.
    name : str, optional
        Title (defaults to the spectrum file name without extension).
    voi : str, optional
    interactive : bool
        Add a plotly version of the figure (inlines plotly.js once: about 4 MB more).
    force : bool
        Overwrite an existing file (WriteError otherwise).
    fit_doc : dict, optional
        Reuse a :func:`pmlmrs.quant.fit_to_dict` output (e.g. the one written to fit.json).
    **fit_dict_kwargs
        Passed to :func:`pmlmrs.quant.fit_to_dict` (``input_path``, ``water_path``, ``options``...).
    """
    from pmlmrs.report._html import write_html

    html = render_fit_report(result, name=name, voi=voi, interactive=interactive, fit_doc=fit_doc,
                             **fit_dict_kwargs)
    return write_html(html, path, force=force)
