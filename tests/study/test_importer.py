"""``import_vendor`` on real vendor files (Philips SDAT/SPAR via spec2nii), then a run with a file basis."""

from __future__ import annotations

import pytest

from pmlmrs.study.bids import discover
from pmlmrs.study.importer import import_vendor
from pmlmrs.study.pipeline import run_study

from ..conftest import shared_path


@pytest.mark.shared
def test_import_philips_and_run_with_basis_file(tmp_path):
    vendor = shared_path("invivo", "philips_sdat", "spant_phantom_press_te30")
    basis = shared_path("invivo", "basis", "lcmodel", "3T_PRESS_Philips_35ms_noMM.BASIS")
    mapping = tmp_path / "map.tsv"
    mapping.write_text("file\tparticipant_id\tsession_id\tvoi\tref_file\tacq_time\n"
                       "philips_spar_sdat_WS.SDAT\tsub-ph\tses-1\tlesion\tphilips_spar_sdat_W.SDAT\t2016-05-01\n"
                       "philips_spar_sdat_WS.SDAT\tsub-ph\tses-1\tnawm\tphilips_spar_sdat_W.SDAT\t2016-05-01\n")
    bids = tmp_path / "bids"
    res = import_vendor(vendor, mapping, bids)
    assert res.problems == [] and len(res.written) == 4
    study = discover(bids)
    [exam] = study.exams
    assert [v.voi for v in exam.voxels] == ["lesion", "nawm"] and exam.voxels[0].ref_path is not None
    out = tmp_path / "out"
    run = run_study(bids, out, "participant", basis=basis, reports=False)
    assert run.n_failed == 0 and run.n_fitted == 2, [p.message for p in run.problems]
    # without --basis no bundled basis matches 127.8 MHz: a PRESS basis is simulated for the data
    run2 = run_study(bids, tmp_path / "out2", "participant", reports=False)
    assert run2.n_failed == 0 and run2.n_fitted == 2, [p.message for p in run2.problems]


def test_mapping_table_without_a_required_column_names_its_header(tmp_path):
    from pmlmrs.errors import StudyError

    mapping = tmp_path / "map.csv"
    mapping.write_text("file,participant_id,session_id,voi\na.SDAT,sub-1,ses-1,lesion\n")
    with pytest.raises(StudyError, match="its header has 'file,participant_id,session_id,voi'.*tab-separated"):
        import_vendor(tmp_path, mapping, tmp_path / "bids")
    mapping.write_text("file\tparticipant\tsession_id\tvoi\n")
    with pytest.raises(StudyError, match="lacks the 'participant_id' column; its header has 'file', 'participant'"):
        import_vendor(tmp_path, mapping, tmp_path / "bids")
    assert not (tmp_path / "bids").exists()


