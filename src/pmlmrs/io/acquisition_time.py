"""When an exam was acquired, from the vendor file's own header (for ``pmlmrs import``).

The readers never carry dates into a :class:`~pmlmrs.core.Header` (a date narrows a file down to a
person); the importer needs the exam date for ``sessions.tsv`` ``acq_time`` when the mapping table
does not give it, so it reads it here, from the raw header:

=================== ==========================================================================
Philips SDAT/SPAR   SPAR ``scan_date`` (``2016.04.29 11:59:29``)
Siemens RDA         ``SeriesDate``/``SeriesTime``, else ``StudyDate``/``StudyTime``
DICOM (Siemens,     ``AcquisitionDateTime``, else ``AcquisitionDate``/``AcquisitionTime``,
Philips)            ``SeriesDate``/``SeriesTime``, ``StudyDate``/``StudyTime``, ``ContentDate``
=================== ==========================================================================

Other formats (NIfTI-MRS, LCModel, text, TWIX, P-file, Bruker, Varian) give None.
"""

from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path

from pmlmrs.io._util import read_head

__all__ = ["acquisition_time"]


def _combine(date: str, time: str = "") -> _dt.datetime | _dt.date | None:
    """A DICOM/RDA ``YYYYMMDD`` date and optional ``HHMMSS[.ffffff]`` time."""
    date, time = date.strip(), time.strip()
    try:
        day = _dt.datetime.strptime(date[:8], "%Y%m%d")
    except ValueError:
        return None
    m = re.match(r"(\d{2})(\d{2})(\d{2})?", time)
    if not m:
        return day.date()
    return day.replace(hour=int(m.group(1)), minute=int(m.group(2)), second=int(m.group(3) or 0))


def _spar(path: Path) -> tuple[_dt.datetime | None, str]:
    from pmlmrs.io.vendor import find_partner

    spar = path if path.suffix.lower() == ".spar" else find_partner(path, (".spar",))
    if spar is None:
        return None, ""
    m = re.search(r"^scan_date\s*:\s*(\S+ \S+)", spar.read_text(encoding="latin-1"), re.MULTILINE)
    try:
        return (_dt.datetime.strptime(m.group(1), "%Y.%m.%d %H:%M:%S"), "SPAR scan_date") if m else (None, "")
    except ValueError:
        return None, ""


def _rda(path: Path) -> tuple[_dt.datetime | _dt.date | None, str]:
    raw = read_head(path, 64 * 1024).decode("latin-1")
    header = raw.split(">>> End of header <<<", 1)[0]
    fields = dict(re.findall(r"^(\w+): *(.*?)\s*$", header, re.MULTILINE))
    for date, time in (("SeriesDate", "SeriesTime"), ("StudyDate", "StudyTime")):
        when = _combine(fields.get(date, ""), fields.get(time, ""))
        if when is not None:
            return when, f"RDA {date}/{time}"
    return None, ""


def _dicom(path: Path) -> tuple[_dt.datetime | _dt.date | None, str]:
    import pydicom

    ds = pydicom.dcmread(str(path), stop_before_pixels=True, force=True,
                         specific_tags=["AcquisitionDateTime", "AcquisitionDate", "AcquisitionTime", "SeriesDate",
                                        "SeriesTime", "StudyDate", "StudyTime", "ContentDate", "ContentTime"])
    adt = str(ds.get("AcquisitionDateTime", "") or "")
    if adt:
        when = _combine(adt[:8], adt[8:])
        if when is not None:
            return when, "DICOM AcquisitionDateTime"
    for date, time in (("AcquisitionDate", "AcquisitionTime"), ("SeriesDate", "SeriesTime"),
                       ("StudyDate", "StudyTime"), ("ContentDate", "ContentTime")):
        when = _combine(str(ds.get(date, "") or ""), str(ds.get(time, "") or ""))
        if when is not None:
            return when, f"DICOM {date}/{time}"
    return None, ""


_BY_READER = {"philips_sdat": _spar, "philips_data_list": _spar, "siemens_rda": _rda,
              "siemens_dicom": _dicom, "philips_dicom": _dicom}


def acquisition_time(path: str | Path) -> tuple[_dt.datetime | _dt.date | None, str]:
    """``(when, source)``: the acquisition date and time in the file's header (a date alone where
    the header has no time) and the field it came from; ``(None, "")`` where the format or the
    header has none. Raises what :func:`~pmlmrs.io.find_reader` raises for an unreadable file."""
    from pmlmrs.io.registry import find_reader

    p = Path(path)
    get = _BY_READER.get(find_reader(p).name)
    if get is None:
        return None, ""
    try:
        return get(p)
    except (OSError, ValueError):
        return None, ""
