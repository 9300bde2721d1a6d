"""``pmlmrs preprocess``: in-process with CliRunner on synthetic NIfTI-MRS, plus a subprocess smoke test."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from pmlmrs.cli._common import state
from pmlmrs.cli.main import app
from pmlmrs.core import Header, Spectrum
from pmlmrs.io import load, save
from pmlmrs.preprocess._synthetic import lesion_like_svs

runner = CliRunner()


@pytest.fixture(autouse=True)
def _reset_debug():
    state["debug"] = False
    yield
    state["debug"] = False


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("pp")
    syn = lesion_like_svs(np.random.default_rng(7), n_coils=4, n_transients=16, n_points=1024,
                          corrupted=(5,), noise_sd=0.2)
    metab, water = d / "svs.nii.gz", d / "ref.nii.gz"
    save(syn.metab, metab)
    save(syn.water, water)
    return d, metab, water


def test_preprocess_writes_nifti_mrs(files):
    d, metab, water = files
    out, qc, fig = d / "out.nii.gz", d / "qc.json", d / "align.png"
    res = runner.invoke(app, ["preprocess", str(metab), "--water", str(water), "-o", str(out),
                              "--qc-json", str(qc), "--figure", str(fig), "--water-output", str(d / "w.nii.gz")])
    assert res.exit_code == 0, res.output
    assert "15/16 transients" in res.stdout and "1 rejected" in res.stdout
    s = load(out)
    assert s.dims == () and s.n_points == 1024
    names = [p.name for p in s.provenance]
    for step in ("coil_combine", "align", "reject_outliers", "average", "eddy_current_correction",
                 "water_removal", "phase_correct", "frequency_reference"):
        assert step in names
    report = json.loads(qc.read_text())
    assert [r["index"] for r in report["rejected"]] == [5]
    assert fig.stat().st_size > 1000 and load(d / "w.nii.gz").dims == ()

    again = runner.invoke(app, ["preprocess", str(metab), "-o", str(out)])
    assert again.exit_code == 1 and "exists" in again.output and "--force" in again.output
    forced = runner.invoke(app, ["preprocess", str(metab), "-o", str(out), "--force", "--no-align", "--no-ecc",
                                 "--no-water-removal", "--reference", "naa"])
    assert forced.exit_code == 0, forced.output
    names = [p.name for p in load(out).provenance]
    assert "align" not in names and "water_removal" not in names and "eddy_current_correction" not in names


def test_mismatched_water_is_a_one_line_error(files, tmp_path):
    d, metab, _ = files
    bad = tmp_path / "bad_ref.nii.gz"
    save(Spectrum(np.ones((4, 512), complex), Header(127.75, 5e-4), dims=("coil",)), bad)
    res = runner.invoke(app, ["preprocess", str(metab), "--water", str(bad), "-o", str(tmp_path / "o.nii.gz")])
    assert res.exit_code == 1
    assert "1024 vs 512 points" in res.output and "bad_ref.nii.gz" in res.output
    assert "Traceback" not in res.output
    usage = runner.invoke(app, ["preprocess", str(metab), "-o", str(tmp_path / "o.nii.gz"), "--reference", "lac"])
    assert usage.exit_code == 2 and "'lac' is not one of" in usage.output
    # --water-output without --water: bad usage found before anything is written
    usage = runner.invoke(app, ["preprocess", str(metab), "-o", str(tmp_path / "o.nii.gz"), "--water-output",
                                str(tmp_path / "w.nii.gz")])
    assert usage.exit_code == 2 and "needs --water" in usage.output and not (tmp_path / "o.nii.gz").exists()


def test_subprocess_smoke(files, tmp_path):
    _, metab, water = files
    out = tmp_path / "smoke.nii.gz"
    subprocess.run([sys.executable, "-m", "pmlmrs.cli.main", "preprocess", str(metab), "--water", str(water),
                    "-o", str(out)], check=True, capture_output=True, timeout=120)
    assert load(out).dims == ()
