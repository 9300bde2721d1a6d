"""The per-spectrum fit report (``OUTDIR/<spectrum>/report.html``).

Built only from the FitResult (and what :func:`pmlmrs.quant.fit_to_dict` derives from it): the
software version, basis and key options behind it, the fit figure, the metabolite table with CRLBs
(highlighted above the QC threshold used), combinations, ratios with their SDs, QC items, the fit
parameters, the MRSinMRS checklist of the spectrum and the provenance (software version, options,
inputs by name with SHA-256, processing steps).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["fit_context", "key_options", "lipid_lineshape", "render_fit_report", "write_fit_report"]


def key_options(prov: dict[str, Any], crlb_max: float) -> list[str]:
    """One line each: software version, basis (name, SHA-256), fit model and QC settings behind a page
    (*prov*: a fit.json ``provenance``: ``version``, ``options`` with ``fit``/``qc``, ``inputs.basis``)."""
    from pmlmrs.fit import FitOptions
    from pmlmrs.qc import QCOptions

    opts = prov.get("options") or {}
    fo = {**FitOptions().to_dict(), **opts["fit"]} if opts.get("fit") else {}
    co = {**QCOptions().to_dict(), **(opts.get("qc") or {}), "crlb_max": crlb_max}
    basis = (prov.get("inputs") or {}).get("basis")
    lines = [f"pmlmrs {prov.get('version', '')}",
             "basis " + (f"{basis['path']} (SHA-256 {basis.get('sha256') or 'n/a'})" if basis else "not recorded")]
    if fo:
        lo, hi = fo["ppm_range"]
        lines.append(f"fit {lo:g}–{hi:g} ppm, {fo['baseline']} baseline, "
                     + (f"lipids {fo['lipid_model']}" if fo["lipids"] else "no lipids")
                     + f", macromolecules {fo['macromolecules']}, zero-order"
                     + (" and first-order" if fo["fit_phase1"] else "") + f" phase, {fo['backend']} backend")
    lines.append(f"QC: CRLB > {crlb_max:g} % {co['crlb_level']}, FWHM > {co['fwhm_warn']:g} ppm warn, "
                 f"> {co['fwhm_fail']:g} ppm fail, SNR < {co['snr_warn']:g} warn")
    return lines


def lipid_lineshape(params: dict[str, Any]) -> str | None:
    """One line on how the lipid lineshape was fitted, from a fit's ``parameters`` (None where no
    lipids were detected): the methylene line's own width or one shared lipid width, the Voigt FWHMs
    and the information-criterion gain or the reason the own width was not tried
    (:attr:`pmlmrs.fit.FitOptions.lipid_methylene_split`)."""
    choice = params.get("lipid_methylene")
    if not choice:
        return None
    fwhm = {g: v for g, v in (params.get("fwhm_hz") or {}).items() if g != "metabolites"}
    widths = ", ".join(f"{g} {v:.1f} Hz" for g, v in fwhm.items())
    if choice.get("own_group"):
        return (f"1.3 ppm methylene line with its own width (Voigt FWHM {widths}); information-criterion "
                f"gain {choice['ic_gain']:.1f} over one shared lipid width")
    if choice.get("ic_gain") is not None:
        return (f"one lipid width (Voigt FWHM {widths}); the methylene line's own width was tried and not "
                f"supported (information-criterion gain {choice['ic_gain']:.1f})")
    return f"one lipid width (Voigt FWHM {widths}); the methylene line's own width not tried: {choice.get('not_tried')}"


def fit_context(result: Any, *, name: str | None = None, voi: str | None = None,
                fit_doc: dict[str, Any] | None = None, crlb_max: float | None = None,
                **fit_dict_kwargs: Any) -> dict[str, Any]:
    """Template context for one fit (also usable by exam/patient reports).

    Keys: ``name``, ``units``, ``qc_pass``, ``qc`` (list of dicts), ``components`` (rows with
    ``name, group, amplitude, crlb_percent, ratio_tcr, flagged``), ``combinations``, ``ratios``,
    ``fit`` (snr, fwhm, fit quality, convergence), ``parameters`` (JSON text), ``lipid_lineshape``
    (:func:`lipid_lineshape`), ``provenance``,
    ``crlb_max``, ``key_options`` (lines: version, basis, fit, QC settings), ``settings`` (the
    MRSinMRS analysis items, :func:`pmlmrs.report.mrsinmrs.analysis_settings`).

    Parameters
    ----------
    result : FitResult
    name : str, optional
    voi : str, optional
        Used when QC has not run.
    fit_doc : dict, optional
        A :func:`pmlmrs.quant.fit_to_dict` output to reuse (else computed).
    crlb_max : float, optional
        CRLB (%) above which rows are highlighted: the QC threshold that was used. Default: the
        ``qc.crlb_max`` recorded in the provenance options, else :class:`~pmlmrs.qc.QCOptions`'.
    """
    from pmlmrs.qc import QCOptions
    from pmlmrs.quant import fit_to_dict
    from pmlmrs.report.mrsinmrs import analysis_settings

    doc = fit_doc if fit_doc is not None else fit_to_dict(result, name=name, voi=voi, **fit_dict_kwargs)
    prov = doc["provenance"]
    if crlb_max is None:
        crlb_max = float((prov["options"].get("qc") or {}).get("crlb_max", QCOptions().crlb_max))
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
    options = {**prov["options"], "qc": {**(prov["options"].get("qc") or {}), "crlb_max": crlb_max}}
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
        "lipid_lineshape": lipid_lineshape(doc["parameters"]),
        "provenance": prov,
        "options_json": json.dumps(prov["options"], indent=1, sort_keys=True, default=str),
        "crlb_max": crlb_max,
        "key_options": key_options(prov, crlb_max),
        "settings": analysis_settings(options, version=prov.get("version"), basis=prov["inputs"].get("basis"),
                                      water_scaled=doc["concentration_scale"] is not None,
                                      steps=[st.get("Method", "") for st in prov.get("steps") or []]),
    }


def _mrsinmrs_rows(ctx: dict[str, Any], header: Any) -> list[dict[str, Any]]:
    """The MRSinMRS checklist of this one spectrum (header as read, the analysis as run, its QC values)."""
    import pandas as pd

    from pmlmrs.report.mrsinmrs import checklist

    quality = {"snr": ctx["fit"]["snr"], "fwhm_ppm": ctx["fit"]["fwhm_ppm"],
               **{f"{c['name']}_crlb": c["crlb_percent"] for c in ctx["combinations"]}}
    settings = {**ctx["settings"], "sample_spectrum": "the figure of this report"}
    return checklist([header], settings, voxels=pd.DataFrame([quality])).to_dict("records")


def render_fit_report(result: Any, *, name: str | None = None, voi: str | None = None,
                      interactive: bool = False, fit_doc: dict[str, Any] | None = None,
                      crlb_max: float | None = None, header: Any = None, **fit_dict_kwargs: Any) -> str:
    """The report page as a string (see :func:`write_fit_report`)."""
    from pmlmrs.report._html import Page
    from pmlmrs.report.figures import fit_figure, fit_figure_plotly

    ctx = fit_context(result, name=name, voi=voi, fit_doc=fit_doc, crlb_max=crlb_max, **fit_dict_kwargs)
    spec = result.spectrum
    h = spec.header
    subtitle = (f"{h.nucleus} {h.spectrometer_frequency:.3f} MHz"
                + (f", TE {h.echo_time * 1e3:g} ms" if h.echo_time is not None else "")
                + f", {spec.n_points} points, SW {h.spectral_width:.0f} Hz"
                + (f", voxel: {voi}" if voi else ""))
    page = Page("fit_report.html.jinja", title=ctx["name"], subtitle=subtitle)
    figure = page.mpl(fit_figure(result, title=ctx["name"]), alt=f"fit of {ctx['name']}")
    interactive_div = page.plotly(fit_figure_plotly(result, title=ctx["name"])) if interactive else ""
    return page.render(figure=figure, interactive=interactive_div,
                       mrsinmrs=_mrsinmrs_rows(ctx, header if header is not None else spec), **ctx)


def write_fit_report(result: Any, path: str | os.PathLike, *, name: str | None = None, voi: str | None = None,
                     interactive: bool = False, force: bool = True, fit_doc: dict[str, Any] | None = None,
                     crlb_max: float | None = None, header: Any = None, **fit_dict_kwargs: Any) -> Path:
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
    crlb_max : float, optional
        The QC CRLB threshold used (see :func:`fit_context`).
    header : Spectrum, Header or dict, optional
        The input as read, before preprocessing, for the MRSinMRS table (stored transients);
        default ``result.spectrum``.
    **fit_dict_kwargs
        Passed to :func:`pmlmrs.quant.fit_to_dict` (``input_path``, ``water_path``, ``options``...).
    """
    from pmlmrs.report._html import write_html

    html = render_fit_report(result, name=name, voi=voi, interactive=interactive, fit_doc=fit_doc,
                             crlb_max=crlb_max, header=header, **fit_dict_kwargs)
    return write_html(html, path, force=force)
