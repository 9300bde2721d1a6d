"""Plain column text: time-domain FIDs as real/imaginary column pairs.

* 2 columns: one FID (real, imaginary).
* 4 columns: the ISMRM 2016 fitting-challenge layout, water-suppressed FID (columns 1-2) then the
  water FID (columns 3-4). :func:`read_text` (and ``pmlmrs.io.load``) returns the **water-suppressed**
  FID and notes the water FID in ``header.vendor["water_fid"]``; :func:`read_text_pair` returns
  both as two Spectra. (Our choice: a water reference is a separate Spectrum everywhere else in
  pmlmrs, e.g. ``pmlmrs fit --water``, so it is not packed into a dim.)
* any other even number of columns ``2k``: ``k`` FIDs along the ``"dyn"`` dim.

Lines starting with ``#``, ``%`` or ``;`` are comments; comment lines of the form ``# key: value``
(as :func:`write_text` writes them) give header values: ``spectrometer_frequency_mhz``,
``dwell_time_s``, ``echo_time_s``, ``ppm_reference``, ``nucleus``, ``convention``. Options win.

Conjugation: headerless text has no convention of its own. The ISMRM challenge text files hold the
same numbers as its LCModel RAW files (LCModel convention, conjugate of the pmlmrs Spectrum
convention; checked: NAA at 2.01 ppm after conjugation), so such
files are conjugated by default; files whose header says ``convention: pmlmrs-spectrum`` (as written by
:func:`write_text`) are not. ``ReadOptions(conjugate=True/False)`` forces either.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from pmlmrs.config import ReadOptions
from pmlmrs.core import Header, ProcessingStep, Spectrum
from pmlmrs.errors import HeaderFieldError, ReadError, WriteError
from pmlmrs.io.registry import Reader, Writer, register_reader, register_writer
from pmlmrs.io._util import read_text_file

__all__ = ["read_text", "read_text_pair", "read_text_columns", "write_text", "sniff_text"]

_COMMENT = ("#", "%", ";")
_NUM_LINE = re.compile(r"^\s*[+-]?(\d|\.\d)")
_META = re.compile(r"^[#%;]\s*([A-Za-z_][A-Za-z0-9_ ]*?)\s*[:=]\s*(.*?)\s*$")


def sniff_text(path: Path) -> bool:
    """Whether *path* is column text: the first non-comment line holds 2, 4, ... numbers."""
    try:
        if not path.is_file():
            return False
        with open(path, "rb") as fh:
            head = fh.read(4096).decode("latin-1")
    except OSError:
        return False
    for line in head.splitlines():
        s = line.strip()
        if not s or s.startswith(_COMMENT):
            continue
        toks = s.replace(",", " ").split()
        if len(toks) < 2 or len(toks) % 2:
            return False
        try:
            [float(t) for t in toks]
        except ValueError:
            return False
        return True
    return False


def read_text_columns(path: str | Path) -> tuple[np.ndarray, dict[str, str]]:
    """The numeric columns ``(n_rows, n_columns)`` of a text file and its ``# key: value`` comments.

    Raises
    ------
    ReadError
        Empty file, no numbers, ragged rows, an odd number of columns or non-numeric values.
    """
    p = Path(path)
    text = read_text_file(p, allow_empty=True)
    meta: dict[str, str] = {}
    rows: list[list[float]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s:
            continue
        if s.startswith(_COMMENT):
            m = _META.match(s)
            if m:
                meta[m.group(1).strip().lower().replace(" ", "_")] = m.group(2)
            continue
        toks = s.replace(",", " ").split()
        try:
            rows.append([float(t.replace("D", "E").replace("d", "e")) for t in toks])
        except ValueError:
            raise ReadError(f"line {lineno} is not numeric: {s[:60]!r}", p) from None
        if len(rows[-1]) != len(rows[0]):
            raise ReadError(f"line {lineno} has {len(rows[-1])} columns, the first data line {len(rows[0])}: "
                            "truncated or mixed file?", p)
    if not rows:
        raise ReadError("no numeric data in the file", p)
    arr = np.asarray(rows, dtype=float)
    if arr.shape[1] < 2 or arr.shape[1] % 2:
        raise ReadError(f"{arr.shape[1]} columns: expected pairs of real and imaginary columns", p)
    if arr.shape[0] < 2:
        raise ReadError("fewer than 2 time points", p)
    if not np.all(np.isfinite(arr)):
        raise ReadError("non-finite values in the data", p)
    return arr, meta


def _float_or_none(meta: dict[str, str], *keys: str) -> float | None:
    for k in keys:
        v = meta.get(k)
        if v not in (None, "", "None", "none", "n/a"):
            try:
                return float(v)  # type: ignore[arg-type]
            except ValueError:
                continue
    return None


def _header(path: Path, meta: dict[str, str], options: ReadOptions, *, water: bool | None) -> tuple[Header, bool]:
    f0 = options.central_frequency if options.central_frequency is not None else _float_or_none(
        meta, "spectrometer_frequency_mhz", "central_frequency", "spectrometer_frequency")
    if f0 is None:
        raise HeaderFieldError(
            "plain text has no spectrometer frequency; pass --central-frequency MHZ "
            "(ReadOptions(central_frequency=...))", path, field="spectrometer_frequency")
    if options.spectral_width is not None:
        dwell = 1.0 / float(options.spectral_width)
    else:
        dwell = _float_or_none(meta, "dwell_time_s", "dwell_time")  # type: ignore[assignment]
        if dwell is None:
            sw = _float_or_none(meta, "spectral_width_hz", "spectral_width")
            dwell = None if sw is None else 1.0 / sw  # type: ignore[assignment]
    if dwell is None:
        raise HeaderFieldError(
            "plain text has no dwell time; pass --spectral-width HZ (ReadOptions(spectral_width=...))",
            path, field="dwell_time")
    if options.echo_time is not None:
        te: float | None = float(options.echo_time) * 1e-3
    else:
        te = _float_or_none(meta, "echo_time_s")
    ref = options.ppm_reference if options.ppm_reference is not None else _float_or_none(meta, "ppm_reference")
    nucleus = options.nucleus if options.nucleus != "1H" else meta.get("nucleus", "1H") or "1H"
    convention = meta.get("convention", "").strip().lower()
    if options.conjugate is not None:
        conj = bool(options.conjugate)
    else:
        conj = convention not in ("pmlmrs-spectrum", "pmlmrs")
    acq: dict[str, Any] = {"ConversionMethod": "pmlmrs text reader", "OriginalFile": [path.name]}
    if water is not None:
        acq["WaterSuppressed"] = not water
    hdr = Header(spectrometer_frequency=float(f0), dwell_time=float(dwell), nucleus=nucleus, echo_time=te,
                 ppm_reference=ref, acquisition=acq,
                 vendor={"format": "text", "comments": meta, "conjugated_on_read": conj})
    return hdr, conj


def _fids(arr: np.ndarray) -> np.ndarray:
    return (arr[:, 0::2] + 1j * arr[:, 1::2]).T  # (n_fids, n_points)


def read_text(path: str | Path, options: ReadOptions | None = None) -> Spectrum:
    """Read column text (see the module notes for the column layouts and conjugation).

    Raises
    ------
    HeaderFieldError
        No spectrometer frequency or dwell time in the options or the file comments.
    ReadError
        Empty, ragged or non-numeric file.
    """
    p = Path(path)
    opts = options or ReadOptions()
    arr, meta = read_text_columns(p)
    fids = _fids(arr)
    header, conj = _header(p, meta, opts, water=False if fids.shape[0] == 2 else None)
    if conj:
        fids = np.conj(fids)
    shape_txt = meta.get("shape", "").strip()
    if shape_txt:  # written by write_text: restore the leading dims
        try:
            shape = tuple(int(v) for v in shape_txt.split(",") if v.strip())
            dims_meta = tuple(d.strip() for d in meta.get("dims", "").split(",") if d.strip())
        except ValueError:
            raise ReadError(f"invalid '# shape:' comment {shape_txt!r}", p) from None
        if int(np.prod(shape)) != fids.shape[0] or len(dims_meta) != len(shape):
            raise ReadError(f"'# shape: {shape_txt}' / '# dims:' do not match {fids.shape[0]} column pairs", p)
        data, dims = fids.reshape(shape + (fids.shape[1],)), dims_meta
    elif fids.shape[0] == 1:
        data, dims = fids[0], ()
    elif fids.shape[0] == 2:
        data, dims = fids[0], ()
        header = header.replace(vendor={**header.vendor, "water_fid": "columns 3-4; read with "
                                        "pmlmrs.io.text.read_text_pair"})
    else:
        data, dims = fids, ("dyn",)
    step = ProcessingStep("read", params={"format": "text", "columns": int(arr.shape[1]), "conjugated": conj},
                          details=f"read column text {p.name}")
    return Spectrum(data, header, dims=dims, provenance=(step,), source=str(p))


def read_text_pair(path: str | Path, options: ReadOptions | None = None) -> tuple[Spectrum, Spectrum]:
    """The water-suppressed and the water FID of a 4-column file (ISMRM challenge ``datasets_text``).

    Raises
    ------
    ReadError
        The file does not have exactly 4 columns.
    """
    p = Path(path)
    opts = options or ReadOptions()
    arr, meta = read_text_columns(p)
    if arr.shape[1] != 4:
        raise ReadError(f"{arr.shape[1]} columns; a metabolite + water pair needs 4 "
                        "(WS real, WS imag, water real, water imag)", p)
    fids = _fids(arr)
    out = []
    for i, water in enumerate((False, True)):
        header, conj = _header(p, meta, opts, water=water)
        data = np.conj(fids[i]) if conj else fids[i]
        step = ProcessingStep("read", params={"format": "text", "columns": f"{2 * i + 1}-{2 * i + 2}",
                                              "conjugated": conj},
                              details=f"read {'water' if water else 'water-suppressed'} FID of {p.name}")
        out.append(Spectrum(data, header, provenance=(step,), source=str(p)))
    return out[0], out[1]


def write_text(spectrum: Spectrum, path: str | Path) -> Path:
    """Write FIDs as column text in the pmlmrs Spectrum convention, with a ``# key: value`` header.

    One FID gives 2 columns; ``k`` FIDs (any leading dims, flattened) give ``2k`` columns; the
