"""Reading and writing basis sets.

Formats :func:`load_basis` recognises:

``lcmodel_basis``
    An LCModel ``.BASIS`` file: ``$SEQPAR`` (``HZPPPM`` MHz, ``ECHOT`` ms, ``SEQ``), ``$BASIS1``
    (``BADELT`` s, ``NDATAB``, ``FMTBAS``), then per metabolite ``$NMUSED`` and ``$BASIS`` (``METABO``,
    ``CONC``, ``ISHIFT``, ...) followed by ``NDATAB`` complex numbers. The data block is the
    **frequency-domain** spectrum in FFT order (not fftshifted) of the **conjugate** FID, shifted
    by ``ISHIFT`` bins: ``fid = conj(ifft(roll(block, -ISHIFT)))`` gives the FID in the pmlmrs Spectrum convention
    (checked on every .BASIS in ``data/invivo`` and the ISMRM challenge: NAA at 2.008 ppm, Cr at
    3.027 ppm within 0.01 ppm once the ppm reference is calibrated). The first FID point is halved
    by LCModel's makebasis; it is kept as stored.
``lcmodel_raw_folder``
    A folder of LCModel ``.RAW`` FIDs, one per metabolite (name = file stem); frequency, dwell time
    and TE come from the options, else a ``.BASIS`` file beside them, else a ``basis.json`` sidecar.
``text_folder``
    A folder of column-text or jMRUI-text FIDs with a ``basis.json`` sidecar: ``spectrometer_frequency``
    (MHz), ``dwell_time`` (s), ``echo_time`` (s), ``ppm_reference`` (ppm at the receiver frequency,
    default 4.65), ``conjugate`` (true when the files hold the LCModel convention, the conjugate of
    the Spectrum convention; default true for column text, false for jMRUI text), optional ``nucleus``, ``sequence``, ``files`` ({name: file}), ``exclude`` ([names]).
``fsl_json``
    An FSL-MRS basis folder: one JSON per metabolite with ``basis.basis_re``, ``basis.basis_im``,
    ``basis.basis_dwell`` (s), ``basis.basis_centre`` (MHz), ``basis.basis_width`` (Hz),
    ``basis.basis_name``. FSL-MRS works in the Spectrum convention (no conjugation); the ppm reference is
    4.65 unless ``meta.ppm_reference`` says otherwise.
``pmlmrs_npz``
    A folder with ``basis.npz`` (``names``, ``fids``) and ``basis.json`` (written by :func:`save_basis`;
    the bundled basis sets use it).

After reading, metabolite names are made canonical (``PCh`` -> ``PCho``, ``Scyllo`` -> ``sIns``,
``mI`` -> ``Ins``), the NAA/Cr singlet positions are checked and ``ppm_reference`` calibrated
(:func:`~pmlmrs.basis.reference.calibrate_ppm_reference`; a mirrored basis is conjugated), and
reference singlets at 0 ppm are reported in ``meta["reference_peak"]`` (removed with
``remove_reference=True`` or :meth:`Basis.remove_reference_peak`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from pmlmrs._logging import logger
from pmlmrs.basis.basis import Basis, canonical_name
from pmlmrs.config import ReadOptions
from pmlmrs.errors import BasisError, ReadError, WriteError, check_option
from pmlmrs.io._util import read_text_file

__all__ = [
    "BASIS_FORMATS",
    "load_basis",
    "read_lcmodel_basis",
    "read_raw_folder",
    "read_text_folder",
    "read_fsl_basis",
    "write_fsl_basis",
    "save_basis",
    "read_npz_basis",
    "bundled_basis",
    "bundled_basis_names",
    "detect_basis_format",
]

BASIS_FORMATS = ("lcmodel_basis", "lcmodel_raw_folder", "text_folder", "fsl_json", "pmlmrs_npz")
SIDECAR = "basis.json"
_BUNDLED_DIR = Path(__file__).resolve().parent.parent / "data" / "basis"


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------

def _names_unique(names: list[str], source: Path) -> list[str]:
    canon = [canonical_name(n) for n in names]
    dup = sorted({c for c in canon if canon.count(c) > 1})
    if dup:
        raise BasisError(f"{source}: metabolites {dup} appear more than once after name canonicalisation "
                         f"(names in the file: {names})")
    return canon


def _read_sidecar(folder: Path) -> dict[str, Any]:
    p = folder / SIDECAR
    if not p.is_file():
        return {}
    try:
        doc = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise BasisError(f"{p}: cannot read the basis sidecar: {exc}") from exc
    if not isinstance(doc, dict):
        raise BasisError(f"{p}: the basis sidecar must be a JSON object")
    return doc


def _positive(value: Any, what: str, where: Path) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise BasisError(f"{where}: {what} must be a number, got {value!r}") from None
    if not np.isfinite(v) or v <= 0:
        raise BasisError(f"{where}: {what} must be positive, got {value!r}")
    return v


# ----------------------------------------------------------------------------------------------
# LCModel .BASIS
# ----------------------------------------------------------------------------------------------

def read_lcmodel_basis(path: str | Path) -> Basis:
    """Read an LCModel ``.BASIS`` file (see the module notes for the data-block convention).

    Raises
    ------
    ReadError
        Unreadable or empty file.
    BasisError
        Missing ``$BASIS1``/``HZPPPM``/``BADELT``/``NDATAB``, a metabolite block with the wrong
        number of points (truncated file), no metabolites.
    """
    from pmlmrs.io.lcmodel import parse_fortran_numbers, parse_namelists

    p = Path(path)
    text = read_text_file(p, "basis file")
    if not re.search(r"[$&]BASIS1\b", text, re.IGNORECASE):
        raise BasisError(f"{p}: not an LCModel .BASIS file (no $BASIS1 namelist)")
    # the file alternates namelist groups and data blocks: split on group starts at line begin
    starts = [m.start() for m in re.finditer(r"(?m)^\s*[$&](?!END\b)[A-Za-z][A-Za-z0-9_]*", text)]
    seqpar: dict[str, Any] = {}
    basis1: dict[str, Any] = {}
    entries: list[tuple[dict[str, Any], dict[str, Any], str]] = []
    nmused: dict[str, Any] = {}
    for k, s in enumerate(starts):
        chunk_end = starts[k + 1] if k + 1 < len(starts) else len(text)
        try:
            groups = parse_namelists(text[s:chunk_end])
        except ValueError as exc:
            raise BasisError(f"{p}: malformed namelist near character {s}: {exc}") from exc
        if not groups:
            continue
        g = groups[0]
        rest = text[s + g.end:chunk_end]
        if g.name == "SEQPAR":
            seqpar = dict(g)
        elif g.name == "BASIS1":
            basis1 = dict(g)
        elif g.name == "NMUSED":
            nmused = dict(g)
        elif g.name == "BASIS":
            entries.append((dict(g), nmused, rest))
            nmused = {}
    if not basis1:
        raise BasisError(f"{p}: $BASIS1 namelist missing or empty")
    hz = seqpar.get("HZPPPM", basis1.get("HZPPPM"))
    if hz is None:
        raise BasisError(f"{p}: HZPPPM (spectrometer frequency, MHz) missing from $SEQPAR/$BASIS1")
    f0 = _positive(hz, "HZPPPM", p)
    badelt = basis1.get("BADELT")
    if badelt is None:
        raise BasisError(f"{p}: BADELT (dwell time, s) missing from $BASIS1")
    dwell = _positive(badelt, "BADELT", p)
    ndatab = basis1.get("NDATAB")
    if not isinstance(ndatab, int) or ndatab < 2:
        raise BasisError(f"{p}: NDATAB (points per metabolite) missing or invalid in $BASIS1: {ndatab!r}")
    fmt = basis1.get("FMTBAS")
    if not entries:
        raise BasisError(f"{p}: no $BASIS metabolite blocks")
    names: list[str] = []
    fids: list[np.ndarray] = []
    per_met: dict[str, dict[str, Any]] = {}
    for hdr, used, block in entries:
        name = hdr.get("METABO")
        if not isinstance(name, str) or not name.strip():
            raise BasisError(f"{p}: a $BASIS block has no METABO name (block {len(names) + 1})")
        name = name.strip()
        try:
            vals = parse_fortran_numbers(block, fmt if isinstance(fmt, str) else None)
        except ValueError as exc:
            raise BasisError(f"{p}: data of {name!r} are not numeric: {exc}") from exc
        if vals.size != 2 * ndatab:
            raise BasisError(f"{p}: {name!r} has {vals.size // 2} complex points, NDATAB = {ndatab} "
                             "(truncated or corrupt file?)")
        spec = vals[0::2] + 1j * vals[1::2]
        ishift = hdr.get("ISHIFT") or 0
        if ishift:
            spec = np.roll(spec, -int(ishift))
        fids.append(np.conj(np.fft.ifft(spec)))
        names.append(name)
        per_met[name] = {k.lower(): v for k, v in hdr.items() if k in ("CONC", "TRAMP", "VOLUME", "ISHIFT", "ID")}
        if used.get("PPMAPP") is not None:
            per_met[name]["ppmapp"] = used.get("PPMAPP")
    canon = _names_unique(names, p)
    te = seqpar.get("ECHOT")
    te_s = float(te) * 1e-3 if isinstance(te, (int, float)) and te > 0 else None
    seq = seqpar.get("SEQ")
    meta = {
        "format": "lcmodel_basis",
        "source_file": p.name,
        "sequence": seq.strip() if isinstance(seq, str) and seq.strip() else None,
        "echo_time_ms": None if te_s is None else te_s * 1e3,
        "id": (basis1.get("IDBASI") or "").strip() if isinstance(basis1.get("IDBASI"), str) else None,
        "fwhm_ppm": seqpar.get("FWHMBA"),
        "file_names": dict(zip(canon, names)),
        "metabolites": per_met,
        "convention_note": "LCModel .BASIS: frequency-domain block of the conjugate FID; read as conj(ifft())",
    }
    return Basis(names=tuple(canon), fids=np.array(fids), dwell_time=dwell, spectrometer_frequency=f0,
                 echo_time=te_s, ppm_reference=4.65, source=str(p), meta=meta)


# ----------------------------------------------------------------------------------------------
# folders of FIDs
# ----------------------------------------------------------------------------------------------

def _grid_from(folder: Path, options: ReadOptions | None, sidecar: dict[str, Any]) -> dict[str, Any]:
    """Spectrometer frequency, dwell, TE for a folder: options > sidecar > a .BASIS beside."""
    out: dict[str, Any] = {"sources": {}}
    basis_files = sorted([*folder.glob("*.BASIS"), *folder.glob("*.basis")])
    beside: Basis | None = None
    if basis_files and (options is None or options.central_frequency is None or options.spectral_width is None):
        try:
            beside = read_lcmodel_basis(basis_files[0])
        except (BasisError, ReadError) as exc:
            logger.warning("%s: cannot use %s for header values: %s", folder, basis_files[0].name, exc)
    o = options or ReadOptions()
    if o.central_frequency is not None:
        out["f0"], out["sources"]["spectrometer_frequency"] = float(o.central_frequency), "options"
    elif "spectrometer_frequency" in sidecar:
        out["f0"], out["sources"]["spectrometer_frequency"] = sidecar["spectrometer_frequency"], SIDECAR
    elif beside is not None:
        out["f0"], out["sources"]["spectrometer_frequency"] = beside.spectrometer_frequency, basis_files[0].name
    if o.spectral_width is not None:
        out["dwell"], out["sources"]["dwell_time"] = 1.0 / float(o.spectral_width), "options"
    elif "dwell_time" in sidecar:
        out["dwell"], out["sources"]["dwell_time"] = sidecar["dwell_time"], SIDECAR
    elif beside is not None:
        out["dwell"], out["sources"]["dwell_time"] = beside.dwell_time, basis_files[0].name
    if o.echo_time is not None:
        out["te"] = float(o.echo_time) * 1e-3
    elif sidecar.get("echo_time") is not None:
        out["te"] = float(sidecar["echo_time"])
    elif beside is not None:
        out["te"] = beside.echo_time
    else:
        out["te"] = None
    for key, field, flag in (("f0", "spectrometer frequency", "--central-frequency MHZ"),
                             ("dwell", "dwell time", "--spectral-width HZ")):
        if out.get(key) is None:
            raise BasisError(f"{folder}: the {field} of the basis FIDs is unknown: no {SIDECAR} sidecar "
                             f"or .BASIS file beside them gives it; pass {flag} "
                             "(ReadOptions(central_frequency=..., spectral_width=...))")
    out["f0"] = _positive(out["f0"], "spectrometer_frequency", folder)
    out["dwell"] = _positive(out["dwell"], "dwell_time", folder)
    if o.ppm_reference is not None:
        out["ref"] = float(o.ppm_reference)
    else:
        out["ref"] = float(sidecar.get("ppm_reference", 4.65))
    out["nucleus"] = sidecar.get("nucleus", o.nucleus or "1H")
    return out


def _stack(names: list[str], fids: list[np.ndarray], folder: Path) -> np.ndarray:
    lengths = {f.size for f in fids}
    if len(lengths) != 1:
        sizes = {n: f.size for n, f in zip(names, fids)}
        raise BasisError(f"{folder}: basis FIDs have different lengths {sizes}")
    return np.array(fids)


def read_raw_folder(folder: str | Path, options: ReadOptions | None = None) -> Basis:
    """A folder of LCModel ``.RAW`` FIDs (one per metabolite) as a Basis (see the module notes)."""
    from pmlmrs.io.lcmodel import read_raw_fid

    d = Path(folder)
    files = sorted({*d.glob("*.RAW"), *d.glob("*.raw")})
    if not files:
        raise BasisError(f"{d}: no .RAW files in the folder")
    sidecar = _read_sidecar(d)
    grid = _grid_from(d, options, sidecar)
    conj = True
    if options is not None and options.conjugate is not None:
        conj = bool(options.conjugate)
    names, fids = [], []
    exclude = set(sidecar.get("exclude", []))
    for f in files:
        if f.stem in exclude:
            continue
        data, _nl = read_raw_fid(f)
        names.append(f.stem)
        fids.append(np.conj(data) if conj else data)
    canon = _names_unique(names, d)
    n = fids[0].size if fids else 0
    if n & (n - 1):   # RAW files do not store their length (pmlmrs.io.lcmodel.read_raw refuses such data)
        logger.warning("%s: the basis FIDs have %d points, not a power of two: check that the files are complete", d, n)
    meta = {"format": "lcmodel_raw_folder", "source_file": d.name, "header_sources": grid["sources"],
            "file_names": dict(zip(canon, [f"{n}.RAW" for n in names])), "conjugated_on_read": conj,
            "sequence": sidecar.get("sequence"),
            "echo_time_ms": None if grid["te"] is None else grid["te"] * 1e3}
    return Basis(names=tuple(canon), fids=_stack(names, fids, d), dwell_time=grid["dwell"],
                 spectrometer_frequency=grid["f0"], echo_time=grid["te"], ppm_reference=grid["ref"],
                 nucleus=grid["nucleus"], source=str(d), meta=meta)


def read_text_folder(folder: str | Path, options: ReadOptions | None = None) -> Basis:
    """A folder of column-text or jMRUI-text FIDs plus a ``basis.json`` sidecar (see the module notes)."""
    from pmlmrs.io.jmrui import read_jmrui_header, sniff_jmrui
    from pmlmrs.io.text import read_text_columns

    d = Path(folder)
    sidecar = _read_sidecar(d)
    if not sidecar:
        raise BasisError(f"{d}: a folder of text FIDs needs a {SIDECAR} sidecar with spectrometer_frequency "
                         "(MHz), dwell_time (s), echo_time (s), ppm_reference and conjugate")
    files_map = sidecar.get("files")
    if isinstance(files_map, dict) and files_map:
        items = [(str(k), d / str(v)) for k, v in files_map.items()]
    else:
        exts = {".txt", ".dat", ".asc", ".csv"}
        items = [(f.stem, f) for f in sorted(d.iterdir()) if f.is_file() and f.suffix.lower() in exts]
    exclude = set(sidecar.get("exclude", []))
    items = [(n, f) for n, f in items if n not in exclude]
    if not items:
        raise BasisError(f"{d}: no text FIDs (.txt, .dat, .asc, .csv) in the folder")
    sidecar_grid = dict(sidecar)
    names, fids, conjs = [], [], []
    for name, f in items:
        if not f.is_file():
            raise BasisError(f"{d}: {SIDECAR} lists {f.name} for {name!r} but there is no such file")
        is_jmrui = sniff_jmrui(f)
        if is_jmrui:
            hdr, sig = read_jmrui_header(f)
            fid = sig[0]
            if "dwell_time" not in sidecar_grid and isinstance(hdr.get("SamplingInterval"), (int, float)):
                sidecar_grid["dwell_time"] = float(hdr["SamplingInterval"]) * 1e-3
            tf = hdr.get("TransmitterFrequency")
            if "spectrometer_frequency" not in sidecar_grid and isinstance(tf, (int, float)) and tf > 0:
                sidecar_grid["spectrometer_frequency"] = tf / 1e6 if tf > 1e4 else tf
        else:
            arr, _meta = read_text_columns(f)
            fid = arr[:, 0] + 1j * arr[:, 1]
        # column text (ISMRM challenge, LCModel-like) is conjugated by default, jMRUI text is not
        conj = bool(sidecar.get("conjugate", not is_jmrui))
        if options is not None and options.conjugate is not None:
            conj = bool(options.conjugate)
        names.append(name)
        fids.append(np.conj(fid) if conj else fid)
        conjs.append(conj)
    grid = _grid_from(d, options, sidecar_grid)
    stacked = _stack(names, fids, d)
    conj = all(conjs) if all(conjs) or not any(conjs) else "mixed"
    canon = _names_unique(names, d)
    meta = {"format": "text_folder", "source_file": d.name, "header_sources": grid["sources"],
            "file_names": dict(zip(canon, [f.name for _, f in items])), "conjugated_on_read": conj,
            "sequence": sidecar.get("sequence"),
            "echo_time_ms": None if grid["te"] is None else grid["te"] * 1e3,
            "sidecar": {k: v for k, v in sidecar.items() if k not in ("files",)}}
    return Basis(names=tuple(canon), fids=stacked, dwell_time=grid["dwell"], spectrometer_frequency=grid["f0"],
                 echo_time=grid["te"], ppm_reference=grid["ref"], nucleus=grid["nucleus"], source=str(d),
                 meta=meta)


# ----------------------------------------------------------------------------------------------
# FSL-MRS JSON
# ----------------------------------------------------------------------------------------------

def read_fsl_basis(folder: str | Path, options: ReadOptions | None = None) -> Basis:
    """An FSL-MRS basis folder (one JSON per metabolite) as a Basis.

    Raises
    ------
    BasisError
        No JSON with a ``basis`` object, missing keys, different dwell times or frequencies.
    """
    d = Path(folder)
    files = sorted(f for f in d.glob("*.json") if f.name != SIDECAR)
    if not files:
        raise BasisError(f"{d}: no FSL-MRS basis JSON files")
    names, fids, dwells, centres, widths, metas = [], [], [], [], [], []
    for f in files:
        try:
            doc = json.loads(f.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise BasisError(f"{f}: not valid JSON: {exc}") from exc
        b = doc.get("basis") if isinstance(doc, dict) else None
        if not isinstance(b, dict):
            raise BasisError(f"{f}: not an FSL-MRS basis file (no 'basis' object)")
        try:
            re_, im_ = np.asarray(b["basis_re"], float), np.asarray(b["basis_im"], float)
            dwell, centre = float(b["basis_dwell"]), float(b["basis_centre"])
        except (KeyError, TypeError, ValueError) as exc:
            raise BasisError(f"{f}: FSL-MRS basis needs basis_re, basis_im, basis_dwell, basis_centre: {exc}") from exc
        if re_.shape != im_.shape or re_.ndim != 1:
            raise BasisError(f"{f}: basis_re and basis_im differ in length")
        names.append(str(b.get("basis_name") or f.stem))
        fids.append(re_ + 1j * im_)
        dwells.append(dwell)
        centres.append(centre / 1e6 if centre > 1e4 else centre)
        widths.append(b.get("basis_width"))
        metas.append(doc.get("meta", {}) if isinstance(doc.get("meta", {}), dict) else {})
    if max(dwells) - min(dwells) > 1e-9 * max(dwells):
        raise BasisError(f"{d}: basis files have different dwell times {sorted(set(dwells))}")
    if max(centres) - min(centres) > 1e-4 * max(centres):
        raise BasisError(f"{d}: basis files have different central frequencies {sorted(set(centres))}")
    m0 = metas[0]
    o = options or ReadOptions()
    ref = o.ppm_reference if o.ppm_reference is not None else float(m0.get("ppm_reference", 4.65))
    te = m0.get("echo_time_s")
    if te is None and isinstance(m0.get("TE"), (int, float)):
        te = float(m0["TE"]) * 1e-3  # FSL-MRS simulator stores ms
    if o.echo_time is not None:
        te = float(o.echo_time) * 1e-3
    conj = bool(o.conjugate) if o.conjugate is not None else False
    stacked = _stack(names, fids, d)
    if conj:
        stacked = np.conj(stacked)
    canon = _names_unique(names, d)
    meta = {"format": "fsl_json", "source_file": d.name, "basis_width_hz": dict(zip(canon, widths)),
            "file_names": dict(zip(canon, [f.name for f in files])), "sequence": m0.get("sequence"),
            "echo_time_ms": None if te is None else float(te) * 1e3}
    return Basis(names=tuple(canon), fids=stacked, dwell_time=dwells[0], spectrometer_frequency=centres[0],
                 echo_time=None if te is None else float(te), ppm_reference=ref,
                 nucleus=str(m0.get("nucleus", o.nucleus or "1H")), source=str(d), meta=meta)


def write_fsl_basis(basis: Basis, folder: str | Path, *, force: bool = False,
                    width_hz: float | None = None) -> Path:
    """Write *basis* as an FSL-MRS basis folder (one ``<name>.json`` per metabolite).

    ``basis_centre`` is MHz, ``basis_dwell`` s, ``basis_width`` Hz (from ``meta["fwhm_ppm"]`` or
    *width_hz*, default 0); ``meta`` carries ``ppm_reference``, ``echo_time_s``, ``nucleus``.

    Raises
    ------
    WriteError
        The folder exists and is not empty, and *force* is false.
    """
    d = Path(folder)
    if d.exists() and any(d.iterdir()) and not force:
        raise WriteError("exists and is not empty; pass force=True (CLI: --force) to overwrite", d)
    d.mkdir(parents=True, exist_ok=True)
    if width_hz is None:
        fw = basis.meta.get("fwhm_ppm")
        width_hz = float(fw) * basis.spectrometer_frequency if isinstance(fw, (int, float)) and fw > 0 else 0.0
    from pmlmrs.core.provenance import software_version

    for name, fid in zip(basis.names, basis.fids):
        doc = {
            "basis": {"basis_re": fid.real.tolist(), "basis_im": fid.imag.tolist(),
                      "basis_dwell": basis.dwell_time, "basis_centre": basis.spectrometer_frequency,
                      "basis_width": width_hz, "basis_name": name},
            "meta": {"ppm_reference": basis.ppm_reference, "echo_time_s": basis.echo_time,
                     "nucleus": basis.nucleus, "sequence": basis.meta.get("sequence"),
                     "source": basis.source, "convention": "pmlmrs-spectrum",
                     "program": f"pmlmrs {software_version()}"},
        }
        (d / f"{name}.json").write_text(json.dumps(doc))
    return d


# ----------------------------------------------------------------------------------------------
# pmlmrs npz (bundled basis sets)
# ----------------------------------------------------------------------------------------------

def save_basis(basis: Basis, folder: str | Path, *, force: bool = False, extra: dict[str, Any] | None = None) -> Path:
    """Write *basis* as ``basis.npz`` (names, complex FIDs) plus a ``basis.json`` header.

    Raises
    ------
    WriteError
        ``basis.npz`` exists and *force* is false.
    """
    d = Path(folder)
    npz = d / "basis.npz"
    if npz.exists() and not force:
        raise WriteError("exists; pass force=True to overwrite", npz)
    d.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(npz, names=np.array(basis.names), fids=np.asarray(basis.fids, dtype=np.complex128))
    meta = {k: v for k, v in basis.meta.items() if _jsonable(v)}
    doc = {"format": "pmlmrs_npz", "spectrometer_frequency": basis.spectrometer_frequency,
           "dwell_time": basis.dwell_time, "echo_time": basis.echo_time, "ppm_reference": basis.ppm_reference,
           "nucleus": basis.nucleus, "n_points": basis.n_points, "names": list(basis.names),
           "convention": "pmlmrs-spectrum", "meta": meta, **(extra or {})}
    (d / SIDECAR).write_text(json.dumps(doc, indent=1) + "\n")
    return d


def _jsonable(v: Any) -> bool:
    try:
        json.dumps(v)
        return True
    except (TypeError, ValueError):
        return False


def read_npz_basis(folder: str | Path, options: ReadOptions | None = None) -> Basis:
    """Read a folder written by :func:`save_basis`."""
    d = Path(folder)
    side = _read_sidecar(d)
    npz = d / "basis.npz"
    if not npz.is_file():
        raise BasisError(f"{d}: basis.npz missing")
    try:
        with np.load(npz, allow_pickle=False) as z:
            names = [str(n) for n in z["names"]]
            fids = np.asarray(z["fids"])
    except (OSError, KeyError, ValueError) as exc:
        raise BasisError(f"{npz}: cannot read: {exc}") from exc
    try:
        f0 = _positive(side["spectrometer_frequency"], "spectrometer_frequency", d)
        dwell = _positive(side["dwell_time"], "dwell_time", d)
    except KeyError as exc:
        raise BasisError(f"{d / SIDECAR}: missing {exc}") from None
    o = options or ReadOptions()
    meta = dict(side.get("meta", {}))
    meta.update({"format": "pmlmrs_npz", "source_file": d.name})
    for key in ("source", "licence", "license", "attribution"):
        if key in side:
            meta[key] = side[key]
    return Basis(names=tuple(_names_unique(names, d)), fids=fids, dwell_time=dwell, spectrometer_frequency=f0,
                 echo_time=side.get("echo_time"),
                 ppm_reference=o.ppm_reference if o.ppm_reference is not None else side.get("ppm_reference", 4.65),
                 nucleus=side.get("nucleus", "1H"), source=str(d), meta=meta)


# ----------------------------------------------------------------------------------------------
# dispatch
# ----------------------------------------------------------------------------------------------

def detect_basis_format(path: str | Path) -> str:
    """Which of :data:`BASIS_FORMATS` *path* is.

    Raises
    ------
    BasisError
        Nothing recognisable (the message lists what each format needs).
    """
    p = Path(path)
    if not p.exists():
        raise BasisError(f"{p}: no such file or folder")
    if p.is_file():
        try:
            with open(p, "rb") as fh:
                head = fh.read(8192).decode("latin-1").upper()
        except OSError as exc:
            raise ReadError(f"cannot read: {exc}", p) from exc
        if not head.strip():
            raise ReadError("the basis file is empty", p)
        if "$BASIS1" in head or "&BASIS1" in head:
            return "lcmodel_basis"
        if p.name == SIDECAR or p.suffix.lower() == ".npz":
            return detect_basis_format(p.parent)
        raise BasisError(f"{p}: not a basis file: an LCModel .BASIS has a $BASIS1 namelist; other basis "
                         "formats are folders (LCModel .RAW files, text FIDs with basis.json, FSL-MRS JSON)")
    side = _read_sidecar(p)
    if side.get("format") == "pmlmrs_npz" or (p / "basis.npz").is_file():
        return "pmlmrs_npz"
    if side:
        if any(f.suffix.lower() in (".txt", ".dat", ".asc", ".csv") for f in p.iterdir()) or side.get("files"):
            return "text_folder"
    jsons = [f for f in p.glob("*.json") if f.name != SIDECAR]
    if jsons:
        return "fsl_json"
    if any(True for _ in p.glob("*.RAW")) or any(True for _ in p.glob("*.raw")):
        return "lcmodel_raw_folder"
    basis_files = sorted([*p.glob("*.BASIS"), *p.glob("*.basis")])
    if len(basis_files) == 1:
        return "lcmodel_basis"
    raise BasisError(f"{p}: no basis found: expected an LCModel .BASIS file, a folder of .RAW files, a folder "
                     f"of text FIDs with {SIDECAR}, or an FSL-MRS JSON folder")


def _fix_mirror(basis: Basis) -> Basis:
    """Conjugate a basis whose NAA/Cr singlets sit mirrored about the receiver frequency."""
    from pmlmrs.basis.reference import singlet_offsets

    if not any(n in basis.names for n in ("NAA", "Cr", "PCr")):
        return basis
    offs = singlet_offsets(basis, window=0.3)
    if all(abs(v) < 0.27 for v in offs.values()):
        return basis
    flipped = basis.replace(fids=np.conj(basis.fids))
    offs_f = singlet_offsets(flipped, window=0.3)
    if all(abs(v) < 0.27 for v in offs_f.values()):
        logger.warning("%s: the basis spectra are mirrored (NAA/Cr on the wrong side of the receiver "
                       "frequency): conjugated", basis.source)
        return flipped.replace(meta={**basis.meta, "conjugated_to_unmirror": True})
    return basis


def load_basis(path: str | Path, *, options: ReadOptions | None = None, format: str | None = None,
               calibrate: bool = True, remove_reference: bool = False) -> Basis:
    """Read a basis set in any supported format (see the module notes).

    Parameters
    ----------
    path : str or Path
        An LCModel ``.BASIS`` file or a basis folder.
    options : ReadOptions, optional
        ``central_frequency`` (MHz), ``spectral_width`` (Hz), ``echo_time`` (ms) for folders of FIDs
        without them; ``ppm_reference`` to impose a reference (then no calibration);
        ``conjugate`` to force or forbid conjugation of folder FIDs.
    format : str, optional
        One of :data:`BASIS_FORMATS`; detected when not given.
    calibrate : bool
        Check the NAA (2.008 ppm) and Cr (3.027 ppm) singlets and set ``ppm_reference`` so they
        sit there (a mirrored basis is conjugated first).
    remove_reference : bool
        Subtract reference singlets found at 0 ppm (TMS/DSS).

    Returns
    -------
    Basis
        FIDs in the pmlmrs Spectrum convention (NAA at 2.008 ppm on the ascending axis); ``meta``
        records the format, source file, sequence, TE,
        ``ppm_check`` and ``reference_peak``.

    Raises
    ------
    BasisError
        Unknown or malformed basis, missing header values.
    ReadError
        Unreadable, empty or truncated files.
    """
    from pmlmrs.basis.reference import calibrate_ppm_reference, find_reference_peaks

    p = Path(path)
    fmt = format if format is not None else detect_basis_format(p)
    check_option("format", fmt, BASIS_FORMATS)
    if fmt == "lcmodel_basis":
        if p.is_dir():
            files = sorted([*p.glob("*.BASIS"), *p.glob("*.basis")])
            if len(files) != 1:
                raise BasisError(f"{p}: expected one .BASIS file in the folder, found {len(files)}")
            p = files[0]
        basis = read_lcmodel_basis(p)
        if options is not None and options.ppm_reference is not None:
            basis = basis.replace(ppm_reference=float(options.ppm_reference))
    elif fmt == "lcmodel_raw_folder":
        basis = read_raw_folder(p, options)
    elif fmt == "text_folder":
        basis = read_text_folder(p, options)
    elif fmt == "fsl_json":
        basis = read_fsl_basis(p, options)
    else:
        basis = read_npz_basis(p, options)
    if calibrate:
        basis = _fix_mirror(basis)
        if options is None or options.ppm_reference is None:
            basis = calibrate_ppm_reference(basis)
    refs = find_reference_peaks(basis)
    if refs:
        logger.info("%s: reference peak near 0 ppm in %s", basis.source, sorted(refs))
        basis = basis.replace(meta={**basis.meta, "reference_peak": refs})
        if remove_reference:
            basis = basis.remove_reference_peak()
    return basis


# ----------------------------------------------------------------------------------------------
# bundled basis sets
# ----------------------------------------------------------------------------------------------

def bundled_basis_names() -> list[str]:
    """Names of the basis sets shipped with pmlmrs."""
    if not _BUNDLED_DIR.is_dir():
        return []
    return sorted(d.name for d in _BUNDLED_DIR.iterdir() if d.is_dir() and (d / SIDECAR).is_file())


def load_basis_or_bundled(name_or_path: str | Path, options: ReadOptions | None = None) -> Basis:
    """:func:`load_basis` of a path (with the read *options* a folder of FIDs may need), or the
    bundled basis of that name when no such path exists (``--basis ismrm2016_press_3T_30ms``)."""
    if not Path(name_or_path).exists() and str(name_or_path) in bundled_basis_names():
        return bundled_basis(str(name_or_path))
    return load_basis(name_or_path, options=options)


def bundled_basis(name: str = "ismrm2016_press_3T_30ms") -> Basis:
    """A basis set shipped with pmlmrs (see ``pmlmrs/data/basis/<name>/README.md`` for source and licence).

    ``ismrm2016_press_3T_30ms``: the ISMRM 2016 MRS fitting challenge basis (Marjanska, Deelchand,
    Kreis; CC BY-SA 4.0): PRESS TE 30 ms at 123.2 MHz, 2048 points at 4000 Hz, 21 metabolites plus
    a measured macromolecule spectrum (Mac), without the 0-ppm reference peak.
    """
    names = bundled_basis_names()
    check_option("name", name, tuple(names) if names else (name,))
    folder = _BUNDLED_DIR / name
    if not (folder / SIDECAR).is_file():
        raise BasisError(f"bundled basis {name!r} is missing from the installation ({folder})")
    return load_basis(folder)
