"""Stage of an exam (STUDY.md "Stage rules"), stored with the rule text and the inputs that set it.

Rules [default], applied to an exam on date t, first match wins:

1. An explicit stage in the sessions table.
2. **iris** if ``iris_onset <= t <= iris_end`` (no ``iris_end``: IRIS ongoing).
3. **pre_iris** if PML is diagnosed at or before t and IRIS has not started by t. A patient without
   a recorded IRIS onset counts as "PML without IRIS" (rule 4) unless
   ``StageOptions.without_iris == "pre_iris"``.
4. After IRIS has ended, or PML without IRIS: **early_post_pml** if t − PML onset <
   ``early_months``, **late_post_pml** if > ``late_months``, **unassigned** in between.
5. "PML onset" is the symptom date (``pml_onset``) or the diagnosis date (``pml_diagnosis``),
   chosen by ``StageOptions.onset`` and used by every rule and by ``days_since_pml_onset``.

An exam none of the rules covers (before PML diagnosis, dates missing) is **unassigned**, with the
reason, and is listed for review; so is every exam without an explicit stage of a patient whose dates
are in an impossible order (``_date_flags``): rules 2-4 are then not applied, as it is not known which
date is wrong. An unreadable date counts as unknown: the rules that do not need it still apply, and
the exam is listed for review with the patient's flag.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
from collections.abc import Mapping
from typing import Any

from pmlmrs.config import Options
from pmlmrs.errors import ConfigError, check_option

__all__ = [
    "STAGES",
    "ALL_STAGES",
    "StageOptions",
    "StageAssignment",
    "assign_stage",
    "normalise_stage",
    "months_between",
    "DAYS_PER_MONTH",
]

#: Stages that enter the statistics, in clinical order.
STAGES: tuple[str, ...] = ("pre_iris", "iris", "early_post_pml", "late_post_pml")
#: Every stage label an exam can carry.
ALL_STAGES: tuple[str, ...] = STAGES + ("unassigned",)
#: Mean Gregorian month, days (365.25 / 12).
DAYS_PER_MONTH = 365.25 / 12.0

_ALIASES = {
    "preiris": "pre_iris", "pre_iris": "pre_iris",
    "iris": "iris",
    "earlypostpml": "early_post_pml", "early_post_pml": "early_post_pml", "earlypost": "early_post_pml",
    "latepostpml": "late_post_pml", "late_post_pml": "late_post_pml", "latepost": "late_post_pml",
    "unassigned": "unassigned",
}


def normalise_stage(value: Any) -> str | None:
    """A stage label from what users type (``pre-IRIS``, ``Early post PML``, ...); None if empty.

    Raises ConfigError for a text that is no stage.
    """
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    s = str(value).strip().lower()
    if s in ("", "n/a", "na", "nan", "none"):
        return None
    key = s.replace("-", "_").replace(" ", "_")
    if key in _ALIASES:
        return _ALIASES[key]
    squashed = key.replace("_", "")
    if squashed in _ALIASES:
        return _ALIASES[squashed]
    raise ConfigError(
        f"unknown stage {value!r}; allowed stages are {', '.join(ALL_STAGES)} (or n/a for the rules)"
    )


@dataclasses.dataclass(frozen=True)
class StageOptions(Options):
    """Options of the stage rules (STUDY.md; every one recorded with each stage).

    Attributes
    ----------
    early_months : float
        Post-PML exams with t − onset below this many months are ``early_post_pml`` (19).
    late_months : float
        Post-PML exams with t − onset above this many months are ``late_post_pml`` (23).
    onset : {"symptom", "diagnosis"}
        Which date is "PML onset": ``pml_onset`` (symptoms) [default] or ``pml_diagnosis``.
    without_iris : {"post_pml", "pre_iris"}
        Exams after diagnosis of a patient with no recorded IRIS onset: staged as post-PML by time
        since onset (STUDY.md rule 4 "or PML without IRIS") [default], or as pre-IRIS (IRIS
        expected but not yet recorded, e.g. in a prospective database).
    """

    early_months: float = 19.0
    late_months: float = 23.0
    onset: str = "symptom"
    without_iris: str = "post_pml"

    def __post_init__(self) -> None:
        check_option("onset", self.onset, ("symptom", "diagnosis"))
        check_option("without_iris", self.without_iris, ("post_pml", "pre_iris"))
        for name in ("early_months", "late_months"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise ConfigError(f"'{name}' must be a positive number of months, but got {v!r} instead.")
        if self.late_months < self.early_months:
            raise ConfigError(
                f"'late_months' ({self.late_months}) must not be below 'early_months' ({self.early_months})"
            )

    @property
    def onset_column(self) -> str:
        """The participants.tsv column used as PML onset."""
        return "pml_onset" if self.onset == "symptom" else "pml_diagnosis"


@dataclasses.dataclass(frozen=True)
class StageAssignment:
    """The stage of one exam and why.

    Attributes
    ----------
    stage : str
        One of :data:`ALL_STAGES`.
    rule : str
        The rule that set it, as a sentence with the dates (shown in reports).
    inputs : dict
        The values the rule read (ISO dates, months since onset, options), JSON-friendly.
    review : bool
        True when the exam needs a human look (unassigned, or dates missing/inconsistent).
    """

    stage: str
    rule: str
    inputs: dict[str, Any]
    review: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict."""
        return dataclasses.asdict(self)


