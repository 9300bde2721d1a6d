"""Clinical tables of an MRS-BIDS study: ``participants.tsv`` and ``sub-*/sub-*_sessions.tsv``.

Every problem is collected as a :class:`Problem` wrapping a :class:`~pmlmrs.errors.StudyError` that
names the file, the 1-based data row and the column; nothing is raised for a bad value. A bad value
becomes missing (n/a) and the patient or exam is flagged, so one mistake never stops a run.

Checks: ISO 8601 dates; KPS 0–100 in steps of 10; EDSS 0–10 in steps of 0.5; age 0–120; the
``lesion_enhancing`` flag true/false/n/a; explicit stages; duplicate ids; and a possible order of the
dates of a patient (PML onset ≤ diagnosis; IRIS onset not before PML onset nor before natalizumab
was stopped; IRIS end not before IRIS onset; natalizumab stopped no later than
``NATALIZUMAB_STOP_MAX_DAYS_AFTER_DIAGNOSIS`` after diagnosis) and of every exam (not before PML
onset is only a warning: such an exam is unassigned).

Columns that could identify a person (names, birth dates) are dropped on reading and never stored.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmlmrs.config import MISSING_WORDS, parse_bool
from pmlmrs.errors import ConfigError, StudyError
from pmlmrs.study.stages import normalise_stage

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "Problem",
    "PARTICIPANT_COLUMNS",
    "SESSION_COLUMNS",
    "DATE_COLUMNS",
    "read_participants",
    "read_sessions",
    "check_patient_dates",
    "parse_date",
    "parse_kps",
    "parse_edss",
    "NATALIZUMAB_STOP_MAX_DAYS_AFTER_DIAGNOSIS",
]

PARTICIPANT_COLUMNS = ("participant_id", "sex", "age", "pml_onset", "pml_diagnosis", "natalizumab_stop",
                       "iris_onset", "iris_end", "kps_pre", "edss_pre")
SESSION_COLUMNS = ("session_id", "acq_time", "kps", "edss", "lesion_enhancing", "stage")
DATE_COLUMNS = ("pml_onset", "pml_diagnosis", "natalizumab_stop", "iris_onset", "iris_end")
#: Natalizumab is stopped when PML is suspected; a stop date far after the diagnosis is an error.
NATALIZUMAB_STOP_MAX_DAYS_AFTER_DIAGNOSIS = 90

_ID_RE = {"participant_id": re.compile(r"^sub-[A-Za-z0-9]+$"), "session_id": re.compile(r"^ses-[A-Za-z0-9]+$")}
_IDENTIFYING = re.compile(r"(^|_)(name|firstname|lastname|surname|birth|birthdate|birth_date|dob|"
                          r"date_of_birth|patient_name)($|_)", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class Problem:
    """One problem found in the study input.

    Attributes
    ----------
    level : {"error", "warning"}
        ``error``: a value was rejected (set to n/a) or an item was skipped; ``warning``: noted.
    error : StudyError
        With ``path``, ``row`` and ``column`` where known; ``str(error)`` is the full message.
    participant_id, session_id, voi : str or None
        What the problem concerns.
    action : str
        What the run did about it ("value set to n/a", "exam skipped", ...).
    acq : str or None
        The voxel's acq label, where an exam has several voxels of the voi (``acq-frontal``).
    """

    level: str
    error: StudyError
    participant_id: str | None = None
    session_id: str | None = None
    voi: str | None = None
    action: str = ""
    acq: str | None = None

    @property
    def message(self) -> str:
        """The full message (file, row, column, what, action)."""
        return str(self.error) + (f" [{self.action}]" if self.action else "")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly."""
        return {"level": self.level, "message": self.message, "path": self.error.path, "row": self.error.row,
                "column": self.error.column, "participant_id": self.participant_id,
                "session_id": self.session_id, "voi": self.voi, "acq": self.acq, "action": self.action}


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return str(value).strip().lower() in MISSING_WORDS


