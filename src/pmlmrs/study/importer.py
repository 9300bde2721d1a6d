"""``import_vendor``: vendor files + a mapping table → an MRS-BIDS dataset (``pmlmrs import``).

The mapping table (TSV) has one row per water-suppressed spectrum::

    file                      participant_id  session_id  voi     ref_file                 acq    acq_time
    p1/scan1/svs_se_lesion.dat  sub-01        ses-01      lesion  p1/scan1/svs_ref.dat     press  2015-03-02

``file`` and ``ref_file`` are relative to VENDOR_DIR (``ref_file``, ``acq`` and ``acq_time`` are
optional; ``sub-``/``ses-`` prefixes are added when missing). Without an ``acq_time`` the exam date
and time are taken from the file's header where it has them
(:func:`pmlmrs.io.acquisition_time.acquisition_time`: SPAR, RDA, DICOM), each one reported as a
warning to check. Every file is read with
:func:`pmlmrs.io.load` (any supported format; vendor formats go through spec2nii) and written with
:func:`pmlmrs.io.save` as NIfTI-MRS under ``BIDS_DIR/sub-*/ses-*/mrs/``. ``dataset_description.json``,
``participants.tsv`` and ``sub-*_sessions.tsv`` are created or extended (clinical columns n/a, to
be filled in). A bad row is reported (file, row, column) and skipped.

Vendor file and folder names often carry the patient's name or birth date
(``Mueller_Hans_1961-05-02/MUELLER_HANS_WS.SDAT``): the written files name only the BIDS file, in
the header's ``OriginalFile`` and in the provenance text (headers' patient fields are dropped by
the readers).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import re
from pathlib import Path
from typing import Any

from pmlmrs.errors import PmlmrsError, StudyError
from pmlmrs.io.acquisition_time import acquisition_time
from pmlmrs.study.bids import VOIS
from pmlmrs.study.clinical import PARTICIPANT_COLUMNS, Problem, parse_date

__all__ = ["ImportResult", "import_vendor", "MAPPING_COLUMNS"]

MAPPING_COLUMNS = ("file", "participant_id", "session_id", "voi", "ref_file", "acq", "acq_time")
_LABEL = re.compile(r"^[A-Za-z0-9]+$")


@dataclasses.dataclass
class ImportResult:
    """What :func:`import_vendor` wrote: the files (BIDS paths) and the problems of skipped rows."""

    bids_dir: Path
    written: list[Path]
    problems: list[Problem]


def _given(value: Any) -> bool:
    """Whether a mapping-table cell holds a value (not empty, not n/a)."""
    return value is not None and str(value).strip().lower() not in ("", "n/a", "nan")


def _label(value: str, prefix: str) -> str | None:
    v = str(value).strip()
    if v.startswith(prefix + "-"):
        v = v[len(prefix) + 1:]
    return v if _LABEL.match(v) else None


def _pseudonymise(spec: Any, src: Path, vendor: Path, bids_name: str) -> Any:
    """*spec* with every part of the vendor path of *src* below *vendor* (folders, file name, stem, the
    names of companion files such as the SPAR) replaced by *bids_name* in ``OriginalFile`` and the
    provenance."""
    from pmlmrs.io import companion_files

    files = [src, *companion_files(src)]
    words = set(src.resolve().relative_to(vendor.resolve()).parts)
    words |= {f.name for f in files} | {f.stem for f in files}
    words = sorted((w for w in words if len(w) > 2), key=len, reverse=True)   # longest first: names before stems

    def clean(text: str) -> str:
        for w in words:
            text = re.sub(re.escape(w), bids_name, text, flags=re.IGNORECASE)
        return text

    acq = dict(spec.header.acquisition)
    if "OriginalFile" in acq:
        acq["OriginalFile"] = [bids_name]
    steps = tuple(dataclasses.replace(st, details=clean(st.details),
                                      params=json.loads(clean(json.dumps(st.params, default=str))))
                  for st in spec.provenance)
    return spec.replace(header=spec.header.replace(acquisition=acq), provenance=steps, source=None)


def _read_table(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines:
        return [], []
    cols = [c.strip() for c in lines[0].split("\t")]
    rows = [dict(zip(cols, [x.strip() for x in line.split("\t")])) for line in lines[1:] if line.strip()]
    return cols, rows


def _write_table(path: Path, cols: list[str], rows: list[dict[str, str]]) -> None:
    text = "\n".join(["\t".join(cols)] + ["\t".join(r.get(c, "n/a") or "n/a" for c in cols) for r in rows])
    path.write_text(text + "\n", encoding="utf-8")


def import_vendor(vendor_dir: str | Path, mapping: str | Path, bids_dir: str | Path, *, force: bool = False,
                  read_options: Any = None) -> ImportResult:
    """Convert vendor files listed in a mapping table into an MRS-BIDS dataset.

    Parameters
    ----------
    vendor_dir : path
        Folder the ``file``/``ref_file`` paths are relative to.
    mapping : path
        The mapping TSV (see the module notes).
    bids_dir : path
        Created or extended.
    force : bool
        Overwrite existing NIfTI-MRS files (WriteError otherwise, reported per row).
    read_options : ReadOptions, optional
        Header values for formats that lack them (LCModel RAW, text).

    Returns
    -------
    ImportResult

    Raises
    ------
    StudyError
        When the mapping table cannot be read or lacks a required column.
    """
    from pmlmrs.io import load, save

    vendor = Path(vendor_dir)
    mpath = Path(mapping)
    bids = Path(bids_dir)
    if not vendor.is_dir():
        raise StudyError("is not a folder", vendor)
    try:
        cols, rows = _read_table(mpath)
    except (OSError, UnicodeDecodeError) as exc:
        raise StudyError(f"cannot read the mapping table: {exc}", mpath) from exc
    for req in ("file", "participant_id", "session_id", "voi"):
        if req not in cols:
            found = ", ".join(repr(c) for c in cols) or "none"
            hint = " (it must be tab-separated, not comma-separated)" if len(cols) == 1 and "," in cols[0] else ""
            raise StudyError(f"the mapping table lacks the {req!r} column; its header has {found}{hint}; "
                             f"expected columns: {', '.join(MAPPING_COLUMNS)}", mpath, column=req)
    bids.mkdir(parents=True, exist_ok=True)
    problems: list[Problem] = []
    written: list[Path] = []
    sessions: dict[str, dict[str, str]] = {}
    targets: dict[str, int] = {}     # BIDS stem -> first row writing it
    kw = {} if read_options is None else {"options": read_options}
    for i, r in enumerate(rows, start=1):
        sub = _label(r.get("participant_id", ""), "sub")
        ses = _label(r.get("session_id", ""), "ses")
        voi = r.get("voi", "").strip().lower()
        acq = r.get("acq", "").strip()
        bad = None
        if sub is None:
            bad = ("participant_id", f"{r.get('participant_id')!r} is not sub-<letters/digits>")
        elif ses is None:
            bad = ("session_id", f"{r.get('session_id')!r} is not ses-<letters/digits>")
        elif voi not in VOIS:
            bad = ("voi", f"unknown voi {r.get('voi')!r}; expected one of {', '.join(VOIS)}")
        elif acq and acq.lower() != "n/a" and not _LABEL.match(acq):
            bad = ("acq", f"acq label {acq!r} must be letters and digits")
        if bad is not None:
            problems.append(Problem("error", StudyError(bad[1], mpath, row=i, column=bad[0]), action="row skipped"))
            continue
        pid, sid = f"sub-{sub}", f"ses-{ses}"
        acq_part = f"_acq-{acq}" if acq and acq.lower() != "n/a" else ""
        mrs = bids / pid / sid / "mrs"
        stem = f"{pid}_{sid}{acq_part}_voi-{voi}"
        if stem in targets:   # two rows for one BIDS file: the second would replace the first
            problems.append(Problem("error", StudyError(
                f"row {targets[stem]} already maps a file to {stem}_svs (same participant, session, acq and voi)",
                mpath, row=i, column="file"), pid, sid, voi, action="row skipped"))
            continue
        targets[stem] = i
        given, source = str(r.get("acq_time")).strip(), "table"
        try:
            acq_time = parse_date(r.get("acq_time"), allow_time=True)
        except PmlmrsError as exc:
            problems.append(Problem("error", StudyError(str(exc), mpath, row=i, column="acq_time"),
                                    pid, sid, voi, action="acq_time set to n/a"))
            acq_time = None
        for column, suffix in (("file", "svs"), ("ref_file", "mrsref")):
            name = r.get(column, "").strip()
            if not name or name.lower() == "n/a":
                if column == "file":
                    problems.append(Problem("error", StudyError("empty file name", mpath, row=i, column=column),
                                            pid, sid, voi, action="row skipped"))
                continue
            src = vendor / name
            dst = mrs / f"{stem}_{suffix}.nii.gz"
            try:
                if vendor.resolve() not in src.resolve().parents:
                    raise StudyError(f"{name!r} is not a path inside the vendor folder {vendor}", mpath, row=i,
                                     column=column)
                if not src.exists():
                    raise StudyError(f"{src} does not exist", mpath, row=i, column=column)
                spec = _pseudonymise(load(src, **kw), src, vendor, dst.name)
                if column == "file" and acq_time is None and not _given(r.get("acq_time")):
                    acq_time, source = acquisition_time(src)
                    given = "" if acq_time is None else acq_time.isoformat()
                mrs.mkdir(parents=True, exist_ok=True)
                save(spec, dst, force=force)
                written.append(dst)
            except (PmlmrsError, OSError, ValueError) as exc:
                named = isinstance(exc, PmlmrsError) and str(src) in str(exc)   # a reader's error names the file
                err = exc if isinstance(exc, StudyError) else StudyError(
                    str(exc) if named else f"{src}: {exc}", mpath, row=i, column=column)
                problems.append(Problem("error", err, pid, sid, voi,
                                        action="row skipped" if column == "file" else "no water reference"))
                if column == "file":
                    break
        else:
            rec = sessions.setdefault(f"{pid}/{sid}", {"participant_id": pid, "session_id": sid})
            _merge_acq_time(rec, acq_time, given, source, i, mpath, problems, voi)
    for rec in sessions.values():
        where = {"participant_id": rec["participant_id"], "session_id": rec["session_id"]}
        if rec.get("acq_time") is None:
            problems.append(Problem("warning", StudyError(
                "no acq_time in the mapping table or the file headers: the stage rules need the exam date",
                mpath, column="acq_time"), **where, action="fill it in sessions.tsv"))
        elif rec["_source"][0] != "table":
            problems.append(Problem("warning", StudyError(
                f"acq_time {rec['acq_time']} taken from the file header ({rec['_source'][0]}, row "
                f"{rec['_source'][1]})", mpath, row=rec["_source"][1], column="acq_time"), **where,
                action="check it in sessions.tsv"))
    _write_metadata(bids, sessions, force)
    return ImportResult(bids, written, problems)


def _merge_acq_time(rec: dict[str, Any], when: Any, text: str, source: str, row: int, mpath: Path,
                    problems: list[Problem], voi: str) -> None:
    """Merge one row's acq_time into its session's record.

    A value from the mapping table wins over one from a file header; rows of one session that fall
    on one day agree (the value with a time, or the earliest header time, is kept); two table
    values on different days are an error, two header values on different days a warning (the
    earliest is kept).
    """
    if when is None:
        return
    day = when.date() if isinstance(when, _dt.datetime) else when
    old, (old_source, old_row) = rec.get("acq_time"), rec.get("_source", (None, None))
    table, old_table = source == "table", old_source == "table"
    if old is None or (table and not old_table):
        rec["acq_time"], rec["_when"], rec["_source"] = text, when, (source, row)
        return
    if old_table and not table:
        return
    old_day = rec["_when"].date() if isinstance(rec["_when"], _dt.datetime) else rec["_when"]
    if day != old_day:
        kept = old if table or str(rec["_when"]) <= str(when) else text
        problems.append(Problem("error" if table else "warning", StudyError(
            f"acq_time {text} ({source}) but row {old_row} of this session gives {old} ({old_source})", mpath,
            row=row, column="acq_time"), rec["participant_id"], rec["session_id"], voi, action=f"{kept} kept"))
        if kept == old:
            return
    elif table and len(text) <= len(old):   # as given: a date, or a date and time (BIDS)
        return
    elif not table and str(rec["_when"]) <= str(when):   # the session's earliest header time
        return
    rec["acq_time"], rec["_when"], rec["_source"] = text, when, (source, row)


def _write_metadata(bids: Path, sessions: dict[str, dict[str, str]], force: bool) -> None:
    dd = bids / "dataset_description.json"
    if not dd.exists():
        dd.write_text(json.dumps({
            "Name": bids.name, "BIDSVersion": "1.9.0", "DatasetType": "raw",
            "GeneratedBy": [{"Name": "pmlmrs import", "Description": "vendor files converted to NIfTI-MRS with "
                                                                     "pmlmrs.io (spec2nii for vendor formats)"}],
        }, indent=2) + "\n", encoding="utf-8")
    ptsv = bids / "participants.tsv"
    cols, rows = _read_table(ptsv) if ptsv.exists() else (list(PARTICIPANT_COLUMNS), [])
    known = {r.get("participant_id") for r in rows}
    for rec in sessions.values():
        if rec["participant_id"] not in known:
            rows.append({"participant_id": rec["participant_id"]})
            known.add(rec["participant_id"])
    _write_table(ptsv, cols, rows)
    by_sub: dict[str, list[dict[str, str]]] = {}
    for rec in sessions.values():
        by_sub.setdefault(rec["participant_id"], []).append(rec)
    for pid, recs in by_sub.items():
        path = bids / pid / f"{pid}_sessions.tsv"
        cols, rows = _read_table(path) if path.exists() else (
            ["session_id", "acq_time", "kps", "edss", "lesion_enhancing"], [])
        index = {r.get("session_id"): r for r in rows}
        for rec in recs:
            row = index.get(rec["session_id"])
            if row is None:
                row = {"session_id": rec["session_id"]}
                rows.append(row)
                index[rec["session_id"]] = row
            if rec.get("acq_time") and (force or row.get("acq_time", "n/a") in ("", "n/a")):
                row["acq_time"] = rec["acq_time"]
        rows.sort(key=lambda r: r.get("session_id", ""))
        _write_table(path, cols, rows)
