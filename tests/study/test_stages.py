"""Stage rules (STUDY.md): every rule and every boundary."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from pmlmrs.errors import ConfigError
from pmlmrs.study.stages import DAYS_PER_MONTH, StageOptions, assign_stage, normalise_stage

ONSET = dt.date(2014, 1, 10)
PATIENT = {
    "pml_onset": ONSET,
    "pml_diagnosis": dt.date(2014, 2, 1),
    "iris_onset": dt.date(2014, 3, 15),
    "iris_end": dt.date(2014, 6, 1),
}


def at_months(m: float) -> dt.date:
    """The first exam day at least *m* mean months after onset."""
    return ONSET + dt.timedelta(days=math.ceil(m * DAYS_PER_MONTH))


def test_explicit_stage_wins_over_rules():
    a = assign_stage("2014-04-01", PATIENT, explicit="late-post-PML")
    assert a.stage == "late_post_pml"
    assert "explicit" in a.rule and a.inputs["explicit"] == "late-post-PML"


@pytest.mark.parametrize("text, stage", [("pre-IRIS", "pre_iris"), ("IRIS", "iris"),
                                         ("Early post PML", "early_post_pml"), ("late_post_pml", "late_post_pml"),
                                         ("unassigned", "unassigned"), ("n/a", None), ("", None), (None, None)])
def test_normalise_stage(text, stage):
    assert normalise_stage(text) == stage


def test_normalise_stage_rejects_unknown():
    with pytest.raises(ConfigError, match="unknown stage 'acute'"):
        normalise_stage("acute")


@pytest.mark.parametrize("day, stage", [
    (dt.date(2014, 3, 15), "iris"),        # iris_onset itself
    (dt.date(2014, 6, 1), "iris"),         # iris_end itself
    (dt.date(2014, 4, 20), "iris"),
    (dt.date(2014, 3, 14), "pre_iris"),    # day before IRIS onset
    (dt.date(2014, 2, 1), "pre_iris"),     # diagnosis day
    (dt.date(2014, 1, 31), "unassigned"),  # before diagnosis
    (dt.date(2014, 6, 2), "early_post_pml"),  # day after IRIS end
])
def test_iris_and_pre_iris_boundaries(day, stage):
    a = assign_stage(day, PATIENT)
    assert a.stage == stage, a.rule
    assert a.rule and a.inputs["acq_time"] == day.isoformat()


def test_open_iris_end_means_ongoing():
    p = dict(PATIENT, iris_end=None)
    a = assign_stage(at_months(30), p)
    assert a.stage == "iris" and "ongoing" in a.rule


@pytest.mark.parametrize("months, stage", [
    (18.95, "early_post_pml"), (19.0, "unassigned"), (21.0, "unassigned"), (22.99, "unassigned"),
    (23.1, "late_post_pml"), (40.0, "late_post_pml"),
])
def test_post_pml_windows(months, stage):
    a = assign_stage(at_months(months), PATIENT)
    assert a.stage == stage, a.rule
    assert a.review == (stage == "unassigned")
    assert a.inputs["months_since_pml_onset"] == pytest.approx(months, abs=0.03)


def test_configurable_windows():
    o = StageOptions(early_months=12, late_months=12)
    assert assign_stage(at_months(11.9), PATIENT, options=o).stage == "early_post_pml"
    assert assign_stage(at_months(12.1), PATIENT, options=o).stage == "late_post_pml"


def test_onset_option_symptom_vs_diagnosis():
    # 18.5 months after symptom onset is early; measured from diagnosis (22 days later) still early,
    # but 19.3 months after symptoms is unassigned by symptom onset and early by diagnosis.
    day = at_months(19.3)
    assert assign_stage(day, PATIENT).stage == "unassigned"
    a = assign_stage(day, PATIENT, options=StageOptions(onset="diagnosis"))
    assert a.stage == "early_post_pml"
    assert a.inputs["onset"] == "diagnosis" and a.inputs["onset_date"] == "2014-02-01"
    assert a.inputs["days_since_pml_onset"] == (day - dt.date(2014, 2, 1)).days


def test_pml_without_iris_is_post_pml_by_default():
    p = dict(PATIENT, iris_onset=None, iris_end=None)
    a = assign_stage(dt.date(2014, 3, 1), p)
    assert a.stage == "early_post_pml" and "without IRIS" in a.rule
    b = assign_stage(dt.date(2014, 3, 1), p, options=StageOptions(without_iris="pre_iris"))
    assert b.stage == "pre_iris"


def test_missing_dates_leave_exam_unassigned_for_review():
    assert assign_stage(None, PATIENT).stage == "unassigned"
    assert assign_stage(None, PATIENT).review
    a = assign_stage("2014-05-01", {})
    assert a.stage == "unassigned" and a.review and "unknown" in a.rule
    p = dict(PATIENT, pml_diagnosis=None)
    assert assign_stage(dt.date(2014, 3, 1), p).stage == "pre_iris"  # pml_onset used, said so
    assert "pml_onset used" in assign_stage(dt.date(2014, 3, 1), p).rule


def test_invalid_patient_dates_leave_exam_unassigned_unless_explicit(tmp_path):
    """The pipeline's rule lives in assign_stage: flagged dates (read_participants) skip rules 2-4."""
    from pmlmrs.study.clinical import read_participants

    tsv = tmp_path / "participants.tsv"
    tsv.write_text("participant_id\tpml_onset\tpml_diagnosis\tiris_onset\tiris_end\n"
                   "sub-01\t2014-01-10\t2014-02-01\t2014-03-15\t2000-01-01\n", encoding="utf-8")
    patient = read_participants(tsv).iloc[0].to_dict()
    assert patient["_date_flags"]
    a = assign_stage("2014-04-01", patient)  # iris by rule 2 if the dates were trusted
    assert a.stage == "unassigned" and a.review
    assert a.rule.startswith("patient dates invalid or inconsistent, stage rules not applied: ")
    assert patient["_date_flags"][0] in a.rule
    assert a.inputs == assign_stage("2014-04-01", dict(patient, _date_flags=[])).inputs
    b = assign_stage("2014-04-01", patient, explicit="iris")
    assert b.stage == "iris" and not b.review


