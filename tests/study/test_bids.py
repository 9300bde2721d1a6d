"""MRS-BIDS discovery: exams, voxels, water references and every reported problem."""

from __future__ import annotations

import pytest

from pmlmrs.errors import StudyError
from pmlmrs.study.bids import discover, parse_entities


def test_parse_entities():
    assert parse_entities("sub-01_ses-02_acq-press_voi-nawm_svs.nii.gz") == (
        {"sub": "01", "ses": "02", "acq": "press", "voi": "nawm"}, "svs")
    assert parse_entities("sub-01_ses-02_voi-nawm_mrsref.nii") == ({"sub": "01", "ses": "02", "voi": "nawm"},
                                                                   "mrsref")
    assert parse_entities("notes.txt") is None
    assert parse_entities("sub-01_sub-02_svs.nii.gz") is None


def test_discover_finds_exams_voxels_and_references(tiny_layout):
    study = discover(tiny_layout)
    keys = [e.key for e in study.exams]
    assert keys == ["sub-01/ses-01", "sub-01/ses-02", "sub-02/ses-01"]
    e = study.exams[1]
    assert [v.voi for v in e.voxels] == ["lesion", "nawm"]
    assert all(v.ref_path is not None and v.acq == "press" for v in e.voxels)
    assert e.kps == 50 and e.edss == 5.5 and e.lesion_enhancing is True
    assert str(e.acq_time) == "2014-04-01"
    assert e.voxel("nawm").name == "sub-01_ses-02_acq-press_voi-nawm_svs"
    assert study.exams[2].voxels[0].ref_path is None
    assert len(study.voxels) == 5


def test_discover_reports_problems(tiny_layout):
    study = discover(tiny_layout)
    msgs = [p.message for p in study.problems]
    assert any("unknown voi label 'cortex'" in m and "voi-cortex" in m for m in msgs), msgs
    assert any("no NAWM voxel" in m and "sub-02" in m for m in msgs), msgs
    assert any("session without spectra" in m and "ses-03" in m for m in msgs), msgs
    nawm = [p for p in study.problems if "no NAWM" in p.message][0]
    assert (nawm.participant_id, nawm.session_id, nawm.voi) == ("sub-02", "ses-01", "nawm")


def test_missing_participants_and_sessions_rows(tiny_layout, rng):
    from .conftest import write_spectrum

    write_spectrum(tiny_layout / "sub-03" / "ses-01" / "mrs" / "sub-03_ses-01_voi-lesion_svs.nii.gz", rng)
    write_spectrum(tiny_layout / "sub-01" / "ses-04" / "mrs" / "sub-01_ses-04_voi-lesion_svs.nii.gz", rng)
    study = discover(tiny_layout)
    msgs = [p.message for p in study.problems]
    assert any("sub-03 is not in participants.tsv" in m for m in msgs)
    assert any("session ses-04 is not in the sessions table" in m for m in msgs)
    assert "sub-03" in set(study.patients["participant_id"])
    assert study.patient("sub-03")["pml_onset"] is None
    assert any(e.key == "sub-03/ses-01" for e in study.exams)


def test_mismatched_entities_and_not_a_folder(tiny_layout, rng, tmp_path):
    from .conftest import write_spectrum

    write_spectrum(tiny_layout / "sub-02" / "ses-01" / "mrs" / "sub-09_ses-01_voi-nawm_svs.nii.gz", rng)
    study = discover(tiny_layout)
    assert any("do not match its folder" in p.message for p in study.problems)
    with pytest.raises(StudyError, match="is not a folder"):
        discover(tmp_path / "nothing")


def test_several_voxels_of_one_voi_are_all_kept(tiny_layout, rng):
    """Two lesions with their own acq labels are two voxels; a second file with the same voi and acq
    label stays a problem; keys without an acq label keep their old form."""
    from pmlmrs.study.bids import acq_label, split_voxel_id, voxel_id

    from .conftest import write_spectrum

    mrs = tiny_layout / "sub-01" / "ses-01" / "mrs"
    for acq in ("frontal", "parietal"):
        write_spectrum(mrs / f"sub-01_ses-01_acq-{acq}_voi-lesion_svs.nii.gz", rng)
    write_spectrum(mrs / "sub-01_ses-01_acq-frontal_voi-lesion_mrsref.nii.gz", rng)
    write_spectrum(mrs / "sub-01_ses-01_acq-frontal_voi-lesion_svs.nii", rng)  # same voi and acq: skipped
    write_spectrum(tiny_layout / "sub-03" / "ses-01" / "mrs" / "sub-03_ses-01_voi-lesion_svs.nii.gz", rng)
    study = discover(tiny_layout)
    e = next(x for x in study.exams if x.key == "sub-01/ses-01")
    assert [v.id for v in e.voxels] == ["lesion:frontal", "lesion:parietal", "lesion:press", "nawm:press"]
    assert e.voxel("lesion", "parietal").ref_path is None and e.voxel("lesion", "frontal").ref_path is not None
    assert e.voxel("lesion", "frontal").key == "sub-01/ses-01/lesion:frontal"
    assert next(x for x in study.exams if x.key == "sub-03/ses-01").voxels[0].key == "sub-03/ses-01/lesion"
    assert len({v.key for v in study.voxels}) == len(study.voxels) == 8
    msgs = [p.message for p in study.problems]
    assert any("a second svs file for acq-frontal voi-lesion" in m for m in msgs), msgs
    assert not any("more than one" in m for m in msgs), msgs
    assert voxel_id("lesion", None) == "lesion" and split_voxel_id("lesion:frontal") == ("lesion", "frontal")
    assert split_voxel_id("nawm") == ("nawm", None)
    assert acq_label("sub-01_ses-01_acq-frontal_voi-lesion_svs") == "frontal"
    assert acq_label("sub-01_ses-01_voi-lesion_svs.nii.gz") is None and acq_label(float("nan")) is None
