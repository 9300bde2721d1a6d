"""``pmlmrs run`` on a small held-out cohort written by an independent generator
(validation/heldout_cohort.py: own lipids, lineshape, noise, acq labels, dyn files, missing NAWM and
water references, explicit stages, a patient without IRIS, an ongoing IRIS, a corrupt file)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from ..conftest import load_validation

_GEN = Path(__file__).resolve().parents[2] / "validation" / "heldout_cohort.py"
# SCHEDULE rows: follow-up (0), lesion-only exam (5), acq-svs30 (6), ongoing IRIS (7), no IRIS (10),
# explicit stage (11, 18), lesion-only late exam (12).
_ROWS = (0, 5, 6, 7, 10, 11, 12, 18)

pytestmark = pytest.mark.skipif(not _GEN.exists(), reason="validation/heldout_cohort.py not in this checkout")


def _generator():
    return load_validation("heldout_cohort")


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


@pytest.mark.slow
def test_run_on_heldout_cohort(tmp_path: Path) -> None:
    from pmlmrs.cli.main import app
    from pmlmrs.quant import summary_columns
    from pmlmrs.stats.correlation import CORRELATION_COLUMNS
    from pmlmrs.stats.groups import STAGE_STATS_COLUMNS
    from pmlmrs.study.pipeline import VOXEL_KEY_COLUMNS

    gen = _generator()
    info = gen.make_heldout_cohort(tmp_path / "bids", seed=11, patients=_ROWS, n_points=1024)
    bids = info["bids_dir"]
    # A corrupt spectrum: the voxel must be reported as failed, the run must go on.
    bad = next(bids.glob("sub-h01/ses-2/mrs/*voi-nawm_svs.nii.gz"))
    bad.write_bytes(b"not a NIfTI file")
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["run", str(bids), str(out)])
    assert res.exit_code == 1 and "1 voxel(s) failed" in res.output, res.output  # all else is written

    group = out / "group"
    voxels, exams = _read(group / "voxels.tsv"), _read(group / "exams.tsv")
    problems = _read(group / "problems.tsv")
    truth = _read(info["truth"])
    # Every exam is in exams.tsv with the stage the generator planted (explicit, no IRIS, ongoing IRIS).
    stages = {(r.participant_id, r.session_id): r.stage for r in truth.itertuples()}
    got = {(r.participant_id, r.session_id): r.stage for r in exams.itertuples()}
    assert got == stages
    # Every voxel is fitted or listed as failed with a reason; lesion-only exams are listed as such.
    ok = voxels[voxels["error"].isin(["", "n/a"])]
    assert len(ok) == len(truth) - 1
    failed = problems[(problems["level"] == "error") & problems["message"].str.contains("processing failed")]
    assert list(zip(failed["participant_id"], failed["session_id"], failed["voi"])) == [("sub-h01", "ses-2", "nawm")]
    first_log = json.loads(sorted((out / "logs").glob("run-*_all.json"))[-1].read_text())
    assert first_log["missing"] == []  # statistics, reports and the cohort report were all written
    no_nawm = set(zip(problems.loc[problems["message"].str.contains("no NAWM voxel"), "participant_id"],
                      problems.loc[problems["message"].str.contains("no NAWM voxel"), "session_id"]))
    have_nawm = set(zip(truth.loc[truth["voi"] == "nawm", "participant_id"],
                        truth.loc[truth["voi"] == "nawm", "session_id"]))
    assert no_nawm == set(stages) - have_nawm

    # Exactly the DESIGN columns.
    assert list(voxels.columns[: len(VOXEL_KEY_COLUMNS)]) == VOXEL_KEY_COLUMNS
    assert set(summary_columns([])) <= set(voxels.columns)
    for c in ("tNAA_tCr", "tCho_tCr", "tNAA_tCho", "Ins_tCr", "Glx_tCr", "Lip_tCr", "Lip09_tCr", "Lip13_tCr",
              "snr", "fwhm_ppm", "fit_quality", "qc_pass", "error"):
        assert c in voxels.columns
    assert list(_read(group / "stage_stats.tsv").columns) == STAGE_STATS_COLUMNS
    assert list(_read(group / "correlations.tsv").columns) == CORRELATION_COLUMNS
    iris = _read(group / "iris.tsv")
    assert list(iris.columns) == ["participant_id", "session_id", "stage", "iris_score", "iris_flag", "rule",
                                  "reason"]
    assert len(iris) == len(stages)  # one row per lesion exam
    assert set(voxels["voi"]) == {"lesion", "nawm"}
    # Amplitudes in mM only where a water reference was used; the column says which.
    scaled = dict(zip(zip(ok["participant_id"], ok["session_id"], ok["voi"]), ok["water_scaled"]))
    for r in truth.itertuples():
        if (r.participant_id, r.session_id, r.voi) in scaled:
            assert scaled[(r.participant_id, r.session_id, r.voi)] == r.water_ref
    assert set(voxels["stage"]) <= {"pre_iris", "iris", "early_post_pml", "late_post_pml", "unassigned"}

    # A second run changes nothing and refits nothing.
    before = (group / "stage_stats.tsv").read_text()
    res2 = CliRunner().invoke(app, ["run", str(bids), str(out), "--force"])
    assert res2.exit_code == 1 and "1 voxel(s) failed" in res2.output, res2.output  # the corrupt file again
    log = json.loads(sorted((out / "logs").glob("run-*_all.json"))[-1].read_text())
    assert log["counts"]["fitted"] == 0 and log["counts"]["reused"] == len(truth) - 1
    assert (group / "stage_stats.tsv").read_text() == before