def parse_date(value: Any, *, allow_time: bool = False) -> _dt.date | None:
    """An ISO 8601 date (``YYYY-MM-DD``; with ``allow_time`` also ``YYYY-MM-DDThh:mm[:ss]``).

    Returns None for n/a; raises ConfigError for anything else.
    """
    if _is_missing(value):
        return None
    s = str(value).strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
        try:
            return _dt.date.fromisoformat(s)
        except ValueError:
            raise ConfigError(f"{s!r} is not a valid calendar date (ISO 8601 YYYY-MM-DD)") from None
    if allow_time and re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?", s):
        try:
            return _dt.datetime.fromisoformat(s.replace("Z", "+00:00")).date()
        except ValueError:
            raise ConfigError(f"{s!r} is not a valid ISO 8601 date-time") from None
    want = "YYYY-MM-DD or YYYY-MM-DDThh:mm:ss" if allow_time else "YYYY-MM-DD"
    raise ConfigError(f"{s!r} is not an ISO 8601 date ({want})")


def _number(value: Any) -> float | None:
    if _is_missing(value):
        return None
    try:
        v = float(str(value).strip())
    except ValueError:
        raise ConfigError(f"{value!r} is not a number") from None
    if not math.isfinite(v):
        raise ConfigError(f"{value!r} is not a finite number")
    return v


def parse_kps(value: Any) -> int | None:
    """Karnofsky Performance Scale: 0–100 in steps of 10; None for n/a."""
    v = _number(value)
    if v is None:
        return None
    if not (0 <= v <= 100) or abs(v / 10 - round(v / 10)) > 1e-9:
        raise ConfigError(f"KPS must be 0-100 in steps of 10, got {value!r}")
    return int(round(v))


def parse_edss(value: Any) -> float | None:
    """Expanded Disability Status Scale: 0–10 in steps of 0.5; None for n/a."""
    v = _number(value)
    if v is None:
        return None
    if not (0 <= v <= 10) or abs(v * 2 - round(v * 2)) > 1e-9:
        raise ConfigError(f"EDSS must be 0-10 in steps of 0.5, got {value!r}")
    return round(v * 2) / 2


def _parse_age(value: Any) -> float | None:
    v = _number(value)
    if v is None:
        return None
    if not 0 <= v <= 120:
        raise ConfigError(f"age must be 0-120 years, got {value!r}")
    return v


def _parse_bool(value: Any) -> bool | None:
    try:
        return parse_bool(value)
    except ValueError:
        raise ConfigError(f"must be true, false or n/a, got {value!r}") from None


def _parse_sex(value: Any) -> str | None:
    if _is_missing(value):
        return None
    s = str(value).strip()
    key = s.lower()
    table = {"m": "M", "male": "M", "f": "F", "female": "F", "o": "O", "other": "O"}
    if key not in table:
        raise ConfigError(f"sex must be M, F, O or n/a, got {value!r}")
    return table[key]


def _objects(df: pd.DataFrame) -> pd.DataFrame:
    """Object columns with None (not NaN) for missing values: the parsed Python values stay as parsed."""
    return df.astype(object).where(df.notna(), None)


def _read_tsv(path: Path, problems: list[Problem], **who: Any) -> pd.DataFrame | None:
    import pandas as pd

    try:
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, na_filter=False)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        problems.append(Problem("error", StudyError(f"cannot read the table: {exc}", path),
                                action="table ignored", **who))
        return None
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _drop_identifying(df: pd.DataFrame, path: Path, problems: list[Problem]) -> pd.DataFrame:
    bad = [c for c in df.columns if _IDENTIFYING.search(c)]
    for c in bad:
        problems.append(Problem("warning", StudyError(
            "column looks like a name or birth date; pmlmrs never reads or stores such data", path, column=c),
            action="column ignored"))
    return df.drop(columns=bad)


