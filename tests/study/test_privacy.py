"""``pmlmrs run`` outputs name input files relative to the dataset: a folder above it (often the
patient's name) never reaches the derivatives, tables or pages (only the run log and the database,
the operational records, keep the full path)."""

from __future__ import annotations

import shutil

from pmlmrs.study.pipeline import run_study

from .conftest import read_tsv


def test_folders_above_the_dataset_stay_out_of_the_outputs(tiny_cohort, tmp_path):
    bids = tmp_path / "DOE_JOHN_19650312" / "bids"
    shutil.copytree(tiny_cohort, bids)
    broken = next(bids.glob("sub-01/ses-01/mrs/*voi-nawm_svs.nii.gz"))
    broken.write_bytes(broken.read_bytes()[:3000])            # a truncated file: a failed voxel
    out = tmp_path / "derivatives"
    res = run_study(bids, out, "all")
    assert res.n_failed == 1
    problems = read_tsv(out / "group" / "problems.tsv")
    failed = problems[problems["message"].str.contains("processing failed")].iloc[0]
    assert failed["path"] == "sub-01/ses-01/mrs/" + broken.name
    assert failed["message"].startswith("sub-01/ses-01/mrs/" + broken.name)
    checked = 0
    for f in out.rglob("*"):
        if f.is_file() and f.suffix in (".tsv", ".json", ".html") and "logs" not in f.parts:
            assert "DOE_JOHN" not in f.read_text(encoding="utf-8", errors="replace"), f
            checked += 1
    assert checked > 20
    assert "SourceDatasets" not in (out / "dataset_description.json").read_text()
    # beside the dataset, the relative path names no other folder: kept
    out2 = bids.parent / "derivatives"
    run_study(bids, out2, "participant", reports=False)
    assert '"file://../bids"' in (out2 / "dataset_description.json").read_text()