``# dims:`` and ``# shape:`` comments let :func:`read_text` restore the leading dims.
    """
    p = Path(path)
    data = np.asarray(spectrum.data).reshape(-1, spectrum.n_points)
    h = spectrum.header
    lines = [
        "# pmlmrs column text: real/imaginary pairs of time-domain FIDs",
        "# convention: pmlmrs-spectrum",
        f"# spectrometer_frequency_mhz: {h.spectrometer_frequency!r}",
        f"# dwell_time_s: {h.dwell_time!r}",
        f"# echo_time_s: {h.echo_time!r}",
        f"# ppm_reference: {h.ppm_reference!r}",
        f"# nucleus: {h.nucleus}",
        f"# dims: {','.join(spectrum.dims)}",
        f"# shape: {','.join(str(v) for v in spectrum.shape[:-1])}",
    ]
    cols = np.empty((spectrum.n_points, 2 * data.shape[0]))
    cols[:, 0::2] = data.real.T
    cols[:, 1::2] = data.imag.T
    body = "\n".join(" ".join(f"{v:.17g}" for v in row) for row in cols)
    try:
        p.write_text("\n".join(lines) + "\n" + body + "\n")
    except OSError as exc:
        raise WriteError(f"cannot write: {exc}", p) from exc
    return p


def _write_for_registry(spectrum: Spectrum, path: Path) -> None:
    write_text(spectrum, path)


register_reader(Reader(
    name="text",
    description="column text: real/imag pairs (2 columns one FID; 4 columns WS + water, ISMRM challenge)",
    extensions=(".txt", ".dat", ".asc", ".csv"),
    sniff=sniff_text,
    read=read_text,
))
register_writer(Writer(name="text", extensions=(".dat", ".asc"), write=_write_for_registry))
