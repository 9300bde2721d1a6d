"""``pmlmrs basis simulate``: in-process with CliRunner (round trip through load_basis), one subprocess run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from pmlmrs.basis import load_basis
from pmlmrs.basis.simulate import simulate_basis
from pmlmrs.cli._common import state
from pmlmrs.cli.main import app

runner = CliRunner()
ARGS = ["basis", "simulate", "--sequence", "press", "--te", "30", "--te1", "11", "--frequency", "123.2",
        "--points", "1024", "--spectral-width", "4000"]


@pytest.fixture(autouse=True)
def _reset_debug() -> None:
    state["debug"] = False
    yield
    state["debug"] = False


def test_round_trip_npz(tmp_path: Path) -> None:
    out = tmp_path / "basis"
    res = runner.invoke(app, [*ARGS, "-o", str(out), "--metabolites", "NAA,Cr,Lac,PCh"])
    assert res.exit_code == 0, res.output
    assert "wrote 4 metabolites" in res.stdout
    b = load_basis(out)
    assert b.names == ("NAA", "Cr", "Lac", "PCho")
    assert b.spectrometer_frequency == pytest.approx(123.2) and b.n_points == 1024
    assert b.dwell_time == pytest.approx(1 / 4000) and b.echo_time == pytest.approx(0.030)
    assert b.ppm_reference == pytest.approx(4.65)
    assert b.meta["sequence"] == "PRESS" and b.meta["te1_ms"] == pytest.approx(11)
    assert b.meta["te2_ms"] == pytest.approx(19) and b.meta["source"].startswith("pmlmrs simulate v")
    assert not b.meta["ppm_check"]["corrected"]
    ref = simulate_basis("press", 0.030, te1=0.011, spectrometer_frequency=123.2, n_points=1024,
                         spectral_width=4000.0, metabolites=["NAA", "Cr", "Lac", "PCho"])
    np.testing.assert_allclose(b.fids, ref.fids, rtol=0, atol=1e-12)
    assert b.peak_ppm("Cr", 2.9, 3.1) == pytest.approx(3.027, abs=0.005)


def test_refuses_existing_folder_without_force(tmp_path: Path) -> None:
    out = tmp_path / "basis"
    out.mkdir()
    (out / "keep.txt").write_text("user file\n")
    res = runner.invoke(app, [*ARGS, "-o", str(out), "-m", "Cr"])
    assert res.exit_code == 1
    assert "exists" in res.stderr and "--force" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    res = runner.invoke(app, [*ARGS, "-o", str(out), "-m", "Cr", "--force"])
    assert res.exit_code == 0, res.output
    assert (out / "keep.txt").exists() and load_basis(out).names == ("Cr",)


def test_steam_fsl_format(tmp_path: Path) -> None:
    out = tmp_path / "fsl"
    res = runner.invoke(app, ["basis", "simulate", "--sequence", "steam", "--te", "20", "--tm", "15",
                              "--frequency", "297.2", "--points", "512", "--spectral-width", "6000",
                              "-o", str(out), "-m", "NAA,Glu", "--format", "fsl", "--linewidth", "2"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.glob("*.json")) == ["Glu.json", "NAA.json"]
    b = load_basis(out)
    assert set(b.names) == {"NAA", "Glu"} and b.spectrometer_frequency == pytest.approx(297.2)
    assert b.echo_time == pytest.approx(0.020) and b.n_points == 512
    ref = simulate_basis("steam", 0.020, tm=0.015, spectrometer_frequency=297.2, n_points=512,
                         spectral_width=6000.0, metabolites=["NAA", "Glu"], linewidth_hz=2.0)
    for name in ref.names:
        np.testing.assert_allclose(b.fid(name), ref.fid(name), rtol=0, atol=1e-12)
    assert b.fid("NAA")[0].real > 3.0      # acetyl singlet (3) plus the in-phase part of the aspartate


@pytest.mark.parametrize("extra, message", [
    (["--metabolites", "NAA,Foo"], "Foo"),
    (["--te2", "30"], "TE1 + TE2"),
    (["--tm", "10"], "STEAM"),
])
def test_user_errors_exit_1_with_one_line(tmp_path: Path, extra: list[str], message: str) -> None:
    args = [*ARGS, "-o", str(tmp_path / "b")]
    if extra[0] == "--sequence":
        args[args.index("--sequence") + 1] = extra[1]
    else:
        args += extra
    res = runner.invoke(app, args)
    assert res.exit_code == 1, res.output
    assert message in res.stderr and res.stderr.startswith("error:")
    assert len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "b").exists()


def test_unwritable_output_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = runner.invoke(app, [*ARGS, "-o", str(blocker / "sub" / "b"), "-m", "Cr"])
    assert res.exit_code == 1 and "cannot write the basis" in res.stderr and "unexpected" not in res.stderr


def test_missing_option_is_usage_error(tmp_path: Path) -> None:
    res = runner.invoke(app, ["basis", "simulate", "--sequence", "press", "-o", str(tmp_path / "b")])
    assert res.exit_code == 2


@pytest.mark.parametrize("option, value, message", [
    ("--sequence", "spin-echo", "'spin-echo' is not one of press, steam, slaser, fid"),
    ("--te", "1e6", "must be 0 to 1000 ms, got 1e+06"),   # the CLI takes ms: no message about seconds
    ("--te", "nan", "must be 0 to 1000 ms"),
    ("--format", "lcm", "'lcm' is not one of npz, fsl"),
])
def test_bad_option_values_are_usage_errors(tmp_path: Path, option: str, value: str, message: str) -> None:
    args = [*ARGS, "-o", str(tmp_path / "b")]
    if option in args:
        args[args.index(option) + 1] = value
    else:
        args += [option, value]
    res = runner.invoke(app, args)
    assert res.exit_code == 2 and message in " ".join(res.output.replace("│", " ").split()), res.output
    assert not (tmp_path / "b").exists()


def test_subprocess_smoke(tmp_path: Path) -> None:
    out = tmp_path / "b"
    subprocess.run([sys.executable, "-m", "pmlmrs.cli.main", "basis", "simulate", "--sequence", "slaser",
                    "--te", "35", "--frequency", "123.2", "--points", "1024", "--spectral-width", "2000",
                    "-o", str(out), "-m", "Cr"], check=True, capture_output=True, text=True)
    b = load_basis(out)
    assert b.names == ("Cr",) and b.meta["sequence"] == "sLASER"
