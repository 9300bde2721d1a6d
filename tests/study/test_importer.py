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