def read_participants(path: str | Path, problems: list[Problem] | None = None) -> pd.DataFrame:
    """Read and check ``participants.tsv``.

    Parameters
    ----------
    path : path
    problems : list, optional
        Problems found are appended here.

    Returns
    -------
    DataFrame
        One row per valid participant, indexed 0..n-1, with columns :data:`PARTICIPANT_COLUMNS`
        (dates as ``datetime.date`` or None; ``kps_pre`` int or None; ``edss_pre``/``age`` float or
        None), any extra columns as text, plus ``_row`` (1-based data row), ``_flags`` (messages of
        rejected values and inconsistent dates: the patient is flagged for review) and
        ``_date_flags`` (dates in an impossible order: the stage rules are then not applied; an
        unreadable date is only flagged and counts as unknown).
        Rows with a missing, malformed or duplicate ``participant_id`` are skipped.
    """
    import pandas as pd

    path = Path(path)
    problems = [] if problems is None else problems
    df = _read_tsv(path, problems)
    if df is None:
        return pd.DataFrame(columns=list(PARTICIPANT_COLUMNS) + ["_row", "_flags", "_date_flags"])
    df = _drop_identifying(df, path, problems)
    if "participant_id" not in df.columns:
        problems.append(Problem("error", StudyError("the participant_id column is missing", path,
                                                    column="participant_id"), action="table ignored"))
        return pd.DataFrame(columns=list(PARTICIPANT_COLUMNS) + ["_row", "_flags", "_date_flags"])
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    parsers = {"sex": _parse_sex, "age": _parse_age, "kps_pre": parse_kps, "edss_pre": parse_edss}
    parsers.update({c: parse_date for c in DATE_COLUMNS})
    for i, rec in enumerate(df.to_dict("records"), start=1):
        pid = str(rec.get("participant_id", "")).strip()
        if not _ID_RE["participant_id"].match(pid):
            problems.append(Problem("error", StudyError(
                f"participant_id {pid!r} is not of the form sub-<label> (letters and digits)", path, row=i,
                column="participant_id"), action="row skipped"))
            continue
        if pid in seen:
            problems.append(Problem("error", StudyError(
                f"duplicate participant_id {pid!r} (first in row {seen[pid]})", path, row=i,
                column="participant_id"), participant_id=pid, action="row skipped"))
            continue
        seen[pid] = i
        out: dict[str, Any] = {"participant_id": pid, "_row": i, "_flags": [], "_date_flags": []}
        for col in PARTICIPANT_COLUMNS[1:]:
            raw = rec.get(col)
            try:
                out[col] = parsers[col](raw) if col in rec else None
            except ConfigError as exc:
                err = StudyError(str(exc), path, row=i, column=col)
                problems.append(Problem("error", err, participant_id=pid, action="value set to n/a"))
                out["_flags"].append(str(err))   # an unreadable date counts as unknown (rules without it apply)
                out[col] = None
        for col, raw in rec.items():
            if col not in out:
                out[col] = None if _is_missing(raw) else str(raw).strip()
        for err in check_patient_dates(out, path=path, row=i):
            problems.append(Problem("error", err, participant_id=pid, action="patient flagged for review"))
            out["_flags"].append(str(err))
            out["_date_flags"].append(str(err))
        rows.append(out)
    cols = list(PARTICIPANT_COLUMNS) + [c for c in (rows[0] if rows else {}) if c not in PARTICIPANT_COLUMNS]
    return _objects(pd.DataFrame(rows, columns=cols))


def check_patient_dates(patient: dict[str, Any], *, path: str | Path | None = None,
                        row: int | None = None) -> list[StudyError]:
    """Dates of one patient that cannot be in this order, as StudyErrors naming the later column."""
    d = {c: patient.get(c) for c in DATE_COLUMNS}
    out: list[StudyError] = []

    def before(a: str, b: str, why: str) -> None:
        if d[a] is not None and d[b] is not None and d[b] < d[a]:
            out.append(StudyError(f"{b} {d[b]} is before {a} {d[a]} ({why})", path, row=row, column=b))

    before("pml_onset", "pml_diagnosis", "PML is diagnosed after symptom onset")
    before("pml_onset", "iris_onset", "IRIS follows PML")
    before("pml_diagnosis", "iris_onset", "IRIS follows PML diagnosis")
    before("natalizumab_stop", "iris_onset", "IRIS is immune reconstitution after natalizumab is stopped")
    before("iris_onset", "iris_end", "IRIS cannot end before it starts")
    if d["iris_end"] is not None and d["iris_onset"] is None:
        out.append(StudyError("iris_end is given without iris_onset", path, row=row, column="iris_end"))
    stop, diag = d["natalizumab_stop"], d["pml_diagnosis"]
    if stop is not None and diag is not None and (stop - diag).days > NATALIZUMAB_STOP_MAX_DAYS_AFTER_DIAGNOSIS:
        out.append(StudyError(
            f"natalizumab_stop {stop} is {(stop - diag).days} days after pml_diagnosis {diag} (natalizumab is "
            f"stopped when PML is diagnosed; at most {NATALIZUMAB_STOP_MAX_DAYS_AFTER_DIAGNOSIS} days expected)",
            path, row=row, column="natalizumab_stop"))
    return out


