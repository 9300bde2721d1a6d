"""Helpers shared by the NIfTI-MRS and vendor readers: quiet third-party calls, PHI filtering,
user overrides from :class:`~pmlmrs.config.ReadOptions`, cheap sniffing primitives."""

from __future__ import annotations

import contextlib
import gzip
import io
import re
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pmlmrs._logging import logger
from pmlmrs.config import ReadOptions
from pmlmrs.core import ProcessingStep, Spectrum
from pmlmrs.errors import ReadError

__all__ = ["quiet_library", "is_phi_key", "strip_phi", "apply_read_options", "read_head", "has_dicom_preamble"]

#: NIfTI-MRS standard keys that identify a person; never carried into a Header or written out.
PHI_KEYS = frozenset({"PatientName", "PatientID", "PatientDoB"})
#: Also dropped: the patient's other attributes in the header (sex, age, weight, size, address:
#: the study keeps them, pseudonymised, in participants.tsv), and the people, site and device that
#: narrow an exam down to a person (institution, physicians, operators, serial number, accession).
_PHI_RE = re.compile(
    r"patient'?s?[_ ]?(name|id|birth|dob|sex|age|weight|size|address|comments)|other[_ ]?patient"
    r"|birth[_ ]?date|date[_ ]?of[_ ]?birth|^dob$|institution|physician|operator|device[_ ]?serial"
    r"|accession|station[_ ]?name",
    re.IGNORECASE,
)


def is_phi_key(key: str) -> bool:
    """Whether a header key names a patient identifier (name, ID, birth date) or another personal or
    site attribute (patient sex/age/weight, institution, physician, operator, device serial number)."""
    return key in PHI_KEYS or bool(_PHI_RE.search(str(key)))


