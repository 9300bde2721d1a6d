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

__all__ = ["NOT_REPORTED", "CHECKLIST_ITEMS", "checklist", "header_dict"]

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

_AVERAGE_KEYS = ("NumberOfAverages", "NumberOfTransients", "Averages", "n_averages", "averages")
_SHIM_KEYS = ("ShimMethod", "Shimming", "shim", "shimming")
_WS_KEYS = ("WaterSuppressionType", "WaterSuppression")


def header_dict(h: Any) -> dict[str, Any]:
    """A flat dict from a Header, a Spectrum, ``Header.to_dict()`` output or ``fit.json['header']``.

    Keys: those of ``Header.to_dict()`` plus ``n_points`` / ``n_averages`` / ``voi`` when known.
    """
    out: dict[str, Any] = {}
    if hasattr(h, "header") and hasattr(h, "data"):  # a Spectrum
        out.update(header_dict(h.header))
        out["n_points"] = int(np.asarray(h.data).shape[-1])
        dims = tuple(getattr(h, "dims", ()))
        shape = np.asarray(h.data).shape[:-1]
        for name in ("dyn", "average", "avg"):
            if name in dims:
                out["n_averages"] = int(shape[dims.index(name)])
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
    avg = _acq(hs, *_AVERAGE_KEYS) + [h["n_averages"] for h in hs if h.get("n_averages")]
    found["Total number of excitations or acquisitions per spectrum"] = _num_summary(avg, ".0f")
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


def _from_voxels(voxels: Any) -> dict[str, str]:
    import pandas as pd

    found: dict[str, str] = {}
    if voxels is None or not isinstance(voxels, pd.DataFrame) or voxels.empty:
        return found

    def col_summary(col: str, fmt: str) -> str | None:
        if col not in voxels.columns:
            return None
        x = pd.to_numeric(voxels[col], errors="coerce").replace([np.inf, -np.inf], np.nan).dropna()
        if x.empty:
            return None
        return (f"median {format(x.median(), fmt)} [range {format(x.min(), fmt)}–{format(x.max(), fmt)}], "
                f"n = {len(x)} spectra")

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
                "median CRLB: " + ", ".join(parts))
    if "voi" in voxels.columns:
        labels = _text_summary(sorted(set(voxels["voi"].astype(str))))
        if labels:
            found["Volume of interest (VOI) locations"] = (
                f"VOI labels: {labels} (PML lesion and normal-appearing white matter)")
    return {k: v for k, v in found.items() if v}


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
