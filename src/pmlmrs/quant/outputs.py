"""The output files of ``pmlmrs fit`` (DESIGN.md contract): ``summary.tsv`` rows and ``fit.json``.

``summary.tsv`` columns, in order: ``spectrum``; for every fitted component then every combination
``NAME`` (basis units, mM when water-scaled) and ``NAME_crlb`` (%); the ratios (``tNAA_tCr`` ...)
each followed by ``RATIO_sd`` (absolute SD, an extension of the contract: the delta-method CRLB and,
where the fit has lipid-lineshape alternatives, their spread in quadrature, :attr:`Measure.sd_total`); ``snr``
(``n/a`` where not measurable, see :func:`measured_snr`), ``fwhm_ppm`` (the linewidth QC judged: the water reference's when there is one, else NAA's),
``fit_quality``, ``qc_pass``, ``error``. Missing values are ``n/a`` (BIDS), an
infinite CRLB (zero amplitude) is ``inf``, booleans are ``true``/``false``. Inputs are named by file
name and SHA-256 only: no folder of an input is written (outputs carry pseudonymous IDs only).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pmlmrs.errors import WriteError
from pmlmrs.quant.combine import RATIOS, combinations, ratios

__all__ = [
    "QC_COLUMNS",
    "spectrum_name",
    "file_sha256",
    "source_sha256",
    "tree_sha256",
    "input_record",
    "strip_folders",
    "remove_outputs",
    "summary_row",
    "judged_fwhm_ppm",
    "error_row",
    "summary_columns",
    "write_summary_tsv",
    "read_summary_tsv",
    "fit_to_dict",
    "write_fit_json",
    "read_fit_json",
    "to_jsonable",
]

#: The QC columns that close every summary row, before ``error``.
QC_COLUMNS: tuple[str, ...] = ("snr", "fwhm_ppm", "fit_quality", "qc_pass")

_DOUBLE_EXT = (".nii.gz", ".nii", ".tar.gz")


def spectrum_name(path: str | os.PathLike) -> str:
    """Input file name without its extension (``.nii.gz`` counts as one)."""
    name = Path(path).name
    low = name.lower()
    for ext in _DOUBLE_EXT:
        if low.endswith(ext) and len(name) > len(ext):
            return name[: -len(ext)]
    stem, dot, _ = name.rpartition(".")
    return stem if dot and stem else name


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            b = fh.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def source_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of what a reader reads for *path*: the file alone, or the file and its companions
    (``X.SDAT`` with ``X.SPAR`` ...) digested together, so that an edited header changes it."""
    from pmlmrs.io import companion_files

    extra = companion_files(path)
    if not extra:
        return file_sha256(path)
    h = hashlib.sha256()
    for f in [Path(path), *extra]:
        h.update(f.suffix.lower().encode())
        h.update(file_sha256(f).encode())
    return h.hexdigest()