def strip_phi(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A copy without patient name/ID/birth-date keys (recursively in nested dicts)."""
    out: dict[str, Any] = {}
    for key, val in mapping.items():
        if is_phi_key(key):
            continue
        out[key] = strip_phi(val) if isinstance(val, Mapping) else val
    return out


@contextlib.contextmanager
def quiet_library(name: str) -> Iterator[None]:
    """Run third-party code (spec2nii, mapvbvd, nifti-mrs) without letting it print or warn.

    What it printed and warned is passed on to the pmlmrs logger at DEBUG level.
    """
    out = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(out):
        warnings.simplefilter("always")
        try:
            yield
        finally:
            text = out.getvalue().strip()
            if text:
                logger.debug("%s printed: %s", name, text[:2000])
            for w in caught:
                logger.debug("%s warned: %s", name, w.message)


def read_head(path: Path, n: int = 1024) -> bytes:
    """The first *n* bytes of a file (decompressed for ``.gz``), or b"" when unreadable."""
    try:
        if not path.is_file():
            return b""
        if path.name.lower().endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                return fh.read(n)
        with open(path, "rb") as fh:
            return fh.read(n)
    except (OSError, EOFError, gzip.BadGzipFile):
        return b""


def has_dicom_preamble(path: Path) -> bool:
    """DICOM Part 10 files carry ``DICM`` at byte 128."""
    head = read_head(path, 132)
    return len(head) == 132 and head[128:132] == b"DICM"


#: Header fields a user may supply: (Header attribute, name in messages, unit, factor from the attribute).
_USER_FIELDS = (("spectrometer_frequency", "central frequency", "MHz", 1.0),
                ("dwell_time", "spectral width", "Hz", None), ("echo_time", "echo time", "ms", 1e3))


def _warn_conflicts(source: Any, old: Any, changes: dict[str, Any]) -> None:
    """Warn when a user-supplied value replaces a different value that the file itself holds."""
    for attr, label, unit, factor in _USER_FIELDS:
        if attr not in changes or getattr(old, attr, None) is None:
            continue
        a, b = float(getattr(old, attr)), float(changes[attr])
        if abs(a - b) <= 1e-6 * max(abs(a), abs(b)):
            continue
        fa, fb = (1.0 / a, 1.0 / b) if factor is None else (a * factor, b * factor)
        logger.warning("%s: the file says %s %.6g %s; using the %.6g %s given by the user", source or "input",
                       label, fa, unit, fb, unit)


def apply_read_options(spectrum: Spectrum, options: ReadOptions | None) -> Spectrum:
    """Apply user-supplied header values (overrides for formats that have them) and record it.

    ``central_frequency`` (MHz), ``spectral_width`` (Hz), ``echo_time`` (ms), ``ppm_reference``
    and ``nucleus`` replace the file's values when given; ``conjugate=True`` conjugates the data.
    """
    if options is None:
        return spectrum
    changes: dict[str, Any] = {}
    if options.central_frequency is not None:
        changes["spectrometer_frequency"] = float(options.central_frequency)
    if options.spectral_width is not None:
        changes["dwell_time"] = 1.0 / float(options.spectral_width)
    if options.echo_time is not None:
        changes["echo_time"] = float(options.echo_time) * 1e-3
    if options.ppm_reference is not None:
        changes["ppm_reference"] = float(options.ppm_reference)
    if options.nucleus and options.nucleus != spectrum.header.nucleus and options.nucleus != "1H":
        changes["nucleus"] = options.nucleus
    conj = bool(options.conjugate)
    if not changes and not conj:
        return spectrum
    if "spectrometer_frequency" in changes or "nucleus" in changes:
        changes.setdefault("field_strength", None)
    old = spectrum.header
    header = old.replace(**changes) if changes else old
    if changes:
        logger.info("%s: header values replaced by the user: %s", spectrum.source, changes)
        _warn_conflicts(spectrum.source, old, changes)
    params = {k: v for k, v in options.to_dict().items()
              if v is not None and not (k == "nucleus" and "nucleus" not in changes)}
    data = np.conj(spectrum.data) if conj else spectrum.data
    step = ProcessingStep(
        "override_header",
        params=params,
        details="header values supplied by the user replaced the file's" + ("; data conjugated" if conj else ""),
    )
    return spectrum.with_data(data, header=header, step=step)


def read_text_file(path: str | Path, what: str = "file", *, allow_empty: bool = False) -> str:
    """The text of *path* (undecodable bytes replaced); ReadError naming the file when it cannot be
    read or holds only white space (unless *allow_empty*). *what* names it in the message."""
    p = Path(path)
    try:
        text = p.read_text(errors="replace")
    except OSError as exc:
        raise ReadError(f"cannot read the {what}: {exc}", p) from exc
    if not allow_empty and not text.strip():
        raise ReadError(f"the {what} is empty", p)
    return text


def dicom_spectroscopy_floats(ds: Any, path: Path, n_points: int | None = None) -> np.ndarray:
    """SpectroscopyData (5600,0020) of a pydicom dataset as little-endian float32, shape (n,).

    Raises ReadError naming *path* when the element is missing or does not hold exactly
    NumberOfFrames x Rows x Columns x DataPointRows x DataPointColumns complex values (a truncated
    file: a reader would otherwise return fewer points without saying so). *n_points* replaces
    DataPointColumns when the caller took it from elsewhere.
    """
    if "SpectroscopyData" not in ds:
        raise ReadError("the element SpectroscopyData (5600,0020) is missing (truncated file?)", path)
    buf = bytes(ds.SpectroscopyData)
    if len(buf) % 4:
        raise ReadError(f"SpectroscopyData has {len(buf)} bytes, not a whole number of float32 values "
                        "(truncated file?)", path)
    raw = np.frombuffer(buf, dtype="<f4")
    dims = {name: int(ds.get(name, 1) or 1)
            for name in ("NumberOfFrames", "Rows", "Columns", "DataPointRows", "DataPointColumns")}
    if n_points is not None:
        dims["DataPointColumns"] = n_points
    expected = 2 * int(np.prod(list(dims.values())))
    if raw.size != expected:
        shown = " x ".join(f"{k} {v}" for k, v in dims.items() if v != 1 or k == "DataPointColumns")
        raise ReadError(f"SpectroscopyData holds {raw.size} floats but {shown} x 2 = {expected} "
                        "(truncated or unusual file)", path)
    return raw

