"""``pmlmrs run`` and ``pmlmrs import`` through the typer app (in process) and one subprocess smoke test."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pmlmrs.cli.main import app

runner = CliRunner()


@pytest.fixture(scope="module")
def bids(tmp_path_factory) -> Path:
    from pmlmrs.demo import make_demo_cohort

    return make_demo_cohort(tmp_path_factory.mktemp("cli") / "bids", n_patients=2, n_points=512, raw_every=0).bids_dir


def test_run_participant_then_group(bids, tmp_path):
    out = tmp_path / "out"
    r = runner.invoke(app, ["run", str(bids), str(out), "participant", "--no-reports"])
    assert r.exit_code == 0, r.output
    assert "8 fitted" in r.output and "0 failed" in r.output and "fitted because: 8 new" in r.output
    assert len(list(out.glob("sub-*/ses-*/mrs/*_desc-fit_svs.tsv"))) == 8
    r = runner.invoke(app, ["run", str(bids), str(out), "group", "--no-reports"])
    assert r.exit_code == 0, r.output
    assert (out / "group" / "voxels.tsv").exists() and (out / "group" / "stage_stats.tsv").exists()
    # existing results are not overwritten without --force (one-line error, exit 1)
    r = runner.invoke(app, ["run", str(bids), str(out), "participant"])
    assert r.exit_code == 1 and "--force" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["run", str(bids), str(out), "participant", "--force", "--no-reports"])
    assert r.exit_code == 0 and "0 fitted, 8 unchanged" in r.output and "fitted because" not in r.output
    r = runner.invoke(app, ["run", str(bids), str(out), "participant", "--force", "--no-reports",
                            "--early-months", "18"])   # stage options: no refit
    assert r.exit_code == 0 and "0 fitted, 8 unchanged" in r.output


def test_run_bad_usage_and_user_errors(bids, tmp_path):
    r = runner.invoke(app, ["run", str(bids), str(tmp_path / "o"), "everything"])
    assert r.exit_code == 2
    r = runner.invoke(app, ["run", str(tmp_path / "missing"), str(tmp_path / "o")])
    assert r.exit_code == 1 and "is not a folder" in r.output
    for args, option in ((["--onset", "mri"], "--onset"), (["--backend", "torch"], "--backend"),
                         (["--early-months", "-3"], "--early-months")):
        r = runner.invoke(app, ["run", str(bids), str(tmp_path / "o"), *args])
        assert r.exit_code == 2 and option in r.output, r.output
    r = runner.invoke(app, ["run", str(bids), str(tmp_path / "o"), "--basis", "nosuch"])
    assert r.exit_code == 1 and "--basis nosuch: no such file or folder" in r.output
    assert not (tmp_path / "o" / "group").exists()
    empty = tmp_path / "empty_bids"
    empty.mkdir()
    r = runner.invoke(app, ["run", str(empty), str(tmp_path / "e"), "--no-reports"])
    assert r.exit_code == 1, r.output


def test_run_config_file(bids, tmp_path):
    """--config sets the study options (recorded in the run log); a CLI option overrides its table."""
    cfg = tmp_path / "study.toml"
    cfg.write_text('[stages]\nonset = "diagnosis"\nearly_months = 12\n[stats]\nunit = "patient"\n'
                   '[qc]\ncrlb_max = 25\n[preprocess]\nwater_removal = false\n')
    out = tmp_path / "o"
    r = runner.invoke(app, ["run", str(bids), str(out), "--no-reports", "--config", str(cfg), "--early-months", "15"])
    assert r.exit_code == 0, r.output
    log = json.loads(next((out / "logs").glob("run-*_all.json")).read_text())
    o = log["options"]
    assert o["stage"]["onset"] == "diagnosis" and o["stage"]["early_months"] == 15.0
    assert o["stats"]["unit"] == "patient" and o["qc"]["crlb_max"] == 25
    assert o["preprocess"]["water_removal"] is False and o["preprocess"]["phase"] is False  # before_fit kept
    cfg.write_text("[stage]\nonset = 'diagnosis'\n")
    r = runner.invoke(app, ["run", str(bids), str(tmp_path / "o2"), "--config", str(cfg)])
    assert r.exit_code == 1 and "unknown table(s) or key(s) ['stage']" in " ".join(r.output.split())


def test_run_with_explicit_db_url(bids, tmp_path):
    db = tmp_path / "elsewhere.db"
    r = runner.invoke(app, ["run", str(bids), str(tmp_path / "o"), "participant", "--no-reports", "--db",
                            f"sqlite:///{db}"])
    assert r.exit_code == 0, r.output
    assert db.exists() and not (tmp_path / "o" / "pmlmrs.db").exists()


def test_vendor_names_do_not_reach_bids_or_derivatives(bids, tmp_path):
    """Vendor folders and files named after the patient: the imported NIfTI-MRS and everything `run`
    writes from them (JSON, TSV, database, caches) name only the pseudonymous BIDS files."""
    import gzip

    folder = tmp_path / "vendor" / "Mueller_Hans_1961-05-02"
    folder.mkdir(parents=True)
    for voi in ("lesion", "nawm"):
        src = next(bids.glob(f"sub-01/ses-01/mrs/*voi-{voi}_svs.nii.gz"))
        (folder / f"MUELLER_HANS_{voi}.nii.gz").write_bytes(src.read_bytes())
    mapping = tmp_path / "map.tsv"
    mapping.write_text("file\tparticipant_id\tsession_id\tvoi\tacq_time\n" + "".join(
        f"Mueller_Hans_1961-05-02/MUELLER_HANS_{voi}.nii.gz\tsub-P1\tses-1\t{voi}\t2015-03-02\n"
        for voi in ("lesion", "nawm")))
    new = tmp_path / "bids"
    assert runner.invoke(app, ["import", str(tmp_path / "vendor"), str(mapping), str(new)]).exit_code == 0
    out = tmp_path / "deriv"
    r = runner.invoke(app, ["run", str(new), str(out), "participant", "--no-reports"])
    assert r.exit_code == 0, r.output
    files = [p for root in (new, out) for p in root.rglob("*") if p.is_file()]
    assert len(files) > 8
    for p in files:
        raw = p.read_bytes()
        text = (gzip.decompress(raw) if p.suffix == ".gz" else raw).decode("latin-1").lower()
        for word in ("mueller", "hans", "1961-05-02"):
            assert word not in text, (p, word)


def test_import_vendor_files(bids, tmp_path):
    vendor = tmp_path / "vendor"
    vendor.mkdir()
    srcs = sorted(bids.glob("sub-01/ses-01/mrs/*.nii.gz"))
    for s in srcs:
        (vendor / s.name.replace("sub-01_ses-01_acq-press_", "scan_")).write_bytes(s.read_bytes())
    mapping = tmp_path / "map.tsv"
    mapping.write_text(
        "file\tparticipant_id\tsession_id\tvoi\tref_file\tacq\tacq_time\n"
        "scan_voi-lesion_svs.nii.gz\tA1\t1\tlesion\tscan_voi-lesion_mrsref.nii.gz\tpress\t2015-03-02T09:30:00\n"
        "scan_voi-nawm_svs.nii.gz\tsub-A1\tses-1\tnawm\tn/a\tpress\t2015-03-02\n"
        "scan_voi-nawm_svs.nii.gz\tsub-A1\tses-1\tcortex\t\t\t\n"
        "missing.dat\tsub-A2\tses-1\tlesion\t\t\t\n"
        "scan_voi-lesion_svs.nii.gz\tsub-A1\tses-1\tnawm\t\tpress\t\n"
        "../map.tsv\tsub-A3\tses-1\tlesion\t\t\t\n")
    out = tmp_path / "newbids"
    r = runner.invoke(app, ["import", str(vendor), str(mapping), str(out)])
    assert r.exit_code == 1, r.output  # rows were skipped; the good ones are written
    assert "wrote 3 NIfTI-MRS file(s)" in r.output
    assert "row 3, column 'voi'" in r.output and "row 4, column 'file'" in r.output
    text = " ".join(r.output.split())
    assert "row 2 already maps a file to sub-A1_ses-1_acq-press_voi-nawm_svs" in text  # not overwritten
    assert "'../map.tsv' is not a path inside the vendor folder" in text
    mrs = out / "sub-A1" / "ses-1" / "mrs"
    assert sorted(p.name for p in mrs.iterdir()) == [
        "sub-A1_ses-1_acq-press_voi-lesion_mrsref.nii.gz", "sub-A1_ses-1_acq-press_voi-lesion_svs.nii.gz",
        "sub-A1_ses-1_acq-press_voi-nawm_svs.nii.gz"]
    assert (out / "dataset_description.json").exists()
    assert "sub-A1" in (out / "participants.tsv").read_text()
    assert "ses-1\t2015-03-02T09:30:00" in (out / "sub-A1" / "sub-A1_sessions.tsv").read_text()  # time kept
    from pmlmrs.study.bids import discover

    study = discover(out)
    assert [e.key for e in study.exams] == ["sub-A1/ses-1"]


def test_subprocess_smoke(bids, tmp_path):
    out = tmp_path / "o"
    proc = subprocess.run([sys.executable, "-m", "pmlmrs.cli.main", "run", str(bids), str(out), "participant",
                           "--no-reports"], capture_output=True, text=True, check=True, timeout=300)
    assert "8 fitted" in proc.stdout


def test_unreachable_scheduler_writes_nothing(bids, tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr("pmlmrs.parallel.executor.CONNECT_TIMEOUT_S", 1.0)
    out = tmp_path / "o"
    r = runner.invoke(app, ["run", str(bids), str(out), "--scheduler", "tcp://127.0.0.1:1", "--no-reports"])
    assert r.exit_code == 1 and "cannot connect to the Dask scheduler" in r.output, r.output
    assert not out.exists()
