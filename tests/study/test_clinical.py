"""participants.tsv / sessions.tsv validation: every problem names file, row and column."""

from __future__ import annotations

import datetime as dt

import pytest

from pmlmrs.errors import ConfigError
from pmlmrs.study.clinical import parse_date, parse_edss, parse_kps, read_participants, read_sessions

from .conftest import write_tsv

HEADER = ["participant_id", "sex", "age", "pml_onset", "pml_diagnosis", "natalizumab_stop", "iris_onset",
          "iris_end", "kps_pre", "edss_pre"]
GOOD = ["sub-01", "F", "40", "2014-01-10", "2014-02-01", "2014-02-02", "2014-03-15", "2014-06-01", "90", "2.5"]


def row(**changes: str) -> list[str]:
    r = dict(zip(HEADER, GOOD))
    r.update(changes)
    return [r[c] for c in HEADER]


def test_good_table_parses_types(tmp_path):
    p = write_tsv(tmp_path / "participants.tsv", HEADER, [GOOD])
    problems = []
    df = read_participants(p, problems)
    assert problems == []
    rec = df.iloc[0]
    assert rec["pml_onset"] == dt.date(2014, 1, 10)
    assert rec["kps_pre"] == 90 and rec["edss_pre"] == 2.5 and rec["sex"] == "F"
    assert rec["_row"] == 1 and rec["_flags"] == []


@pytest.mark.parametrize("column, value, text", [
    ("pml_onset", "10.01.2014", "not an ISO 8601 date"),
    ("pml_diagnosis", "2014-02-30", "not a valid calendar date"),
    ("kps_pre", "85", "KPS must be 0-100 in steps of 10"),
    ("kps_pre", "110", "KPS must be 0-100 in steps of 10"),
    ("edss_pre", "2.3", "EDSS must be 0-10 in steps of 0.5"),
    ("edss_pre", "10.5", "EDSS must be 0-10 in steps of 0.5"),
    ("age", "-3", "age must be 0-120"),
    ("sex", "X", "sex must be"),
])
def test_bad_values_name_file_row_column(tmp_path, column, value, text):
    p = write_tsv(tmp_path / "participants.tsv", HEADER, [GOOD, row(participant_id="sub-02", **{column: value})])
    problems = []
    df = read_participants(p, problems)
    assert len(df) == 2, "a bad value never drops the patient"
    [prob] = problems
    err = prob.error
    assert err.path == str(p) and err.row == 2 and err.column == column
    assert text in str(err) and str(p) in str(err) and "row 2" in str(err) and f"column '{column}'" in str(err)
    assert prob.participant_id == "sub-02" and prob.action == "value set to n/a"
    assert df.iloc[1][column] is None and df.iloc[1]["_flags"]


@pytest.mark.parametrize("changes, column, text", [
    ({"iris_onset": "2014-01-01"}, "iris_onset", "iris_onset 2014-01-01 is before pml_onset"),
    ({"iris_end": "2014-03-01"}, "iris_end", "iris_end 2014-03-01 is before iris_onset"),
    ({"pml_diagnosis": "2013-12-01"}, "pml_diagnosis", "is before pml_onset"),
    ({"natalizumab_stop": "2014-09-01", "iris_end": "2014-12-01"}, "natalizumab_stop", "days after pml_diagnosis"),
    ({"iris_onset": "n/a"}, "iris_end", "iris_end is given without iris_onset"),
])
def test_impossible_date_order_flags_patient(tmp_path, changes, column, text):
    p = write_tsv(tmp_path / "participants.tsv", HEADER, [row(**changes)])
    problems = []
    df = read_participants(p, problems)
    msgs = [(pr.error.row, pr.error.column, str(pr.error)) for pr in problems]
    assert any(r == 1 and c == column and text in m for r, c, m in msgs), msgs
    assert any(text in f for f in df.iloc[0]["_flags"])


def test_bad_ids_and_duplicates_skip_rows(tmp_path):
    p = write_tsv(tmp_path / "participants.tsv", HEADER, [GOOD, row(participant_id="01"), GOOD])
    problems = []
    df = read_participants(p, problems)
    assert list(df["participant_id"]) == ["sub-01"]
    assert [(x.error.row, x.error.column) for x in problems] == [(2, "participant_id"), (3, "participant_id")]
    assert "duplicate participant_id 'sub-01' (first in row 1)" in str(problems[1].error)


def test_identifying_columns_are_dropped(tmp_path):
    p = write_tsv(tmp_path / "participants.tsv", HEADER + ["patient_name", "birth_date"],
                  [GOOD + ["Jane Doe", "1970-01-01"]])
    problems = []
    df = read_participants(p, problems)
    assert "patient_name" not in df.columns and "birth_date" not in df.columns
    assert {x.error.column for x in problems} == {"patient_name", "birth_date"}


def test_missing_participant_id_column(tmp_path):
    p = write_tsv(tmp_path / "participants.tsv", ["id", "sex"], [["sub-01", "F"]])
    problems = []
    df = read_participants(p, problems)
    assert df.empty and problems[0].error.column == "participant_id"


def test_sessions_validation(tmp_path):
    p = write_tsv(tmp_path / "sub-01_sessions.tsv", ["session_id", "acq_time", "kps", "edss", "lesion_enhancing",
                                                     "stage"],
                  [["ses-01", "2014-03-01", "70", "4.0", "true", "n/a"],
                   ["ses-02", "2014/04/01", "75", "11", "maybe", "acute"],
                   ["ses-03", "2013-12-01", "80", "3.0", "false", "pre-IRIS"],
                   ["x3", "2014-05-01", "80", "3.0", "false", ""]])
    problems = []
    df = read_sessions(p, "sub-01", {"pml_onset": dt.date(2014, 1, 10)}, problems)
    assert list(df["session_id"]) == ["ses-01", "ses-02", "ses-03"]
    located = {(x.error.row, x.error.column) for x in problems}
    assert {(2, "acq_time"), (2, "kps"), (2, "edss"), (2, "lesion_enhancing"), (2, "stage"),
            (3, "acq_time"), (4, "session_id")} == located
    assert df.iloc[0]["lesion_enhancing"] is True and df.iloc[0]["stage"] is None
    assert df.iloc[2]["stage"] == "pre_iris"
    before = [x for x in problems if x.error.row == 3][0]
    assert before.level == "warning" and "before the participant's pml_onset" in str(before.error)


def test_sessions_without_acq_time_column_are_reported(tmp_path):
    p = write_tsv(tmp_path / "sub-09_sessions.tsv", ["session_id", "kps"], [["ses-01", "70"]])
    problems = []
    df = read_sessions(p, "sub-09", None, problems)
    assert list(df["session_id"]) == ["ses-01"] and df.iloc[0]["acq_time"] is None
    (pr,) = problems
    assert pr.level == "error" and pr.error.column == "acq_time" and "column is missing" in str(pr.error)


def test_parsers():
    assert parse_date("2014-04-01T10:30:00", allow_time=True) == dt.date(2014, 4, 1)
    with pytest.raises(ConfigError):
        parse_date("2014-04-01T10:30:00")
    assert parse_kps("n/a") is None and parse_kps("70") == 70 and parse_kps("70.0") == 70
    assert parse_edss("6.5") == 6.5
    with pytest.raises(ConfigError):
        parse_kps("abc")
