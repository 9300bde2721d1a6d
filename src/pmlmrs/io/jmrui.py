"""jMRUI text files (``.txt`` starting ``jMRUI Data Textfile``).

Layout: ``Key: value`` header lines (``PointsInDataset``, ``DatasetsInFile``, ``SamplingInterval``
in ms, ``TransmitterFrequency`` in Hz (some writers put MHz), ``MagneticField`` T,
``TypeOfNucleus``, ``ZeroOrderPhase``, ``BeginTime``, ...), then one block per signal, each
introduced by ``Signal 1 out of N in file`` (or ``Signal number: 1 out of N``), with rows
``sig(real) sig(imag) [fft(real) fft(imag)]``.

Conjugation: jMRUI text holds the pmlmrs Spectrum convention as it is (no conjugation), unlike
LCModel RAW. Two independent writers agree: FID-A writes the same FID to jMRUI text unchanged and to
LCModel RAW with the imaginary part negated (``io_writejmrui.m`` vs ``io_writelcm.m``), and spec2nii
stores ``conj(file)`` in NIfTI-MRS for jMRUI text, which the pmlmrs NIfTI-MRS reader conjugates back
(spec2nii treats LCModel RAW the same way, which the data in ``../shared`` show to be mirrored for
LCModel; see :mod:`pmlmrs.io.lcmodel`). No jMRUI version of the ISMRM challenge data is in
``../shared`` (only its text and LCModel versions), so this could not be checked on real jMRUI files.
``ReadOptions(conjugate=True)`` conjugates on reading.
Several signals in one file become the ``"user_0"`` dim (as spec2nii names it).
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

__all__ = ["read_jmrui_txt", "read_jmrui_header", "write_jmrui_txt", "sniff_jmrui"]

_SIGNAL = re.compile(r"^\s*Signal\s+(?:number:\s*)?(\d+)\s+out\s+of\s+(\d+)", re.IGNORECASE)
_HDR = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_ ()]*?)\s*:\s*(.*?)\s*$")
#: jMRUI ``TypeOfNucleus`` codes (0 and 1 both used for 1H by writers in the wild).
_NUCLEI = {0: "1H", 1: "1H", 2: "13C", 3: "31P", 4: "19F", 5: "23Na"}


def _is_private(key: str) -> bool:
    """Header keys that can identify a person or an exam date (never carried into a Header)."""
    k = re.sub(r"[^a-z]", "", key.lower())
    return "patient" in k or "birth" in k or "dateofexperiment" in k or k in ("name", "date")


def sniff_jmrui(path: Path) -> bool:
    """Whether *path* starts like a jMRUI text file."""
    try:
        if not path.is_file():
            return False
        with open(path, "rb") as fh:
            head = fh.read(2048).decode("latin-1").lower()
    except OSError:
        return False
    return "jmrui data textfile" in head or ("samplinginterval" in head and "pointsindataset" in head)


def _num(v: str) -> Any:
    try:
        return int(v)
    except ValueError:
        try:
            return float(v.replace(",", "."))  # some locales write 1,5E-1
        except ValueError:
            return v


def read_jmrui_header(path: str | Path) -> tuple[dict[str, Any], np.ndarray]:
    """The header dict and the stored signals ``(n_signals, n_points)`` (not conjugated).

    Raises
    ------
    ReadError
        Not a jMRUI text file, no signal blocks, wrong point counts, non-numeric rows.
    """
    p = Path(path)
    text = read_text_file(p)
    header: dict[str, Any] = {}
    signals: list[list[complex]] = []
    current: list[complex] | None = None
    in_header = True
    for lineno, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s:
            continue
        m = _SIGNAL.match(s)
        if m:
            current = []
            signals.append(current)
            in_header = False
            continue
        if in_header:
            h = _HDR.match(s)
            if h and not re.match(r"^[+-]?\d", s):
                header[h.group(1).strip()] = _num(h.group(2))
            continue
        if current is None:
            continue
        toks = s.split()
        try:
            vals = [float(t) for t in toks[:2]]
        except ValueError:
            # column titles such as "sig(real) sig(imag) fft(real) fft(imag)" may repeat
            if re.match(r"^sig\(", s, re.IGNORECASE):
                continue
            raise ReadError(f"line {lineno} is not numeric: {s[:60]!r}", p) from None
        if len(vals) < 2:
            raise ReadError(f"line {lineno} has fewer than 2 columns", p)
        current.append(complex(vals[0], vals[1]))
    if "jmrui" not in text[:200].lower() and "SamplingInterval" not in header:
        raise ReadError("not a jMRUI text file (no 'jMRUI Data Textfile' line)", p)
    if not signals or not any(signals):
        raise ReadError("no 'Signal 1 out of N in file' block with data (truncated file?)", p)
    n_points = header.get("PointsInDataset")
    lengths = {len(sig) for sig in signals}
    if len(lengths) != 1:
        raise ReadError(f"signals have different lengths {sorted(lengths)}: truncated file?", p)
    n = lengths.pop()
    if isinstance(n_points, int) and n_points != n:
        raise ReadError(f"PointsInDataset = {n_points} but {n} rows per signal: truncated file?", p)
    return header, np.asarray(signals, dtype=complex)


def read_jmrui_txt(path: str | Path, options: ReadOptions | None = None) -> Spectrum:
    """Read a jMRUI text file into a Spectrum (no conjugation by default, see the module notes).

    Options (``central_frequency`` MHz, ``spectral_width`` Hz, ``echo_time`` ms, ``ppm_reference``,
    ``nucleus``) override the header.

    Raises
    ------
    HeaderFieldError
        ``SamplingInterval`` or ``TransmitterFrequency`` missing and not given as options.
    """
    p = Path(path)
    opts = options or ReadOptions()
    hdr, signals = read_jmrui_header(p)
    if opts.central_frequency is not None:
        f0 = float(opts.central_frequency)
    else:
        tf = hdr.get("TransmitterFrequency")
        if not isinstance(tf, (int, float)) or tf <= 0:
            raise HeaderFieldError("TransmitterFrequency is missing or invalid; pass --central-frequency MHZ",
                                   p, field="spectrometer_frequency", value=tf)
        f0 = float(tf) / 1e6 if tf > 1e4 else float(tf)
    if opts.spectral_width is not None:
        dwell = 1.0 / float(opts.spectral_width)
    else:
        si = hdr.get("SamplingInterval")
        if not isinstance(si, (int, float)) or si <= 0:
            raise HeaderFieldError("SamplingInterval (ms) is missing or invalid; pass --spectral-width HZ",
                                   p, field="dwell_time", value=si)
        dwell = float(si) * 1e-3
    te = None if opts.echo_time is None else float(opts.echo_time) * 1e-3
    nucleus = opts.nucleus
    code = hdr.get("TypeOfNucleus")
    if opts.nucleus == "1H" and isinstance(code, (int, float)) and int(code) in _NUCLEI:
        nucleus = _NUCLEI[int(code)]
    elif opts.nucleus == "1H" and isinstance(code, str) and re.fullmatch(r"\d{1,2}[A-Z][a-z]?", code.strip()):
        nucleus = code.strip()
    conj = False if opts.conjugate is None else bool(opts.conjugate)
    data = np.conj(signals) if conj else signals
    if data.shape[0] == 1:
        data, dims = data[0], ()
    else:
        dims = ("user_0",)
    acq: dict[str, Any] = {"ConversionMethod": "pmlmrs jmrui reader", "OriginalFile": [p.name]}
    header = Header(spectrometer_frequency=f0, dwell_time=dwell, nucleus=nucleus, echo_time=te,
                    ppm_reference=opts.ppm_reference, acquisition=acq,
                    vendor={"format": "jmrui_txt", "jmrui": {k: v for k, v in hdr.items() if not _is_private(k)},
                            "conjugated_on_read": conj})
    step = ProcessingStep("read", params={"format": "jmrui_txt", "conjugated": conj},
                          details=f"read jMRUI text {p.name}")
    return Spectrum(data, header, dims=dims, provenance=(step,), source=str(p))


def write_jmrui_txt(spectrum: Spectrum, path: str | Path) -> Path:
    """Write FIDs as a jMRUI text file (Spectrum convention, as jMRUI stores it); leading dims flattened."""
    p = Path(path)
    data = np.asarray(spectrum.data).reshape(-1, spectrum.n_points)
    h = spectrum.header
    nuc_code = {v: k for k, v in _NUCLEI.items() if k != 1}.get(h.nucleus, 0)
    lines = [
        "jMRUI Data Textfile",
        "",
        f"Filename: {p.name}",
        "",
        f"PointsInDataset: {spectrum.n_points}",
        f"DatasetsInFile: {data.shape[0]}",
        f"SamplingInterval: {h.dwell_time * 1e3:.10E}",
        "ZeroOrderPhase: 0E0",
        "BeginTime: 0E0",
        f"TransmitterFrequency: {h.spectrometer_frequency * 1e6:.10E}",
        f"MagneticField: {(h.field_strength or 0.0):.6E}",
        f"TypeOfNucleus: {nuc_code}E0",
        "NameOfPatient: ",
        "DateOfExperiment: ",
        "Spectrometer: ",
        "AdditionalInfo: pmlmrs",
        "",
        "",
        "Signal and FFT",
        "sig(real)\tsig(imag)\tfft(real)\tfft(imag)",
    ]
    body: list[str] = []
    for i, fid in enumerate(data):
        spec = np.fft.fftshift(np.fft.fft(fid))
        body.append(f"Signal {i + 1} out of {data.shape[0]} in file")
        body.extend(f"{z.real:.10E}\t{z.imag:.10E}\t{s.real:.10E}\t{s.imag:.10E}" for z, s in zip(fid, spec))
    try:
        p.write_text("\n".join(lines + body) + "\n")
    except OSError as exc:
        raise WriteError(f"cannot write: {exc}", p) from exc
    return p


def _write_for_registry(spectrum: Spectrum, path: Path) -> None:
    write_jmrui_txt(spectrum, path)


register_reader(Reader(
    name="jmrui_txt",
    description="jMRUI text (jMRUI Data Textfile)",
    extensions=(".txt",),
    sniff=sniff_jmrui,
    read=read_jmrui_txt,
))
register_writer(Writer(name="jmrui_txt", extensions=(".txt",), write=_write_for_registry))