def _as_date(value: Any) -> _dt.date | None:
    """A date from a date/datetime/pandas Timestamp/ISO string; None for missing values."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    try:
        import pandas as pd

        if value is pd.NaT or (not isinstance(value, str) and pd.isna(value)):
            return None
    except (ImportError, TypeError, ValueError):
        pass
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime().date()
    s = str(value).strip()
    if s.lower() in ("", "n/a", "na", "nan", "nat", "none"):
        return None
    try:
        return _dt.date.fromisoformat(s[:10])
    except ValueError:
        raise ConfigError(f"not an ISO 8601 date: {value!r}") from None


def months_between(start: _dt.date, end: _dt.date) -> float:
    """``(end - start)`` in mean months (days / 30.4375)."""
    return (end - start).days / DAYS_PER_MONTH


def _iso(d: _dt.date | None) -> str | None:
    return None if d is None else d.isoformat()


def assign_stage(acq_time: Any, patient: Mapping[str, Any], explicit: Any = None,
                 options: StageOptions | None = None) -> StageAssignment:
    """Stage of the exam on ``acq_time`` for a patient (STUDY.md stage rules).

    Parameters
    ----------
    acq_time : date, datetime, Timestamp or ISO str
        Exam date t (missing: the exam is unassigned unless a stage is explicit).
    patient : mapping
        participants.tsv values: ``pml_onset``, ``pml_diagnosis``, ``iris_onset``, ``iris_end``
        (dates or missing), and ``_date_flags`` (:func:`~pmlmrs.study.clinical.read_participants`:
        messages of invalid or inconsistent dates; when any, the exam is unassigned unless a stage
        is explicit). Other keys are ignored.
    explicit : str, optional
        The sessions.tsv ``stage`` column; when set it wins (rule 1).
    options : StageOptions, optional

    Returns
    -------
    StageAssignment
    """
    o = options or StageOptions()
    t = _as_date(acq_time)
    pml_onset = _as_date(patient.get("pml_onset"))
    diagnosis = _as_date(patient.get("pml_diagnosis"))
    iris_on = _as_date(patient.get("iris_onset"))
    iris_end = _as_date(patient.get("iris_end"))
    onset = pml_onset if o.onset == "symptom" else diagnosis
    inputs: dict[str, Any] = {
        "acq_time": _iso(t), "pml_onset": _iso(pml_onset), "pml_diagnosis": _iso(diagnosis),
        "iris_onset": _iso(iris_on), "iris_end": _iso(iris_end), "onset": o.onset,
        "onset_date": _iso(onset), "early_months": o.early_months, "late_months": o.late_months,
        "without_iris": o.without_iris,
    }
    if t is not None and onset is not None:
        inputs["days_since_pml_onset"] = (t - onset).days
        inputs["months_since_pml_onset"] = round(months_between(onset, t), 3)

    stage = normalise_stage(explicit)
    if stage is not None:
        inputs["explicit"] = str(explicit)
        return StageAssignment(stage, f"explicit stage '{stage}' in the sessions table (rule 1)", inputs,
                               review=stage == "unassigned")
    date_flags = patient.get("_date_flags")
    if date_flags:
        return StageAssignment("unassigned", "patient dates invalid or inconsistent, stage rules not applied: "
                               f"{date_flags[0]}", inputs, True)
    a = _by_date(t, pml_onset, diagnosis, iris_on, iris_end, onset, o, inputs)
    flags = patient.get("_flags")
    if flags and not a.review:
        return dataclasses.replace(a, rule=f"{a.rule}; review: {flags[0]}", review=True)
    return a


def _by_date(t: _dt.date | None, pml_onset: _dt.date | None, diagnosis: _dt.date | None,
             iris_on: _dt.date | None, iris_end: _dt.date | None, onset: _dt.date | None, o: StageOptions,
             inputs: dict[str, Any]) -> StageAssignment:
    """Rules 2-4 for an exam on *t*."""
    if t is None:
        return StageAssignment("unassigned", "exam date (acq_time) unknown: no rule applies", inputs, True)

    # Rule 2: IRIS window, an open end meaning ongoing.
    if iris_on is not None and iris_on <= t and (iris_end is None or t <= iris_end):
        end = iris_end.isoformat() if iris_end else "ongoing"
        return StageAssignment("iris", f"IRIS: iris_onset {iris_on} <= exam {t} <= iris_end {end} (rule 2)", inputs)

    # Rule 3: diagnosed, IRIS not started.
    diag_ref, diag_name = (diagnosis, "pml_diagnosis") if diagnosis is not None else (pml_onset, "pml_onset")
    if diag_ref is None:
        return StageAssignment("unassigned", "PML diagnosis and onset dates unknown: no rule applies",
                               inputs, True)
    if t < diag_ref:
        return StageAssignment("unassigned", f"exam {t} before PML diagnosis ({diag_name} {diag_ref}): "
                               "no PML stage applies", inputs, True)
    note = "" if diag_name == "pml_diagnosis" else " (pml_diagnosis unknown, pml_onset used)"
    if iris_on is not None and t < iris_on:
        return StageAssignment(
            "pre_iris", f"pre-IRIS: {diag_name} {diag_ref} <= exam {t} < iris_onset {iris_on} (rule 3){note}",
            inputs)
    if iris_on is None and o.without_iris == "pre_iris":
        return StageAssignment(
            "pre_iris", f"pre-IRIS: {diag_name} {diag_ref} <= exam {t}, no IRIS onset recorded "
            f"(without_iris='pre_iris', rule 3){note}", inputs)

    # Rule 4: after IRIS (or PML without IRIS), by time since onset.
    after = f"after IRIS (iris_end {iris_end})" if iris_on is not None else "PML without IRIS"
    if onset is None:
        return StageAssignment(
            "unassigned", f"{after}, but the PML onset date ({o.onset_column}) is unknown: no rule applies",
            inputs, True)
    months = months_between(onset, t)
    since = f"{months:.1f} months after {o.onset_column} {onset}"
    if months < o.early_months:
        return StageAssignment("early_post_pml", f"early post-PML: {after}, exam {since} < {o.early_months:g} "
                               "months (rule 4)", inputs)
    if months > o.late_months:
        return StageAssignment("late_post_pml", f"late post-PML: {after}, exam {since} > {o.late_months:g} "
                               "months (rule 4)", inputs)
    return StageAssignment(
        "unassigned", f"post-PML between {o.early_months:g} and {o.late_months:g} months ({after}, exam "
        f"{since}): left for review (rule 4)", inputs, True)
