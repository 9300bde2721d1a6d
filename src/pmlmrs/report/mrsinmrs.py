"""The MRSinMRS minimum reporting checklist, filled from file headers and analysis settings.

Lin A, Andronesi O, Bogner W, et al. Minimum Reporting Standards for in vivo Magnetic Resonance
Spectroscopy (MRSinMRS): experts' consensus recommendations. *NMR Biomed* 2021;34:e4484.
doi:10.1002/nbm.4484

Every item is filled from what is known (headers → ``source="header"``, the analysis settings →
``"settings"``, the fitted voxels table → ``"data"``) and reads ``"not reported"`` otherwise, so the
gaps are visible rather than silently missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["NOT_REPORTED", "CHECKLIST_ITEMS", "checklist", "header_dict", "analysis_settings"]

NOT_REPORTED = "not reported"
REFERENCE = "Lin et al. 2021, NMR Biomed 34:e4484 (MRSinMRS)"

#: (section, item, settings key(s)) in the order of the MRSinMRS table.
CHECKLIST_ITEMS: tuple[tuple[str, str], ...] = (
    ("1. Hardware", "Field strength [T]"),
    ("1. Hardware", "Manufacturer"),
    ("1. Hardware", "Model (hardware)"),
    ("1. Hardware", "Software version"),
    ("1. Hardware", "RF coils: nuclei, number of channels, type, body part"),
    ("2. Acquisition", "Pulse sequence"),
    ("2. Acquisition", "Volume of interest (VOI) locations"),
    ("2. Acquisition", "Nominal VOI size [cm³, mm³]"),
    ("2. Acquisition", "Repetition time (TR), echo time (TE) [ms]"),
    ("2. Acquisition", "Total number of excitations or acquisitions per spectrum"),
    ("2. Acquisition", "Spectral width [Hz]"),
    ("2. Acquisition", "Number of spectral points"),
    ("2. Acquisition", "Water suppression method"),
    ("2. Acquisition", "Shimming method, reference peak, and thresholds"),
    ("2. Acquisition", "Nucleus, spectrometer frequency [MHz]"),
    ("3. Data analysis methods and outputs", "Analysis software (and version)"),
    ("3. Data analysis methods and outputs", "Processing steps deviating from the expected default"),
    ("3. Data analysis methods and outputs", "Output measure"),
    ("3. Data analysis methods and outputs", "Quantification references and assumptions, fitting model assumptions"),
    ("3. Data analysis methods and outputs", "Basis set"),
    ("3. Data analysis methods and outputs", "Baseline and lineshape model"),
    ("4. Data quality", "Reported variables (SNR)"),
    ("4. Data quality", "Linewidth (FWHM)"),
    ("4. Data quality", "Data exclusion criteria"),
    ("4. Data quality", "Quality measures of postprocessing model fitting (CRLBs)"),
    ("4. Data quality", "Sample spectrum"),
)

# Settings keys accepted for each item (first present wins).
_SETTINGS_KEYS: dict[str, tuple[str, ...]] = {
    "Field strength [T]": ("field_strength", "field"),
    "Manufacturer": ("manufacturer", "vendor"),
    "Model (hardware)": ("model", "scanner_model"),
    "Software version": ("scanner_software", "software_version"),
    "RF coils: nuclei, number of channels, type, body part": ("coil", "coils"),
    "Pulse sequence": ("sequence",),
    "Volume of interest (VOI) locations": ("voi_location", "voi"),
    "Nominal VOI size [cm³, mm³]": ("voi_size",),
    "Repetition time (TR), echo time (TE) [ms]": ("te_tr",),
    "Total number of excitations or acquisitions per spectrum": ("averages", "n_averages"),
    "Spectral width [Hz]": ("spectral_width",),
    "Number of spectral points": ("points", "n_points"),
    "Water suppression method": ("water_suppression",),
    "Shimming method, reference peak, and thresholds": ("shimming", "shim"),
    "Nucleus, spectrometer frequency [MHz]": ("nucleus",),
    "Analysis software (and version)": ("analysis_software", "software"),
    "Processing steps deviating from the expected default": ("steps", "processing_steps", "preprocessing"),
    "Output measure": ("output_measure",),
    "Quantification references and assumptions, fitting model assumptions": ("quantification", "reference"),
    "Basis set": ("basis_set", "basis"),
    "Baseline and lineshape model": ("baseline", "baseline_model"),
    "Reported variables (SNR)": ("snr",),
    "Linewidth (FWHM)": ("linewidth", "fwhm"),
    "Data exclusion criteria": ("exclusion_criteria", "exclusion"),
    "Quality measures of postprocessing model fitting (CRLBs)": ("crlb", "fit_quality"),
    "Sample spectrum": ("sample_spectrum",),
}

_AVERAGE_KEYS = ("NumberOfAverages", "NumberOfTransients", "Averages", "averages")
_SHIM_KEYS = ("ShimMethod", "Shimming", "shim", "shimming")
_WS_KEYS = ("WaterSuppressionType", "WaterSuppression")


def header_dict(h: Any) -> dict[str, Any]:
    """A flat dict from a Header, a Spectrum, ``Header.to_dict()`` output or ``fit.json['header']``.

    Keys: those of ``Header.to_dict()`` plus ``n_points`` / ``dims`` (sizes of the non-time axes) /
    ``n_averages`` / ``voi`` when known.
    """
    out: dict[str, Any] = {}
    if hasattr(h, "header") and hasattr(h, "data"):  # a Spectrum
        out.update(header_dict(h.header))
        out["n_points"] = int(np.asarray(h.data).shape[-1])
        out["dims"] = dict(zip(tuple(getattr(h, "dims", ())), np.asarray(h.data).shape[:-1]))
        for name in ("dyn", "average", "avg"):
            if name in out["dims"]:
                out["n_averages"] = int(out["dims"][name])
        return out
    if hasattr(h, "to_dict") and hasattr(h, "spectrometer_frequency"):
        return dict(h.to_dict())
    if isinstance(h, Mapping):
        return dict(h)
    raise TypeError(f"cannot read a header from {type(h).__name__}")


def _distinct(values: Iterable[Any]) -> list[Any]:
    seen: list[Any] = []
    for v in values:
        if v is None or v == "" or (isinstance(v, float) and not np.isfinite(v)):
            continue
        key = tuple(v) if isinstance(v, list) else v
        if key not in [tuple(s) if isinstance(s, list) else s for s in seen]:
            seen.append(v)
    return seen


def _num_summary(values: Sequence[float], fmt: str, unit: str = "") -> str | None:
    vals = [float(v) for v in values if v is not None and np.isfinite(float(v))]
    if not vals:
        return None
    lo, hi = min(vals), max(vals)
    u = f" {unit}" if unit else ""
    if np.isclose(lo, hi):
        return f"{format(lo, fmt)}{u}"
    return f"{format(lo, fmt)}–{format(hi, fmt)}{u} (varies across {len(vals)} files)"


def _text_summary(values: Iterable[Any]) -> str | None:
    d = _distinct(values)
    if not d:
        return None
    return "; ".join(str(v) for v in d)


def _acq(hs: list[dict[str, Any]], *keys: str) -> list[Any]:
    out = []
    for h in hs:
        acq = h.get("acquisition") or {}
        for k in keys:
            if k in acq and acq[k] not in (None, ""):
                out.append(acq[k])
                break
            if k in h and h[k] not in (None, ""):
                out.append(h[k])
                break
    return out


def _averages(hs: list[dict[str, Any]]) -> str:
    """Averages from the header, else the transients stored in the file; a file holding one averaged
    FID without the count in its header is said to be so, never given a number."""
    known: list[float] = []
    averaged = unknown = 0
    for h in hs:
        n = _acq([h], *_AVERAGE_KEYS)
        if not n and (h.get("n_averages") or 0) > 1:  # transients stored in the file
            n = [h["n_averages"]]
        if n:
            known.append(float(n[0]))
        elif "dims" in h and all(int(v) <= 1 for v in (h["dims"] or {}).values()):
            averaged += 1
        else:
            unknown += 1
    parts = []
    if known:
        parts.append(_num_summary(known, ".0f") + (f" ({len(known)} of {len(hs)} files)" if averaged + unknown else ""))
    if averaged:
        parts.append("not in the header (the file holds one averaged spectrum)" if len(hs) == 1 else
                     f"not in the header of {averaged} file{'s' if averaged > 1 else ''} holding one averaged "
                     "spectrum each")
    if unknown:
        parts.append("not in the header" if len(hs) == 1 else
                     f"not in the header of {unknown} file{'s' if unknown > 1 else ''}")
    return "; ".join(parts)


def _from_headers(hs: list[dict[str, Any]]) -> dict[str, str]:
    found: dict[str, str | None] = {}
    found["Field strength [T]"] = _num_summary([h.get("field_strength_t") for h in hs], ".3g", "T")
    found["Manufacturer"] = _text_summary(_acq(hs, "Manufacturer"))
    found["Model (hardware)"] = _text_summary(_acq(hs, "ManufacturersModelName"))
    found["Software version"] = _text_summary(_acq(hs, "SoftwareVersions"))
    coils = _text_summary(
        f"Rx {a}" for a in _acq(hs, "RxCoil", "ReceiveCoilName")
    )
    tx = _text_summary(f"Tx {a}" for a in _acq(hs, "TxCoil", "TransmitCoilName"))
    found["RF coils: nuclei, number of channels, type, body part"] = "; ".join(x for x in (coils, tx) if x) or None
    found["Pulse sequence"] = _text_summary(_acq(hs, "SequenceName", "PulseSequenceType"))
    vois = _text_summary(h.get("voi") for h in hs)
    centres = [h.get("voxel_centre_mm") for h in hs if h.get("voxel_centre_mm")]
    loc = vois
    if centres:
        loc = (f"{vois}; " if vois else "") + f"{len(centres)} voxel position(s) in the headers"
    found["Volume of interest (VOI) locations"] = loc
    sizes = [h.get("voxel_size_mm") for h in hs if h.get("voxel_size_mm")]
    if sizes:
        vols = [float(np.prod(s)) / 1000.0 for s in sizes]
        dims = _text_summary("×".join(f"{x:g}" for x in s) + " mm" for s in sizes)
        found["Nominal VOI size [cm³, mm³]"] = f"{_num_summary(vols, '.3g', 'cm³')}; {dims}"
    te = _num_summary([None if h.get("echo_time_s") is None else 1e3 * h["echo_time_s"] for h in hs], ".4g", "ms")
    tr = _num_summary([None if h.get("repetition_time_s") is None else 1e3 * h["repetition_time_s"] for h in hs],
                      ".5g", "ms")
    if te or tr:
        found["Repetition time (TR), echo time (TE) [ms]"] = f"TR {tr or NOT_REPORTED}, TE {te or NOT_REPORTED}"
    found["Total number of excitations or acquisitions per spectrum"] = _averages(hs)
    found["Spectral width [Hz]"] = _num_summary([h.get("spectral_width_hz") for h in hs], ".6g", "Hz")
    found["Number of spectral points"] = _num_summary([h.get("n_points") for h in hs], ".0f")
    ws = _acq(hs, *_WS_KEYS)
    if not ws:
        flags = _acq(hs, "WaterSuppressed")
        ws = ["water suppressed (method not in the header)" if f else "no water suppression" for f in flags]
    found["Water suppression method"] = _text_summary(ws)
    found["Shimming method, reference peak, and thresholds"] = _text_summary(_acq(hs, *_SHIM_KEYS))
    nuc = _text_summary(h.get("nucleus") for h in hs)
    mhz = _num_summary([h.get("spectrometer_frequency_mhz") for h in hs], ".6g", "MHz")
    if nuc or mhz:
        found["Nucleus, spectrometer frequency [MHz]"] = ", ".join(x for x in (nuc, mhz) if x)
    return {k: v for k, v in found.items() if v}


def _spectra(n: int) -> str:
    return f"{n} spectrum" if n == 1 else f"{n} spectra"


def _from_voxels(voxels: Any) -> dict[str, str]:
    import pandas as pd

    found: dict[str, str] = {}
    if voxels is None or not isinstance(voxels, pd.DataFrame) or voxels.empty:
        return found

    def col_summary(col: str, fmt: str) -> str | None:
        if col not in voxels.columns:
            return None
        x = pd.to_numeric(voxels[col], errors="coerce").replace([np.inf, -np.inf], np.nan).dropna()
        n_na = len(voxels) - len(x)
        if x.empty:
            return f"not measurable (n/a in {_spectra(n_na)})"
        if len(voxels) == 1:
            return format(x.iloc[0], fmt)
        return (f"median {format(x.median(), fmt)} [range {format(x.min(), fmt)}–{format(x.max(), fmt)}], "
                f"n = {_spectra(len(x))}" + (f"; not measurable in {_spectra(n_na)}" if n_na else ""))

    s = col_summary("snr", ".1f")
    if s:
        found["Reported variables (SNR)"] = "SNR (NAA peak height / noise SD): " + s
    s = col_summary("fwhm_ppm", ".3f")
    if s:
        found["Linewidth (FWHM)"] = "FWHM (ppm): " + s
    crlbs = [c for c in ("tNAA_crlb", "tCr_crlb", "tCho_crlb", "Lip_crlb") if c in voxels.columns]
    if crlbs:
        parts = []
        for c in crlbs:
            x = pd.to_numeric(voxels[c], errors="coerce").replace([np.inf, -np.inf], np.nan).dropna()
            if not x.empty:
                parts.append(f"{c[:-5]} {x.median():.0f} %")
        if parts:
            found["Quality measures of postprocessing model fitting (CRLBs)"] = (
                ("CRLB: " if len(voxels) == 1 else "median CRLB: ") + ", ".join(parts))
    if "voi" in voxels.columns:
        labels = _text_summary(sorted(set(voxels["voi"].astype(str))))
        if labels:
            found["Volume of interest (VOI) locations"] = (
                f"VOI labels: {labels} (PML lesion and normal-appearing white matter)")
    return {k: v for k, v in found.items() if v}


#: Processing steps (ProcessingStep names) in words; read, fit and water scaling are other items.
_STEP_WORDS = {"coil_combine": "coil combination", "align": "alignment of transients",
               "reject_outliers": "outlier rejection", "average": "averaging",
               "eddy_current_correction": "eddy-current correction (water reference)",
               "water_removal": "HLSVD residual-water removal", "phase_correct": "zero-order phase correction",
               "frequency_reference": "frequency referencing"}
_NOT_STEPS = ("read", "fit", "water_scaling")


def _opts(o: Any, defaults: Any = None) -> dict[str, Any]:
    """An option table as a dict, completed from *defaults* (an Options class) when not empty."""
    d = {} if o is None else dict(o.to_dict() if hasattr(o, "to_dict") else o)
    return {**defaults().to_dict(), **d} if d and defaults is not None else d


def _g(v: Any) -> str:
    return format(float(v), "g")


def _preprocess_text(po: Mapping[str, Any]) -> str:
    multi = [w for k, w in (("coil_combine", "coil combination"), ("align", "alignment"),
                            ("reject", "outlier rejection")) if po.get(k, True)]
    parts = [", ".join([*multi, "averaging"]) + " (multi-transient data)"]
    if po.get("ecc", True):
        parts.append("eddy-current correction (with a water reference)")
    if po.get("water_removal", True):
        parts.append("HLSVD residual-water removal")
    if po.get("phase", True):
        parts.append(f"zero-order phase on {po.get('phase_peak') or po.get('reference') or 'cr'}")
    if po.get("reference"):
        parts.append(f"frequency referencing on {po['reference']}")
    if po.get("apodize_hz"):
        parts.append(f"{po.get('apodize_kind', 'exponential')} apodization {_g(po['apodize_hz'])} Hz")
    for key, word in (("truncate", "truncation"), ("zero_fill", "zero filling")):
        if po.get(key):
            parts.append(f"{word} to {po[key]} points")
    return "; ".join(parts)


def _fit_steps_text(fo: Mapping[str, Any]) -> str:
    phase = "zero-order phase"
    if fo.get("fit_phase1"):
        phase += f", first-order phase (|·| ≤ {_g(fo.get('max_phase1_deg_per_ppm', 0))} °/ppm)"
    return (f"in the fit: {phase}, frequency shift per component group (± {_g(fo.get('shift_range_ppm', 0))} ppm "
            f"after a ± {_g(fo.get('search_range_ppm', 0))} ppm search) and line broadening per group")


def _model_text(fo: Mapping[str, Any]) -> str:
    lo, hi = fo.get("ppm_range") or (None, None)
    parts = [f"fit window {_g(lo)}–{_g(hi)} ppm" if lo is not None else ""]
    parts.append(f"simulated lipids ({fo.get('lipid_model')})" if fo.get("lipids") else "no simulated lipids")
    mm = fo.get("macromolecules")
    parts.append({"auto": "simulated macromolecules unless the basis has a measured one",
                  "none": "no macromolecules", False: "no macromolecules"}.get(mm, "simulated macromolecules"))
    if fo.get("ratio_priors") not in (None, "none", []):
        parts.append(f"soft ratio priors ({fo['ratio_priors'] if isinstance(fo['ratio_priors'], str) else 'custom'})")
    parts.append("non-negative amplitudes, CRLBs from the Fisher information")
    return "; ".join(p for p in parts if p)


def _water_text(q: Mapping[str, Any]) -> str:
    def tissue(key: str, unit: str = "") -> str:
        return "/".join(_g(q[f"{t}_{key}"]) for t in ("gm", "wm", "csf")) + unit

    if q.get("water_concentration_override") is not None:
        water = f"attenuated water concentration {_g(q['water_concentration_override'])} mM (override)"
    else:
        water = (f"water {q['water_concentration'] / 1000:.4g} M, {q['water_protons']} protons; GM/WM/CSF fractions "
                 f"{tissue('fraction')} (CSF correction {'on' if q.get('csf_correction') else 'off'}), water "
                 f"content {tissue('water_content')}, water T2 {tissue('water_t2', ' ms')}")
        water += (f", T1 {tissue('water_t1', ' ms')}, TR {_g(q['repetition_time'])} ms"
                  if q.get("repetition_time") else ", TR ≫ T1 (no T1 correction)")
    met = (f"metabolite attenuation {_g(q['metabolite_attenuation_override'])} (override)"
           if q.get("metabolite_attenuation_override") is not None else
           f"metabolite T2 {_g(q['metabolite_t2'])} ms" + (f", T1 {_g(q['metabolite_t1'])} ms"
                                                              if q.get("repetition_time") else ""))
    te = f"TE {_g(q['echo_time'])} ms" if q.get("echo_time") is not None else "TE from the header"
    scale = (f"basis scale {_g(q['basis_scale'])}" if q.get("basis_scale") is not None else
             f"basis scale measured on {q.get('reference_metabolite')} ({_g(q.get('reference_protons', 0))} protons)")
    return f"{water}; {met}; {te}; {scale}"


def _basis_text(basis: Any) -> str | None:
    from pmlmrs.quant.outputs import input_record

    items = basis if isinstance(basis, (list, tuple)) else [basis]
    out = []
    for b in items:
        if isinstance(b, Mapping) and b.get("sha256"):
            rec = b
        elif b not in (None, ""):
            rec = input_record(b["path"] if isinstance(b, Mapping) else b)
        else:
            continue
        out.append(f"{rec['path']} (SHA-256 {rec.get('sha256') or 'n/a'})")
    return "; ".join(dict.fromkeys(out)) or None


def analysis_settings(options: Mapping[str, Any], *, version: str | None = None, basis: Any = None,
                      water_scaled: bool | None = None, steps: Sequence[str] | None = None) -> dict[str, str]:
    """The analysis items of the checklist, described from the options actually used.

    Parameters
    ----------
    options : mapping
        Option tables (objects or dicts) under ``fit``, ``preprocess``, ``quant``, ``qc`` and
        ``stats``, each optional: ``fit.json``'s ``provenance.options`` or ``pmlmrs run``'s record.
    version : str, optional
        The pmlmrs version.
    basis : str, mapping or list of them
        Each basis used: a path or bundled basis name (digested here), or ``{"path", "sha256"}``
        as in ``fit.json``'s ``provenance.inputs.basis``; folders are never written.
    water_scaled : bool, optional
        True: amplitudes are mM (the water-scaling assumptions are listed); False: ratios only;
        None: scaled where a water reference exists.
    steps : sequence of str, optional
        The ProcessingStep names applied (``fit.json``'s ``provenance.steps[*].Method``); without
        them the steps are described from ``options["preprocess"]``.

    Returns
    -------
    dict
        ``settings`` for :func:`checklist` (``analysis_software``, ``steps``, ``output_measure``,
        ``quantification``, ``basis_set``, ``baseline``, ``exclusion_criteria``; those the
        inputs say nothing about are left out).
    """
    from pmlmrs.fit import FitOptions
    from pmlmrs.qc import QCOptions
    from pmlmrs.quant import QuantOptions

    fo, qo, co = (_opts(options.get(k), cls) for k, cls in (("fit", FitOptions), ("quant", QuantOptions),
                                                             ("qc", QCOptions)))
    po, so = _opts(options.get("preprocess")), _opts(options.get("stats"))
    out: dict[str, str | None] = {"analysis_software": f"pmlmrs {version}" if version else None}
    if steps is not None:
        done = [_STEP_WORDS.get(n, n.replace("_", " ")) for n in dict.fromkeys(steps) if n not in _NOT_STEPS]
        pre = ", ".join(done) or "none"
    else:
        pre = _preprocess_text(po) if po else None
    if fo or pre:
        out["steps"] = "; ".join(x for x in (pre, _fit_steps_text(fo) if fo else None) if x)
    measure = {True: "amplitudes in mM (water-scaled) with CRLBs", False: "amplitudes in basis units with CRLBs",
               None: "amplitudes (mM where a water reference exists) with CRLBs"}[water_scaled]
    out["output_measure"] = f"{measure}; ratios to tCr and tNAA/tCho"
    quant = None
    if water_scaled is False:
        quant = "ratios to tCr; no water scaling"
    elif qo:
        quant = ("water-scaled: " if water_scaled else "water scaling where a water reference exists: ") + _water_text(qo)
    elif water_scaled:
        quant = "water-scaled (the assumptions were not recorded)"
    if fo:
        quant = "; ".join(x for x in (quant, f"fitting model: {_model_text(fo)}") if x)
    out["quantification"] = quant
    out["basis_set"] = _basis_text(basis)
    if fo:
        base = {"spline": f"penalised cubic B-spline baseline (knot spacing {_g(fo.get('baseline_knot_spacing_ppm', 0))} "
                          f"ppm, smoothness {fo.get('baseline_smoothness')})",
                "polynomial": f"Legendre polynomial baseline (degree {fo.get('baseline_order')})",
                "none": "no baseline"}.get(fo.get("baseline"), f"{fo.get('baseline')} baseline")
        out["baseline"] = (f"{base}; Voigt lineshape per component group (extra Lorentzian ≤ "
                           f"{_g(fo.get('max_lorentz_hz', 0))} Hz, Gaussian ≤ {_g(fo.get('max_gauss_hz', 0))} Hz)")
    if co:
        fail = ["not converged", f"FWHM > {_g(co['fwhm_fail'])} ppm", "no tCr fitted"]
        warn = [f"FWHM > {_g(co['fwhm_warn'])} ppm", f"SNR < {_g(co['snr_warn'])}",
                f"fit quality > {_g(co['fit_quality_warn'])}"]
        (fail if co.get("crlb_level") == "fail" else warn).append(
            f"CRLB > {_g(co['crlb_max'])} % (main metabolites; lipids in lesion voxels only)")
        if so.get("exclude_failed_qc"):
            rule = "spectra that fail QC are excluded from the statistics"
        elif so:
            rule = "none excluded (exclude_failed_qc off)"
        else:
            rule = "none excluded by pmlmrs"
        out["exclusion_criteria"] = (f"{rule}; QC fail: {', '.join(fail)}; QC warning only (reported): "
                                     f"{', '.join(warn)}")
    return {k: v for k, v in out.items() if v}


def checklist(headers: Sequence[Any], settings: Mapping[str, Any] | None = None, *,
              voxels: Any = None) -> Any:
    """The MRSinMRS minimum reporting table (Lin et al. 2021, NMR Biomed e4484).

    Parameters
    ----------
    headers : list
        One entry per spectrum: ``Header``, ``Spectrum``, ``Header.to_dict()`` output or the
        ``header`` of a fit.json (optionally with ``n_points``, ``n_averages``, ``voi`` keys). Values
        that differ between files are given as ranges.
    settings : mapping, optional
        Analysis settings and anything the headers cannot say, keyed by the names in
        ``_SETTINGS_KEYS`` (``analysis_software``, ``steps``, ``output_measure``, ``basis_set``,
        ``baseline``, ``exclusion_criteria``, ``coil``, ``shimming``, ``voi_location``,
        ``sample_spectrum``, ...). A settings value overrides the header value.
    voxels : DataFrame, optional
        group/voxels.tsv: SNR, linewidth and CRLB summaries for the data-quality items.

    Returns
    -------
    DataFrame
        ``section, item, value, source`` (source ``header``, ``settings``, ``data`` or empty when
        ``"not reported"``), one row per item of :data:`CHECKLIST_ITEMS`.
    """
    import pandas as pd

    hs = [header_dict(h) for h in (headers or [])]
    from_h = _from_headers(hs) if hs else {}
    from_d = _from_voxels(voxels)
    settings = dict(settings or {})
    rows = []
    for section, item in CHECKLIST_ITEMS:
        value, source = None, ""
        for key in _SETTINGS_KEYS.get(item, ()):
            v = settings.get(key)
            if v not in (None, "", [], {}):
                if isinstance(v, (list, tuple)):
                    v = "; ".join(str(x) for x in v)
                elif isinstance(v, Mapping):
                    v = "; ".join(f"{k}: {x}" for k, x in v.items())
                value, source = str(v), "settings"
                break
        if value is None and item in from_h:
            value, source = from_h[item], "header"
        if value is None and item in from_d:
            value, source = from_d[item], "data"
        rows.append({"section": section, "item": item, "value": value if value is not None else NOT_REPORTED,
                     "source": source})
    df = pd.DataFrame(rows, columns=["section", "item", "value", "source"])
    df.attrs["reference"] = REFERENCE
    return df