@pytest.mark.shared
def test_acq_time_from_the_file_header(tmp_path):
    """Without acq_time in the mapping, the exam date comes from the header (SPAR scan_date, RDA,
    DICOM), reported as a warning; a given acq_time wins; a header without one leaves it n/a."""
    import shutil

    from pmlmrs.io.acquisition_time import acquisition_time

    invivo = shared_path("invivo")
    vendor = tmp_path / "vendor"
    vendor.mkdir()
    for rel in ("philips_sdat/spant_phantom_press_te30/philips_spar_sdat_WS.SDAT",
                "philips_sdat/spant_phantom_press_te30/philips_spar_sdat_WS.SPAR",
                "siemens_rda/SVS_30.rda", "philips_sdat/osprey_press_te35/sub-01_PRESS_35_act.sdat",
                "philips_sdat/osprey_press_te35/sub-01_PRESS_35_act.spar"):
        shutil.copy(invivo / rel, vendor)
    assert acquisition_time(invivo / "siemens_dicom" / "SVS_XA60.dcm")[0].isoformat() == "2025-01-16T16:42:08"
    assert acquisition_time(invivo / "siemens_dicom" / "SVS_30.IMA")[0].isoformat() == "2016-04-29T12:15:12"
    mapping = tmp_path / "map.tsv"
    mapping.write_text("file\tparticipant_id\tsession_id\tvoi\tacq_time\n"
                       "philips_spar_sdat_WS.SDAT\tsub-a\tses-1\tlesion\t\n"
                       "SVS_30.rda\tsub-b\tses-1\tlesion\tn/a\n"
                       "SVS_30.rda\tsub-b\tses-2\tlesion\t2016-05-02\n"
                       "sub-01_PRESS_35_act.sdat\tsub-c\tses-1\tlesion\t\n")
    res = import_vendor(vendor, mapping, tmp_path / "bids")
    assert [p.level for p in res.problems] == ["warning"] * 3
    assert "acq_time 2009-06-16T10:32:45 taken from the file header (SPAR scan_date, row 1)" in res.problems[0].message
    assert "(RDA SeriesDate/SeriesTime, row 2)" in res.problems[1].message
    assert "sub-c" == res.problems[2].participant_id and "no acq_time in the mapping table or the file headers" \
        in res.problems[2].message
    times = {sub: (tmp_path / "bids" / sub / f"{sub}_sessions.tsv").read_text().splitlines()[1:]
             for sub in ("sub-a", "sub-b", "sub-c")}
    assert times["sub-a"] == ["ses-1\t2009-06-16T10:32:45" + "\tn/a" * 3]
    assert times["sub-b"][0].startswith("ses-1\t2016-04-29T12:15:13") and times["sub-b"][1].startswith("ses-2\t2016-05-02")
    assert times["sub-c"][0].startswith("ses-1\tn/a")   # the SPAR has an empty scan_date


@pytest.mark.shared
def test_acq_time_of_a_session_from_several_rows(tmp_path):
    """Rows of one session: header times of one day agree (the earliest is kept), a date in the
    mapping table wins over header times whatever the row order, and a date agrees with a header
    time of the same day; table dates on different days are an error."""
    import shutil

    vendor = tmp_path / "vendor"
    vendor.mkdir()
    for rel in ("siemens_rda/SVS_30.rda", "siemens_dicom/SVS_30.IMA"):
        shutil.copy(shared_path("invivo", *rel.split("/")), vendor)
    mapping = tmp_path / "map.tsv"

    def run(rows: str, name: str) -> tuple[list, list[str]]:
        mapping.write_text("file\tparticipant_id\tsession_id\tvoi\tacq_time\n" + rows)
        res = import_vendor(vendor, mapping, tmp_path / name)
        return res.problems, (tmp_path / name / "sub-1" / "sub-1_sessions.tsv").read_text().splitlines()[1:]

    # RDA 12:15:13 and IMA 12:15:12 of one exam: one day, the earliest kept, a warning to check
    problems, rows = run("SVS_30.rda\tsub-1\tses-1\tlesion\t\nSVS_30.IMA\tsub-1\tses-1\tnawm\t\n", "b1")
    assert [p.level for p in problems] == ["warning"] and rows[0].startswith("ses-1\t2016-04-29T12:15:12\t")
    # a date given in a later row wins over the header time of an earlier one
    problems, rows = run("SVS_30.rda\tsub-1\tses-1\tnawm\tn/a\nSVS_30.IMA\tsub-1\tses-1\tlesion\t2016-05-02\n", "b2")
    assert problems == [] and rows[0].startswith("ses-1\t2016-05-02\t")
    # a given date and another row's header time on that day agree
    problems, rows = run("SVS_30.rda\tsub-1\tses-1\tnawm\t2016-04-29\nSVS_30.IMA\tsub-1\tses-1\tlesion\t\n", "b3")
    assert problems == [] and rows[0].startswith("ses-1\t2016-04-29\t")
    # two table dates on different days: an error, the first kept
    problems, rows = run("SVS_30.rda\tsub-1\tses-1\tnawm\t2016-04-29\nSVS_30.IMA\tsub-1\tses-1\tlesion\t2016-05-02\n",
                         "b4")
    assert [p.level for p in problems] == ["error"] and "2016-04-29 kept" in problems[0].message