def read_sessions(path: str | Path, participant_id: str, patient: dict[str, Any] | None = None,
                  problems: list[Problem] | None = None) -> pd.DataFrame:
    """Read and check one ``sub-<id>_sessions.tsv``.

    Parameters
    ----------
    path : path
    participant_id : str
    patient : dict, optional
        The participant's row (for the date order: exams before PML onset are reported).
    problems : list, optional

    Returns
    -------
    DataFrame
        ``participant_id, session_id, acq_time (date or None), kps, edss, lesion_enhancing (bool or
        None), stage (explicit stage or None), _row, _flags``. Rows with a bad or duplicate
        ``session_id`` are skipped; a bad value becomes None and the exam is flagged.
    """
    import pandas as pd

    path = Path(path)
    problems = [] if problems is None else problems
    cols = ["participant_id", *SESSION_COLUMNS, "_row", "_flags"]
    df = _read_tsv(path, problems, participant_id=participant_id)
    if df is None:
        return pd.DataFrame(columns=cols)
    df = _drop_identifying(df, path, problems)
    if "session_id" not in df.columns:
        problems.append(Problem("error", StudyError("the session_id column is missing", path, column="session_id"),
                                participant_id=participant_id, action="table ignored"))
        return pd.DataFrame(columns=cols)
    if "acq_time" not in df.columns:   # every stage rule needs the exam date
        problems.append(Problem("error", StudyError(
            "the acq_time column is missing: no exam of this table can be staged", path, column="acq_time"),
            participant_id=participant_id, action="exams unassigned"))
    parsers = {"acq_time": lambda v: parse_date(v, allow_time=True), "kps": parse_kps, "edss": parse_edss,
               "lesion_enhancing": _parse_bool, "stage": normalise_stage}
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    onset = (patient or {}).get("pml_onset")
    for i, rec in enumerate(df.to_dict("records"), start=1):
        sid = str(rec.get("session_id", "")).strip()
        if not _ID_RE["session_id"].match(sid):
            problems.append(Problem("error", StudyError(
                f"session_id {sid!r} is not of the form ses-<label> (letters and digits)", path, row=i,
                column="session_id"), participant_id=participant_id, action="row skipped"))
            continue
        if sid in seen:
            problems.append(Problem("error", StudyError(
                f"duplicate session_id {sid!r} (first in row {seen[sid]})", path, row=i, column="session_id"),
                participant_id=participant_id, session_id=sid, action="row skipped"))
            continue
        seen[sid] = i
        out: dict[str, Any] = {"participant_id": participant_id, "session_id": sid, "_row": i, "_flags": []}
        for col, parse in parsers.items():
            try:
                out[col] = parse(rec.get(col))
            except ConfigError as exc:
                err = StudyError(str(exc), path, row=i, column=col)
                problems.append(Problem("error", err, participant_id=participant_id, session_id=sid,
                                        action="value set to n/a"))
                out["_flags"].append(str(err))
                out[col] = None
        t = out["acq_time"]
        if t is not None and onset is not None and t < onset:
            problems.append(Problem("warning", StudyError(
                f"acq_time {t} is before the participant's pml_onset {onset}", path, row=i, column="acq_time"),
                participant_id=participant_id, session_id=sid, action="exam unassigned unless a stage is given"))
        for col, raw in rec.items():
            if col not in out:
                out[col] = None if _is_missing(raw) else str(raw).strip()
        rows.append(out)
    extra = [c for c in (rows[0] if rows else {}) if c not in cols]
    return _objects(pd.DataFrame(rows, columns=cols + extra))