def tree_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file, or of a folder's files (relative names and contents; caches skipped), as
    ``pmlmrs run`` digests a basis folder."""
    p = Path(path)
    if p.is_file():
        return file_sha256(p)
    h = hashlib.sha256()
    for f in sorted(q for q in p.rglob("*") if q.is_file() and "__pycache__" not in q.parts and q.suffix != ".pyc"):
        h.update(str(f.relative_to(p)).encode())
        h.update(file_sha256(f).encode())
    return h.hexdigest()


def input_record(path: str | os.PathLike) -> dict[str, Any]:
    """``{"path": name, "sha256": digest}`` of one input for the provenance: the file or folder name
    only (the folders that hold it can name a person; outputs carry pseudonymous IDs only). A folder is
    digested by :func:`tree_sha256`, the name of a bundled basis (``ismrm2016_press_3T_30ms``) as its
    bundled folder; ``sha256`` is None for anything else that is not on disk."""
    from importlib.resources import files

    p = Path(path)
    if not p.exists() and p.name == str(path):
        bundled = Path(str(files("pmlmrs").joinpath("data", "basis", p.name)))
        p = bundled if bundled.is_dir() else p
    return {"path": p.name, "sha256": tree_sha256(p) if p.exists() else None}


def strip_folders(obj: Any, paths: Iterable[str | os.PathLike | None]) -> Any:
    """*obj* (a string, or dicts and lists of them) with the folders holding *paths* taken out of every
    string: ``priv/DOE_JOHN/x.sdat`` (as given, absolute or resolved) becomes ``x.sdat``, a folder
    named alone ``<input folder>``. A one-part relative folder (``the/x.RAW``) goes only before a
    separator: alone it is as likely a word of the message. Other text is left as it is."""
    folders: set[str] = set()
    for p in paths:
        if p is None:
            continue
        for q in (Path(p), Path(p).absolute(), Path(p).resolve()):
            if str(q.parent).strip("./\\") and str(q.parent) != q.parent.anchor:  # not ".", "..", "/"
                folders.add(str(q.parent))
    if not folders:
        return obj

    def either(names: list[str]) -> str:
        return "|".join(re.escape(d) for d in sorted(names, key=len, reverse=True)) or "(?!)"

    whole = either([d for d in folders if len(Path(d).parts) > 1])
    prefix = either([d for d in folders if len(Path(d).parts) == 1])
    rx = re.compile(rf"(?<![\w.~/\\-])(?:(?:{whole})(?:[/\\]|(?![\w.~-]))|(?:{prefix})[/\\])")

    def clean(v: Any) -> Any:
        if isinstance(v, str):
            return rx.sub(lambda m: "" if m.group(0)[-1] in "/\\" else "<input folder>", v)
        if isinstance(v, Mapping):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list):   # spectra: long lists of numbers, returned as they are
            return v if all(type(x) in (float, int) for x in v) else [clean(x) for x in v]
        return v

    return clean(obj)


def measured_snr(result: Any) -> float | None:
    """:func:`pmlmrs.qc.snr`, or None where QC calls it not measurable (no NAA in the window, or no
    NAA peak above the baseline: a height <= 0)."""
    from pmlmrs.qc import snr

    v = snr(result)
    return v if math.isfinite(v) and v > 0 else None


def remove_outputs(files: Iterable[str | os.PathLike], root: str | os.PathLike) -> int:
    """Delete those of *files* that lie inside *root*, then the folders they leave empty (up to, not
    including, *root*); returns how many files were deleted. Files outside *root* are never touched."""
    top = Path(root).resolve()
    folders: set[Path] = set()
    removed = 0
    for f in map(Path, files):
        if f.is_file() and top in f.resolve().parents:
            f.unlink()
            folders.add(f.resolve().parent)
            removed += 1
    for d in sorted(folders, key=lambda p: -len(p.parts)):
        while d != top and top in d.parents and d.is_dir() and not any(d.iterdir()):
            d.rmdir()
            d = d.parent
    return removed


def _qc_items(result: Any, voi: str | None) -> tuple[Any, ...]:
    if result.qc:
        return tuple(result.qc)
    from pmlmrs.qc import assess

    return assess(result, voi=voi)


def summary_row(result: Any, name: str, *, voi: str | None = None,
                definitions: Mapping[str, Sequence[str]] | None = None,
                ratio_names: Sequence[str] = RATIOS) -> dict[str, Any]:
    """One ``summary.tsv`` row (an ordered dict of Python values) for a fit.

    Parameters
    ----------
    result : FitResult
        QC items are taken from ``result.qc``; when empty :func:`pmlmrs.qc.assess` runs with *voi*.
    name : str
        The ``spectrum`` column (see :func:`spectrum_name`).
    voi : {"lesion", "nawm"} or None
    definitions : mapping, optional
        Extra/replacement combinations (see :func:`pmlmrs.quant.combinations`).
    ratio_names : sequence of str
    """
    from pmlmrs.qc import fit_quality, qc_pass

    row: dict[str, Any] = {"spectrum": name}
    for i, n in enumerate(result.names):
        row[n] = float(result.amplitudes[i])
        row[f"{n}_crlb"] = result.crlb_percent(n)
    for n, m in combinations(result, definitions).items():
        row[n] = m.value
        row[f"{n}_crlb"] = m.crlb_percent
    for n, m in ratios(result, ratio_names, definitions).items():
        row[n] = m.value
        row[f"{n}_sd"] = m.sd_total
    items = _qc_items(result, voi)
    row["snr"] = measured_snr(result)
    row["fwhm_ppm"] = judged_fwhm_ppm(result, items)
    row["fit_quality"] = fit_quality(result)
    row["qc_pass"] = qc_pass(items)
    row["error"] = ""
    return row


def judged_fwhm_ppm(result: Any, qc_items: Sequence[Any] = ()) -> float:
    """The linewidth (ppm) QC judged: the water reference's FWHM when QC had one, else NAA's on the
    data, else the fitted NAA's (``nan`` when none is measurable)."""
    from pmlmrs.qc import fwhm_fit_ppm, fwhm_ppm, items_from

    for it in items_from(qc_items):
        if it.name == "linewidth" and it.value is not None and math.isfinite(it.value):
            return float(it.value)
    fw = fwhm_ppm(result)
    return fw if math.isfinite(fw) else fwhm_fit_ppm(result)


