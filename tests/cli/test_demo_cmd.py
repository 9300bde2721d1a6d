"""``pmlmrs demo`` on a small cohort (the full demo is `make demo`)."""

from __future__ import annotations

from typer.testing import CliRunner

from pmlmrs.cli.main import app

runner = CliRunner()


def test_demo_small_cohort(tmp_path):
    out = tmp_path / "demo"
    r = runner.invoke(app, ["demo", str(out), "--patients", "3", "--workers", "1"])
    assert r.exit_code == 0, r.output
    assert "demo cohort: 3 patients, 5 exams, 10 voxels" in r.output
    assert "cohort report:" in r.output
    report = out / "derivatives" / "group" / "report.html"
    assert report.exists() and str(report) in r.output.replace("\n", "")
    assert (out / "bids" / "participants.tsv").exists()
    r = runner.invoke(app, ["demo", str(out), "--patients", "3", "--workers", "1"])
    assert r.exit_code == 1 and "--force" in r.output
    r = runner.invoke(app, ["demo", str(out), "--patients", "3", "--workers", "1", "--force"])
    assert r.exit_code == 0, r.output
    assert "0 fitted, 10 unchanged" in r.output