def test_an_unreadable_date_counts_as_unknown(tmp_path):
    """pml_onset '30/01/2012' cannot be read: rule 3 (diagnosis and IRIS onset) still stages the exam
    pre-IRIS, and the exam is listed for review with the reason."""
    from pmlmrs.study.clinical import read_participants

    tsv = tmp_path / "participants.tsv"
    tsv.write_text("participant_id\tpml_onset\tpml_diagnosis\tiris_onset\tiris_end\n"
                   "sub-14\t30/01/2012\t2012-02-19\t2012-04-01\t2012-05-01\n", encoding="utf-8")
    patient = read_participants(tsv).iloc[0].to_dict()
    assert patient["pml_onset"] is None and not patient["_date_flags"] and patient["_flags"]
    a = assign_stage("2012-02-27", patient)
    assert a.stage == "pre_iris" and a.review and "pml_onset" in a.rule.split("review:")[1]
    b = assign_stage("2013-06-01", patient)  # rule 4 needs the onset: unknown
    assert b.stage == "unassigned" and b.review


def test_inputs_are_json_friendly():
    import json

    a = assign_stage("2014-07-01", PATIENT)
    json.dumps(a.to_dict())
    assert a.inputs["early_months"] == 19.0 and a.inputs["late_months"] == 23.0


def test_invalid_options():
    with pytest.raises(ConfigError):
        StageOptions(onset="mri")
    with pytest.raises(ConfigError):
        StageOptions(early_months=25, late_months=23)
    with pytest.raises(ConfigError):
        StageOptions(early_months=-1)