def error_row(name: str, message: str) -> dict[str, Any]:
    """The row of an input that could not be processed: every measure n/a, ``qc_pass`` false."""
    return {"spectrum": name, "qc_pass": False, "error": " ".join(str(message).split())}


def summary_columns(rows: Iterable[Mapping[str, Any]],
                    ratio_names: Sequence[str] = RATIOS) -> list[str]:
    """Union of the columns of *rows*: ``spectrum``, measures in first-seen order, ratios, QC, ``error``.

    The ratio columns (and their ``_sd``) are always present so that every summary.tsv has them.
    """
    fixed_tail = [c for r in ratio_names for c in (r, f"{r}_sd")] + list(QC_COLUMNS) + ["error"]
    tail = set(fixed_tail) | {"spectrum"}
    middle: list[str] = []
    seen: set[str] = set()
    for r in rows:
        for k in r:
            if k not in tail and k not in seen:
                seen.add(k)
                middle.append(k)
    return ["spectrum"] + middle + fixed_tail


def tsv_cell(v: Any, *, empty: str = "") -> str:
    """One TSV cell: ``n/a`` for missing values (None, NaN, pandas NA/NaT), ``true``/``false``,
    6 significant digits, ISO dates, text on one line; *empty* for an empty string."""
    if v is None:
        return "n/a"
    try:
        import pandas as pd

        if v is pd.NA or v is pd.NaT:
            return "n/a"
    except ImportError:  # pragma: no cover
        pass
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return "n/a"
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        return format(f, ".6g")
    if isinstance(v, (_dt.date, _dt.datetime)) or hasattr(v, "strftime"):
        return v.strftime("%Y-%m-%d")
    return " ".join(str(v).replace("\t", " ").split()) or empty


def write_tsv(path: str | os.PathLike, rows: Iterable[Mapping[str, Any]], columns: Sequence[str], *,
              empty: str = "") -> Path:
    """Write a table: a header line of *columns*, then one line per row, each cell by :func:`tsv_cell`
    (*empty* for empty strings). The folder is created; the file is written under a temporary name and
    renamed, so a reader never sees half a table. OSError passes through."""
    p = Path(path)
    lines = ["\t".join(columns)] + ["\t".join(tsv_cell(r.get(c), empty=empty) for c in columns) for r in rows]
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(p.suffix + ".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, p)
    return p


def write_summary_tsv(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike, *, force: bool = False,
                      ratio_names: Sequence[str] = RATIOS) -> Path:
    """Write ``summary.tsv`` (tab-separated, header line, ``n/a`` for missing values).

    Raises WriteError when *path* exists and *force* is false.
    """
    p = Path(path)
    if p.exists() and not force:
        raise WriteError("exists; use --force (force=True) to overwrite", p)
    try:
        return write_tsv(p, rows, summary_columns(rows, ratio_names))
    except OSError as exc:
        raise WriteError(f"cannot write: {exc}", p) from exc


def read_summary_tsv(path: str | os.PathLike) -> Any:
    """``summary.tsv`` as a pandas DataFrame (``n/a`` → NaN, ``qc_pass`` boolean, ``error`` string)."""
    import pandas as pd

    df = pd.read_csv(path, sep="\t", na_values=["n/a"], keep_default_na=False, dtype={"spectrum": str})
    if "qc_pass" in df:
        df["qc_pass"] = df["qc_pass"].map({"true": True, "false": False, True: True, False: False})
    if "error" in df:
        df["error"] = df["error"].fillna("").astype(str)
    return df


def to_jsonable(obj: Any) -> Any:
    """Plain JSON types: arrays → lists, NaN/inf and pandas' NA/NaT → None, complex → [re, im],
    dataclasses → dicts, dates → ISO 8601 text (so ``json.dumps(..., allow_nan=False)`` holds)."""
    import dataclasses
    import datetime

    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        if hasattr(obj, "to_dict"):
            return to_jsonable(obj.to_dict())
        return to_jsonable(dataclasses.asdict(obj))
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, (complex, np.complexfloating)):
        return [to_jsonable(obj.real), to_jsonable(obj.imag)]
    if obj is None or isinstance(obj, str):
        return obj
    if type(obj).__name__ in ("NAType", "NaTType"):
        return None
    if isinstance(obj, (datetime.date, datetime.time)):
        return obj.isoformat()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return str(obj)


