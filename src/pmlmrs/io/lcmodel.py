"""LCModel files: ``.RAW``/``.H2O`` time-domain data, control files (``$LCMODL``) and Fortran namelists.

An LCModel RAW file is one or more Fortran namelists (``$SEQPAR ... $END``, ``$NMID ... $END``) followed
by the FID as free-format or fixed-format (``FMTDAT``, e.g. ``(2E15.6)`` or ``(8E13.5)``) numbers, real
and imaginary parts alternating. LCModel stores the **complex conjugate** of the pmlmrs Spectrum
convention (NAA at 2.01 ppm on the ascending ppm axis, see :mod:`pmlmrs.io.nifti_mrs`), so the
reader conjugates once. Checked on ``data/invivo``: the LCModel test RAW (spant's export of a
Philips SDAT) read this way equals the SDAT read through spec2nii and the NIfTI-MRS conversion, and
its NAA/Cr/Cho sit at 2.0/3.0/3.2 ppm; the ISMRM challenge RAW files put NAA at 2.01 ppm and water
at 4.65 ppm the same way. (``spec2nii raw`` stores these numbers conjugated in NIfTI-MRS, which the
NIfTI-MRS reader then shows mirrored: convert LCModel files with pmlmrs rather than spec2nii.)

A RAW file carries no sampling information of its own. Header values come, in this order, from
:class:`~pmlmrs.config.ReadOptions` (``central_frequency`` MHz, ``spectral_width`` Hz, ``echo_time`` ms),
from a ``$SEQPAR`` namelist in the file (``HZPPPM``, ``ECHOT``, ``DELTAT``/``dwellTime`` as written by
FID-A, Osprey and :func:`write_raw`), and from an LCModel control file (``$LCMODL`` with ``hzpppm``,
``deltat``, ``nunfil``, ``echot``) given or found next to the file. When none gives the spectrometer
frequency or dwell time, :class:`~pmlmrs.errors.HeaderFieldError` names the field and the option.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pmlmrs._logging import logger
from pmlmrs.config import ReadOptions
from pmlmrs.core import Header, ProcessingStep, Spectrum
from pmlmrs.errors import HeaderFieldError, ReadError, UnsupportedVariantError, WriteError
from pmlmrs.io.registry import Reader, Writer, register_reader, register_writer
from pmlmrs.io._util import read_text_file

__all__ = [
    "Namelist",
    "parse_namelists",
    "parse_fortran_numbers",
    "read_raw",
    "read_raw_fid",
    "read_control",
    "parse_control",
    "find_control",
    "write_raw",
    "sniff_raw",
]

# ----------------------------------------------------------------------------------------------
# Fortran namelists
# ----------------------------------------------------------------------------------------------

_NL_START = re.compile(r"[$&]([A-Za-z][A-Za-z0-9_]*)")
_NL_END = re.compile(r"[$&]END\b|/", re.IGNORECASE)
_KEY = re.compile(r"\s*([A-Za-z][A-Za-z0-9_]*)\s*(\(\s*[0-9,\s]*\))?\s*=")
_FLOAT_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eEdD][+-]?\d+)?$")


class Namelist(dict):
    """One Fortran namelist group: ``name`` (upper case) and its values keyed by upper-case name.

    Values are ``str`` (quoted strings), ``bool`` (``T``/``F``), ``int``, ``float``, a list of those
    for arrays, or ``None`` for an empty value (``ECHOT = ,``). ``start``/``end`` give its character
    span in the text it was parsed from.
    """

    def __init__(self, name: str, values: Mapping[str, Any], start: int, end: int) -> None:
        super().__init__(values)
        self.name = name.upper()
        self.start = start
        self.end = end

    def __repr__(self) -> str:
        return f"Namelist({self.name}, {dict.__repr__(self)})"


def _convert_scalar(tok: str) -> Any:
    t = tok.strip()
    if not t:
        return None
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "'\"":
        return t[1:-1].replace(t[0] * 2, t[0])
    low = t.lower()
    if low in ("t", ".true.", "true", ".t."):
        return True
    if low in ("f", ".false.", "false", ".f."):
        return False
    if re.fullmatch(r"[+-]?\d+", t):
        return int(t)
    if _FLOAT_RE.match(t):
        return float(t.replace("d", "e").replace("D", "E"))
    # r*value repeat counts (e.g. 20*997.) are expanded by the caller; anything else stays text
    return t


def _split_values(text: str) -> list[str]:
    """Split a namelist value list on commas/whitespace, keeping quoted strings whole."""
    out: list[str] = []
    buf = ""
    quote: str | None = None
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            buf += c
            if c == quote:
                if i + 1 < len(text) and text[i + 1] == quote:
                    buf += quote
                    i += 1
                else:
                    quote = None
        elif c in "'\"":
            quote = c
            buf += c
        elif c == "," or c.isspace():
            if buf:
                out.append(buf)
                buf = ""
            elif c == ",":
                out.append("")
        else:
            buf += c
        i += 1
    if buf:
        out.append(buf)
    return out


def _parse_body(body: str) -> dict[str, Any]:
    """Parse ``KEY = value, KEY2 = 'text', ...`` (quoted strings may contain ``=`` and commas)."""
    # find every "KEY =" outside quotes
    keys: list[tuple[str, int, int]] = []
    quote: str | None = None
    i = 0
    while i < len(body):
        c = body[i]
        if quote:
            if c == quote:
                quote = None
            i += 1
            continue
        if c in "'\"":
            quote = c
            i += 1
            continue
        if c.isalpha() and (i == 0 or not (body[i - 1].isalnum() or body[i - 1] in "_.")):
            m = _KEY.match(body, i)
            if m:
                keys.append((m.group(1).upper(), m.start(), m.end()))
                i = m.end()
                continue
        i += 1
    values: dict[str, Any] = {}
    for k, (name, _start, vstart) in enumerate(keys):
        vend = keys[k + 1][1] if k + 1 < len(keys) else len(body)
        raw = _split_values(body[vstart:vend])
        # trailing empty token from the separating comma
        while raw and raw[-1] == "":
            raw.pop()
        items: list[Any] = []
        for tok in raw:
            m = re.fullmatch(r"(\d+)\*(.*)", tok)
            if m and not tok.startswith(("'", '"')):
                items.extend([_convert_scalar(m.group(2))] * int(m.group(1)))
            else:
                items.append(_convert_scalar(tok))
        values[name] = None if not items else items[0] if len(items) == 1 else items
    return values


def parse_namelists(text: str) -> list[Namelist]:
    """Every Fortran namelist group (``$NAME ... $END``, ``&NAME ... /``) in *text*, in order.

    Only groups that start a line (after blanks) are taken, so ``$`` inside a quoted ID is safe.
    Parsing stops at the first line that is neither inside a group nor blank and does not start
    one: that is where the data block of a RAW file begins.

    Parameters
    ----------
    text : str
        The file contents (or its beginning).

    Returns
    -------
    list of Namelist
    """
    groups: list[Namelist] = []
    pos = 0
    n = len(text)
    while pos < n:
        # skip blank space
        m_ws = re.compile(r"\s*").match(text, pos)
        pos = m_ws.end() if m_ws else pos
        if pos >= n:
            break
        m = _NL_START.match(text, pos)
        if not m or m.group(1).upper() == "END":
            break
        name = m.group(1)
        body_start = m.end()
        # find the end marker outside quotes
        quote: str | None = None
        i = body_start
        end_at = -1
        end_len = 0
        while i < n:
            c = text[i]
            if quote:
                if c == quote:
                    quote = None
            elif c in "'\"":
                quote = c
            elif c in "$&" and text[i + 1:i + 4].upper() == "END":
                end_at, end_len = i, 4
                break
            elif c == "/":
                end_at, end_len = i, 1
                break
            i += 1
        if end_at < 0:
            raise ValueError(f"namelist ${name} has no $END")
        groups.append(Namelist(name, _parse_body(text[body_start:end_at]), m.start(), end_at + end_len))
        pos = end_at + end_len
    return groups


def _namelists_and_data(text: str) -> tuple[list[Namelist], int]:
    groups = parse_namelists(text)
    return groups, (groups[-1].end if groups else 0)


def _fixed_widths(fmt: str | None) -> tuple[int, int] | None:
    """``(count, width)`` of a Fortran data format such as ``(2E15.6)`` or ``(1P8E13.5)``."""
    if not fmt:
        return None
    m = re.search(r"(\d*)\s*[EDFGedfg]\s*(\d+)\.\d+", fmt)
    if not m:
        return None
    return int(m.group(1) or 1), int(m.group(2))


def parse_fortran_numbers(block: str, fmt: str | None = None) -> np.ndarray:
    """The numbers of a RAW/BASIS data block as a float array.

    Free format first (blank or comma separated, ``D`` exponents allowed); if that fails, because
    fixed-width fields touch (``-1.234E+02-5.678E+01``), the Fortran format *fmt* gives the widths;
    without one, touching fields are split before each signed mantissa.
    """
    cleaned = block.replace("D", "E").replace("d", "e").replace(",", " ")
    toks = cleaned.split()
    try:
        return np.array(toks, dtype=float)
    except ValueError:
        pass
    widths = _fixed_widths(fmt)
    vals: list[float] = []
    if widths is not None:
        count, width = widths
        for line in cleaned.splitlines():
            line = line.rstrip()
            if not line.strip():
                continue
            for k in range(0, len(line), width):
                field = line[k:k + width].strip()
                if field:
                    vals.append(float(field))
        return np.array(vals, dtype=float)
    splitter = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
    for tok in toks:
        parts = splitter.findall(tok)
        if "".join(parts) != tok:
            raise ValueError(f"not a number: {tok!r}")
        vals.extend(float(p) for p in parts)
    return np.array(vals, dtype=float)


# ----------------------------------------------------------------------------------------------
# Control files
# ----------------------------------------------------------------------------------------------

def read_control(path: str | Path) -> dict[str, Any]:
    """The ``$LCMODL`` namelist of an LCModel control file, keys upper case.

    Raises
    ------
    ReadError
        The file cannot be read or has no ``$LCMODL`` group.
    """
    p = Path(path)
    return parse_control(read_text_file(p, "LCModel control file", allow_empty=True), p)


def parse_control(text: str, path: str | Path | None = None) -> dict[str, Any]:
    """The ``$LCMODL`` namelist in the *text* of an LCModel control file, keys upper case (*path*
    names the file in errors).

    Raises
    ------
    ReadError
        No ``$LCMODL`` group, or a malformed one.
    """
    idx = re.search(r"[$&]LCMODL\b", text, re.IGNORECASE)
    if idx is None:
        raise ReadError("not an LCModel control file (no $LCMODL namelist)", path)
    try:
        groups = parse_namelists(text[idx.start():])
    except ValueError as exc:
        raise ReadError(f"malformed $LCMODL namelist: {exc}", path) from exc
    return dict(groups[0]) if groups else {}


def find_control(raw_path: str | Path) -> Path | None:
    """An LCModel control file next to *raw_path* that refers to it (or the only one there).

    Looks at ``<stem>.control``, ``<stem>.CONTROL``, ``control.file``, ``*.control``, ``*.CONTROL`` and
    ``*.file`` in the same folder; a control file whose ``FILRAW`` names this file wins.
    """
    p = Path(raw_path)
    folder = p.parent
    cands: list[Path] = []
    for pat in (f"{p.stem}.control", f"{p.stem}.CONTROL", "control.file", "*.control", "*.CONTROL", "*.file",
                "*.ctl", "*.CTL"):
        for c in sorted(folder.glob(pat)):
            if c.is_file() and c not in cands and c != p:
                cands.append(c)
    found: list[tuple[Path, dict[str, Any]]] = []
    for c in cands:
        try:
            if c.stat().st_size > 1_000_000:
                continue
            ctl = read_control(c)
        except ReadError:
            continue
        found.append((c, ctl))
    for c, ctl in found:
        filraw = ctl.get("FILRAW")
        if isinstance(filraw, str) and Path(filraw).name.lower() == p.name.lower():
            return c
    return found[0][0] if len(found) == 1 else None


# ----------------------------------------------------------------------------------------------
# RAW reading
# ----------------------------------------------------------------------------------------------

def sniff_raw(path: Path) -> bool:
    """Whether *path* looks like an LCModel RAW/H2O file (a ``$NMID`` namelist, no ``$BASIS1``)."""
    try:
        if not path.is_file():
            return False
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    text = head.decode("latin-1").upper()
    stripped = text.lstrip()
    if not stripped.startswith(("$", "&")):
        return False
    return ("$NMID" in text or "&NMID" in text) and "$BASIS1" not in text and "$LCMODL" not in text


def _first(mapping: Mapping[str, Any], *keys: str) -> Any:
    for k in keys:
        v = mapping.get(k)
        if v is not None and v != "":
            return v
    return None


def _positive(value: Any, name: str, path: Path, source: str) -> float | None:
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise HeaderFieldError(f"{source} field {name} is not a number: {value!r}", path, field=name,
                               value=value) from None
    if not math.isfinite(v) or v <= 0:
        return None
    return v


def _first_positive(path: Path, candidates: Any) -> tuple[float | None, str]:
    """The first positive value of ``(value, name, where, label)`` candidates, with its label."""
    for value, name, where, label in candidates:
        v = _positive(value, name, path, where)
        if v is not None:
            return v, label
    return None, ""


def read_raw_fid(path: str | Path) -> tuple[np.ndarray, dict[str, dict[str, Any]]]:
    """The numbers of a RAW file exactly as stored (no conjugation) and its namelists.

    Returns
    -------
    data : (n_points,) complex ndarray
        As written in the file (LCModel convention, i.e. conjugate of NIfTI-MRS).
    namelists : dict
        ``{"NMID": {...}, "SEQPAR": {...}}`` (upper-case group and key names).

    Raises
    ------
    ReadError
        Empty, truncated or unparsable file; an odd number of values.
    UnsupportedVariantError
        More than one ``$NMID`` (multi-voxel) file.
    """
    p = Path(path)
    text = read_text_file(p)
    try:
        groups, data_start = _namelists_and_data(text)
    except ValueError as exc:
        raise ReadError(f"not a valid LCModel RAW file: {exc}", p) from exc
    names = [g.name for g in groups]
    if "NMID" not in names:
        raise ReadError("not an LCModel RAW file: no $NMID namelist at the start", p)
    if names.count("NMID") > 1:
        raise UnsupportedVariantError("more than one $NMID group (multi-voxel RAW) is not supported", p)
    if "BASIS1" in names:
        raise ReadError("this is an LCModel .BASIS file; read it with pmlmrs.basis.load_basis", p)
    nl = {g.name: dict(g) for g in groups}
    fmt = nl["NMID"].get("FMTDAT")
    block = text[data_start:]
    if re.search(r"[$&][A-Za-z]", block):
        raise UnsupportedVariantError("a namelist follows the data block (multi-voxel RAW?)", p)
    try:
        vals = parse_fortran_numbers(block, fmt if isinstance(fmt, str) else None)
    except ValueError as exc:
        raise ReadError(f"the data block is not numeric ({exc}); file corrupt or truncated?", p) from exc
    if vals.size == 0:
        raise ReadError("no data after the $NMID header (truncated file?)", p)
    toks = block.split()
    if len(toks) > 2 and sum("E" in t.upper() for t in toks) > len(toks) // 2 and "E" not in toks[-1].upper():
        raise ReadError(f"the last value {toks[-1]!r} has no exponent where the others have one: the file is cut "
                        "off (truncated)", p)
    if vals.size % 2:
        raise ReadError(f"odd number of values ({vals.size}) in the data block: truncated file? "
                        "LCModel RAW stores real and imaginary parts in pairs", p)
    if not np.all(np.isfinite(vals)):
        raise ReadError("non-finite values in the data block", p)
    return vals[0::2] + 1j * vals[1::2], nl


def read_raw(path: str | Path, options: ReadOptions | None = None, *,
             control: str | Path | None = None) -> Spectrum:
    """Read an LCModel ``.RAW`` or ``.H2O`` file into a Spectrum (pmlmrs Spectrum convention).

    Parameters
    ----------
    path : str or Path
    options : ReadOptions, optional
        ``central_frequency`` (MHz), ``spectral_width`` (Hz), ``echo_time`` (ms), ``ppm_reference``,
        ``nucleus``; these win over the file and the control file. ``conjugate=False`` keeps the
        numbers as stored (default and ``True``: conjugate, the LCModel convention).
    control : str or Path, optional
        An LCModel control file (``$LCMODL``: ``hzpppm``, ``deltat``, ``nunfil``, ``echot``); by
        default one next to the RAW file is used if it refers to it (:func:`find_control`).

    Returns
    -------
    Spectrum
        One FID, ``dims == ()``.

    Raises
    ------
    HeaderFieldError
        The spectrometer frequency or the dwell time is given nowhere (``field`` is
        ``"spectrometer_frequency"`` or ``"dwell_time"``).
    ReadError
        Unreadable, empty or truncated file.
    """
    p = Path(path)
    opts = options or ReadOptions()
    stored, nl = read_raw_fid(p)
    seqpar = nl.get("SEQPAR", {})
    nmid = nl["NMID"]
    ctl_path = Path(control) if control is not None else find_control(p)
    ctl: dict[str, Any] = read_control(ctl_path) if ctl_path is not None else {}

    sources: dict[str, str] = {}
    ctl_name = ctl_path.name if ctl_path is not None else ""
    # spectrometer frequency, MHz: options, then $SEQPAR, then the control file
    f0, src = _first_positive(p, (
        (opts.central_frequency, "central_frequency", "option", "options"),
        (_first(seqpar, "HZPPPM"), "HZPPPM", "$SEQPAR", "$SEQPAR HZPPPM"),
        (_first(ctl, "HZPPPM"), "hzpppm", "control file", f"control file {ctl_name} hzpppm"),
    ))
    if src:
        sources["spectrometer_frequency"] = src
    if f0 is None:
        raise HeaderFieldError(
            "the spectrometer frequency is not in the file (LCModel RAW has no header for it) and no "
            "control file next to it gives hzpppm; pass --central-frequency MHZ "
            "(ReadOptions(central_frequency=...)) or an LCModel control file",
            p, field="spectrometer_frequency")
    if f0 > 1e4:  # some writers put Hz
        f0 /= 1e6
    # dwell time, s: the spectral-width option, then $SEQPAR, $NMID, the control file
    if opts.spectral_width is not None:
        sw = _positive(opts.spectral_width, "spectral_width", p, "option")
        if sw is None:
            raise HeaderFieldError(f"invalid spectral_width option {opts.spectral_width!r}", p,
                                   field="dwell_time", value=opts.spectral_width)
        dwell: float | None = 1.0 / sw
        sources["dwell_time"] = "options"
    else:
        dwell, src = _first_positive(p, (
            (_first(seqpar, "DELTAT", "DWELLTIME", "BADELT"), "DELTAT", "$SEQPAR", "$SEQPAR"),
            (_first(nmid, "DELTAT", "DWELLTIME"), "DELTAT", "$NMID", "$NMID"),
            (_first(ctl, "DELTAT"), "deltat", "control file", f"control file {ctl_name} deltat"),
        ))
        if src:
            sources["dwell_time"] = src
    if dwell is None:
        raise HeaderFieldError(
            "the dwell time (spectral width) is not in the file (LCModel RAW has no header for it) and "
            "no control file next to it gives deltat; pass --spectral-width HZ "
            "(ReadOptions(spectral_width=...)) or an LCModel control file",
            p, field="dwell_time")
    if dwell > 0.1:  # given in ms
        dwell *= 1e-3
    # echo time, ms in all LCModel files
    if opts.echo_time is not None:
        te_ms: float | None = float(opts.echo_time)
    else:
        te_ms, _ = _first_positive(p, ((_first(seqpar, "ECHOT"), "ECHOT", "$SEQPAR", ""),
                                       (_first(ctl, "ECHOT"), "echot", "control file", "")))
    # number of points
    n_file = stored.size
    nunfil = _first(seqpar, "NUNFIL", "NUMBEROFPOINTS") or _first(ctl, "NUNFIL")
    data = stored
    if nunfil is not None:
        try:
            nunfil = int(nunfil)
        except (TypeError, ValueError):
            raise HeaderFieldError(f"NUNFIL is not an integer: {nunfil!r}", p, field="nunfil", value=nunfil) from None
        if nunfil > n_file:
            raise ReadError(f"the file holds {n_file} complex points but NUNFIL = {nunfil}: truncated file?", p)
        if nunfil < n_file:
            logger.info("%s: %d points stored, NUNFIL = %d: using the first %d", p, n_file, nunfil, nunfil)
            data = stored[:nunfil]
    elif n_file & (n_file - 1):
        # RAW files do not store their length: a file cut at a line boundary still parses
        raise ReadError(f"{n_file} complex points, not a power of two: the file looks truncated. If the "
                        f"acquisition really has {n_file} points, say so with nunfil = {n_file} in an LCModel "
                        "control file next to it (or NUNFIL in its $SEQPAR)", p)
    conj = True if opts.conjugate is None else bool(opts.conjugate)
    if conj:
        data = np.conj(data)
    if data.size < 2:
        raise ReadError("fewer than 2 points in the data block", p)

    vendor: dict[str, Any] = {"format": "lcmodel_raw", "namelists": nl, "header_sources": sources,
                              "conjugated_on_read": conj}
    if ctl_path is not None:
        vendor["control_file"] = str(ctl_path)
    seq = _first(seqpar, "SEQ")
    acq: dict[str, Any] = {"ConversionMethod": "pmlmrs lcmodel_raw reader", "OriginalFile": [p.name]}
    if isinstance(seq, str) and seq.strip():
        acq["SequenceName"] = seq.strip()
    if p.suffix.lower() == ".h2o":
        acq["WaterSuppressed"] = False
    header = Header(
        spectrometer_frequency=f0,
        dwell_time=dwell,
        nucleus=opts.nucleus or "1H",
        echo_time=None if te_ms is None else te_ms * 1e-3,
        ppm_reference=opts.ppm_reference,
        acquisition=acq,
        vendor=vendor,
    )
    step = ProcessingStep(
        "read",
        params={"format": "lcmodel_raw", "conjugated": conj, "header_sources": sources},
        details=f"read LCModel RAW {p.name}" + (" (conjugated to the Spectrum convention)" if conj else ""),
    )
    return Spectrum(data, header, dims=(), provenance=(step,), source=str(p))


# ----------------------------------------------------------------------------------------------
# RAW writing
# ----------------------------------------------------------------------------------------------

def _fortran_str(s: str) -> str:
    return "'" + str(s).replace("'", "''") + "'"


def write_raw(spectrum: Spectrum, path: str | Path, *, id: str | None = None,
              tramp: float = 1.0, volume: float = 1.0) -> Path:
    """Write one FID as an LCModel RAW file (conjugated to the LCModel convention).

    The header carries a ``$SEQPAR`` namelist (``ECHOT`` ms, ``HZPPPM`` MHz, ``SEQ``, ``DELTAT`` s,
    ``NUNFIL``; LCModel ignores ``$SEQPAR`` in data files, :func:`read_raw` uses it) and ``$NMID``
    (``ID``, ``FMTDAT='(2E16.8)'``, ``TRAMP``, ``VOLUME``).

    Raises
    ------
    WriteError
        The spectrum holds more than one FID (squeeze or average first).
    """
    p = Path(path)
    data = np.asarray(spectrum.data)
    if data.ndim > 1:
        if int(np.prod(data.shape[:-1])) != 1:
            raise WriteError(f"LCModel RAW holds one FID; this spectrum has dims {spectrum.dims} "
                             f"with shape {data.shape}: average or select first", p)
        data = data.reshape(-1)
    h = spectrum.header
    ident = id if id is not None else (Path(spectrum.source).name if spectrum.source else p.stem)
    te = "" if h.echo_time is None else f"{h.echo_time * 1e3:.6g}"
    seq = str(h.acquisition.get("SequenceName", "") or "")
    lines = [
        " $SEQPAR",
        f" ECHOT = {te},",
        f" HZPPPM = {h.spectrometer_frequency:.9g},",
        f" SEQ = {_fortran_str(seq)},",
        f" DELTAT = {h.dwell_time:.9g},",
        f" NUNFIL = {data.size}",
        " $END",
        " $NMID",
        f" ID = {_fortran_str(ident[:60])}, FMTDAT = '(2E16.8)',",
        f" TRAMP = {tramp:g}, VOLUME = {volume:g}",
        " $END",
    ]
    stored = np.conj(data)
    body = "\n".join(f"{z.real:16.8E}{z.imag:16.8E}" for z in stored)
    try:
        p.write_text("\n".join(lines) + "\n" + body + "\n")
    except OSError as exc:
        raise WriteError(f"cannot write: {exc}", p) from exc
    return p


def _read_for_registry(path: Path, options: ReadOptions) -> Spectrum:
    return read_raw(path, options)


def _write_for_registry(spectrum: Spectrum, path: Path) -> None:
    write_raw(spectrum, path)


register_reader(Reader(
    name="lcmodel_raw",
    description="LCModel .RAW/.H2O time-domain data ($NMID namelist; conjugate convention)",
    extensions=(".raw", ".h2o"),
    sniff=sniff_raw,
    read=_read_for_registry,
))
register_writer(Writer(name="lcmodel_raw", extensions=(".raw", ".h2o"), write=_write_for_registry))