def _measure_dict(m: Any) -> dict[str, Any]:
    return {"value": m.value, "sd": m.sd, "crlb_percent": m.crlb_percent, "sd_lineshape": m.sd_lineshape,
            "members": list(m.members)}


def fit_to_dict(result: Any, *, name: str | None = None, input_path: str | os.PathLike | None = None,
                water_path: str | os.PathLike | None = None, basis_path: str | os.PathLike | None = None,
                voi: str | None = None, options: Mapping[str, Any] | None = None,
                definitions: Mapping[str, Sequence[str]] | None = None,
                include_spectra: bool = False) -> dict[str, Any]:
    """Everything ``fit.json`` holds, as a JSON-ready dict.

    Keys: ``schema``, ``spectrum``, ``units``, ``components`` (name, group, amplitude, crlb_sd,
    crlb_percent), ``amplitudes``, ``crlb_percent``, ``covariance``, ``combinations`` (value, sd = the
    CRLB, crlb_percent, sd_lineshape, members), ``ratios`` (value, sd = the total SD as summary.tsv's
    ``RATIO_sd``, sd_crlb, sd_lineshape), ``lineshape_alternatives`` (amplitudes of the lipid-lineshape
    and baseline refits, empty when none ran), ``concentration_scale``, ``parameters`` (the non-linear fit parameters), ``fit`` (convergence,
    noise, SNR, FWHM, fit quality), ``qc`` (items), ``qc_pass``, ``header``, ``provenance``
    (software, version, time, options, inputs with SHA-256, processing steps); with
    *include_spectra* also ``spectra`` (ppm, data, fit, baseline, residual real parts).

    Parameters
    ----------
    result : FitResult
    name : str, optional
        Defaults to the spectrum's source file name without extension.
    input_path, water_path, basis_path : path, optional
        Recorded in the provenance by name with their SHA-256 (:func:`input_record`); the folders
        holding them are written nowhere in the document (:func:`strip_folders`). *basis_path*
        defaults to the source of the basis of ``result.model``.
    voi : str, optional
        Used when QC has not been run yet.
    options : mapping, optional
        Further options to record (e.g. ``{"quant": QuantOptions().to_dict(), "qc": ...}``).
    """
    from pmlmrs import __version__
    from pmlmrs.qc import fit_quality, fwhm_fit_ppm, fwhm_ppm, items_from, lipid_signal, qc_pass

    spec = result.spectrum
    if name is None:
        name = spectrum_name(spec.source) if spec.source else "spectrum"
    qc_items = items_from(_qc_items(result, voi))

    def _add(role: str, p: Any) -> None:
        inputs[role] = None if p is None else input_record(p)
        if p is not None and Path(p).is_file():
            from pmlmrs.io import companion_files

            for c in companion_files(p):  # e.g. "spectrum_spar": the header read with an SDAT
                inputs[f"{role}_{c.suffix.lower().lstrip('.')}"] = input_record(c)

    if basis_path is None:  # the basis the model was built from, when the result still has it
        basis_path = getattr(getattr(getattr(result, "model", None), "basis", None), "source", None)
    inputs: dict[str, Any] = {}
    _add("spectrum", input_path if input_path is not None else spec.source)
    if water_path is not None:
        _add("water", water_path)
    if basis_path is not None:
        inputs["basis"] = input_record(basis_path)

    components = [
        {"name": n, "group": g, "amplitude": float(a), "crlb_sd": float(c), "crlb_percent": result.crlb_percent(n)}
        for n, g, a, c in zip(result.names, result.groups, result.amplitudes, result.crlb)
    ]
    # result.provenance normally repeats the spectrum's steps before its own: list each step once.
    ordered = list(spec.provenance) + [st for st in result.provenance if st not in spec.provenance]
    steps = [st.to_nifti_mrs() for st in ordered]
    opts: dict[str, Any] = {"fit": dict(result.options)}
    if options:
        opts.update(options)
    out: dict[str, Any] = {
        "schema": "pmlmrs.fit/1",
        "spectrum": name,
        "units": "mM" if result.concentration_scale is not None else "basis units",
        "concentration_scale": result.concentration_scale,
        "components": components,
        "amplitudes": {n: float(a) for n, a in zip(result.names, result.amplitudes)},
        "crlb_percent": {n: result.crlb_percent(n) for n in result.names},
        "covariance": np.asarray(result.covariance),
        **({"covariance_free": np.asarray(result.covariance_free)}
           if getattr(result, "covariance_free", None) is not None else {}),
        "combinations": {k: _measure_dict(m) for k, m in combinations(result, definitions).items()},
        "ratios": {k: {"value": m.value, "sd": m.sd_total, "sd_crlb": m.sd, "sd_lineshape": m.sd_lineshape}
                   for k, m in ratios(result, RATIOS, definitions).items()},
        "lineshape_alternatives": {label: dict(zip(result.names, (float(x) for x in amps)))
                                   for label, amps in getattr(result, "alternatives", {}).items()},
        "parameters": dict(result.params),
        "fit": {
            "converged": bool(result.converged),
            "message": result.message,
            "n_iterations": int(result.n_iterations),
            "noise_sd": float(result.noise_sd),
            "ppm_window": [float(result.ppm[0]), float(result.ppm[-1])] if len(result.ppm) else None,
            "snr": measured_snr(result),
            "fwhm_ppm": judged_fwhm_ppm(result, qc_items),
            "fwhm_naa_ppm": fwhm_ppm(result),
            "fwhm_fit_ppm": fwhm_fit_ppm(result),
            "fit_quality": fit_quality(result),
            "lipid_signal": lipid_signal(result),
        },
        "qc": [it.to_dict() for it in qc_items],
        "qc_pass": qc_pass(qc_items),
        "header": spec.header.to_dict(),
        "provenance": {
            "software": "pmlmrs",
            "version": __version__,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "options": opts,
            "inputs": inputs,
            "steps": steps,
        },
    }
    if include_spectra:
        out["spectra"] = {
            "ppm": np.asarray(result.ppm),
            "data": np.real(result.data),
            "fit": np.real(result.fit),
            "baseline": np.real(result.baseline),
            "residual": np.real(result.residual),
        }
    # no folder of an input in any string (options, step details, QC messages): they can name a person
    return strip_folders(to_jsonable(out), [input_path, spec.source, water_path, basis_path])


def write_fit_json(result: Any, path: str | os.PathLike, *, force: bool = True,
                   doc: Mapping[str, Any] | None = None, **kwargs: Any) -> Path:
    """Write :func:`fit_to_dict` to *path* (indented JSON, NaN written as null).

    ``force=False`` raises WriteError when the file exists; *doc* reuses a :func:`fit_to_dict`
    output (then *kwargs* are ignored).
    """
    p = Path(path)
    if p.exists() and not force:
        raise WriteError("exists; use --force (force=True) to overwrite", p)
    if doc is None:
        doc = fit_to_dict(result, **kwargs)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    except OSError as exc:
        raise WriteError(f"cannot write: {exc}", p) from exc
    return p


def read_fit_json(path: str | os.PathLike) -> dict[str, Any]:
    """Read a ``fit.json`` back as a dict."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)
