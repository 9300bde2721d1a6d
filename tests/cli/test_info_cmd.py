"""``pmlmrs info`` and ``pmlmrs convert``: in-process with CliRunner, plus one subprocess smoke test."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pmlmrs.cli._common import state
from pmlmrs.cli.main import app
from pmlmrs.errors import ReadError
from pmlmrs.io import load

TEST_DATA = Path(__file__).resolve().parents[1] / "data"
RDA = TEST_DATA / "siemens" / "SVS_30.rda"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _reset_debug() -> None:
    state["debug"] = False
    yield
    state["debug"] = False


def _info_json(path: Path, *extra: str) -> dict:
    res = runner.invoke(app, ["info", str(path), "--json", *extra])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_info_table() -> None:
    res = runner.invoke(app, ["info", str(RDA)])
    assert res.exit_code == 0, res.output
    out = res.stdout
    for text in ("siemens_rda", "123.234655 MHz", "1024", "30 ms", "2000 ms", "4.65 ppm", "20 x 40 x 20 mm",
                 "*svs_se", "provenance", "read"):
        assert text in out, text
    assert "445" not in out  # the RDA's PatientName never shows


def test_info_json_values() -> None:
    d = _info_json(RDA)
    assert d["format"] == "siemens_rda"
    assert d["spectrometer_frequency_mhz"] == pytest.approx(123.234655)
    assert d["spectral_width_hz"] == pytest.approx(1200.48, abs=0.01)
    assert d["n_points"] == 1024 and d["dims"] == {}
    assert d["echo_time_ms"] == pytest.approx(30) and d["repetition_time_ms"] == pytest.approx(2000)
    assert d["field_strength_t"] == pytest.approx(2.894, abs=0.01)
    assert d["voxel_size_mm"] == pytest.approx([20, 40, 20], abs=0.01)
    assert d["manufacturer"] == "Siemens"
    assert d["provenance"][0]["name"] == "read"


# Every data file in shared/data/invivo: (relative path, format, MHz, SW, points, dims, TE ms, TR ms)
INVIVO = [
    ("philips_sdat/osprey_press_te35/sub-01_PRESS_35_act.sdat", "philips_sdat", 127.750896, 2000, 2048, {}, 35, 2000),
    ("philips_sdat/osprey_press_te35/sub-01_PRESS_35_ref.spar", "philips_sdat", 127.750896, 2000, 2048, {}, 35, 2000),
    ("philips_sdat/osprey_press_te35/sub-02_PRESS_35_act.sdat", "philips_sdat", 127.75069, 2000, 2048, {}, 35, 2000),
    ("philips_sdat/osprey_press_te35/sub-02_PRESS_35_ref.sdat", "philips_sdat", 127.75069, 2000, 2048, {}, 35, 2000),
    ("philips_sdat/osprey_press_te30_mm/sub-01_ses-01_PRESS_raw-act_noID.SDAT", "philips_sdat", 127.755264, 2000,
     2048, {}, 30, 2000),
    ("philips_sdat/osprey_press_te30_mm/sub-01_ses-01_PRESS_raw-ref_noID.SDAT", "philips_sdat", 127.755264, 2000,
     2048, {}, 30, 2000),
    ("philips_sdat/osprey_press_te30_mm/sub-01_ses-01_PRESS-Inverted_TI-600_raw-act_noID.SDAT", "philips_sdat",
     127.755224, 2000, 2048, {}, 30, 2000),
    ("philips_sdat/osprey_press_te30_mm/sub-01_ses-01_PRESS-Inverted_TI-600_raw-ref_noID.SDAT", "philips_sdat",
     127.755224, 2000, 2048, {}, 30, 2000),
    ("philips_sdat/osprey_press_te30_mm/sub-02_ses-01_PRESS_raw-act_noID.SDAT", "philips_sdat", 127.755472, 2000,
     2048, {}, 30, 2000),
    ("philips_sdat/osprey_press_te30_mm/sub-02_ses-01_PRESS_raw-ref_noID.SDAT", "philips_sdat", 127.755472, 2000,
     2048, {}, 30, 2000),
    ("philips_sdat/osprey_press_te30_mm/sub-02_ses-01_PRESS-Inverted_TI-600_raw-act_noID.SDAT", "philips_sdat",
     127.755456, 2000, 2048, {}, 30, 2000),
    ("philips_sdat/osprey_press_te30_mm/sub-02_ses-01_PRESS-Inverted_TI-600_raw-ref_noID.SDAT", "philips_sdat",
     127.755456, 2000, 2048, {}, 30, 2000),
    ("philips_sdat/spant_phantom_press_te30/philips_spar_sdat_WS.SDAT", "philips_sdat", 127.786142, 2000, 1024, {},
     30, 2000),
    ("philips_sdat/spant_phantom_press_te30/philips_spar_sdat_W.SDAT", "philips_sdat", 127.786142, 2000, 1024, {},
     30, 2000),
    ("siemens_rda/SVS_30.rda", "siemens_rda", 123.234655, 1200.48, 1024, {}, 30, 2000),
    ("siemens_dicom/SVS_30.IMA", "siemens_dicom", 123.234655, 1199.90, 1024, {"dyn": 1}, 30, 2000),
    ("siemens_dicom/SVS_XA60.dcm", "siemens_dicom", 123.255089, 1199.90, 1024, {"dyn": 1}, 30, 2000),
    ("philips_dicom/MRSshortTELN_401_IM-0001-0002.dcm", "philips_dicom", 63.89575, 1000.0, 1024, {}, 31.9136, 2000),
    ("nifti_mrs/sub-01_ses-01_SVS-ref.nii.gz", "nifti_mrs", 297.219948, 6002.4, 2048, {"coil": 32}, 11, 5000),
]


@pytest.mark.parametrize("rel, fmt, mhz, sw, n, dims, te, tr", INVIVO, ids=[Path(r[0]).name for r in INVIVO])
def test_info_every_invivo_file(invivo: Path, rel: str, fmt: str, mhz: float, sw: float, n: int, dims: dict,
                                te: float, tr: float) -> None:
    d = _info_json(invivo / rel)
    assert d["format"] == fmt
    assert d["spectrometer_frequency_mhz"] == pytest.approx(mhz, abs=1e-6)
    assert d["spectral_width_hz"] == pytest.approx(sw, abs=0.05)
    assert d["n_points"] == n and d["dims"] == dims
    assert d["echo_time_ms"] == pytest.approx(te, abs=1e-3) and d["repetition_time_ms"] == pytest.approx(tr)
    text = json.dumps(d)
    for key in ("PatientName", "PatientDoB", "PatientID"):
        assert key not in text


def test_info_lcmodel_raw(invivo: Path) -> None:
    """LCModel RAW is another reader's job; ``info`` just goes through pmlmrs.io.load."""
    d = _info_json(invivo / "lcmodel_raw" / "lcmodel_test_data.raw")
    assert d["format"] == "lcmodel_raw" and d["n_points"] == 1024


def test_convert_and_force(tmp_path: Path) -> None:
    out = tmp_path / "svs30.nii.gz"
    res = runner.invoke(app, ["convert", str(RDA), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert out.exists() and "wrote" in res.stdout
    s = load(out)
    assert s.header.spectrometer_frequency == pytest.approx(123.234655) and s.n_points == 1024
    again = runner.invoke(app, ["convert", str(RDA), "-o", str(out)])
    assert again.exit_code == 1
    assert again.stderr.strip().count("\n") == 0 and "exists" in again.stderr and "--force" in again.stderr
    forced = runner.invoke(app, ["convert", str(RDA), "-o", str(out), "--force", "--central-frequency", "123.2",
                                 "--echo-time", "35", "--spectral-width", "1200"])
    assert forced.exit_code == 0, forced.output
    s2 = load(out)
    assert s2.header.spectrometer_frequency == 123.2 and s2.header.echo_time == pytest.approx(0.035)
    assert s2.header.spectral_width == pytest.approx(1200.0, rel=1e-6)
    assert any(p.name == "override_header" for p in s2.provenance)


def test_convert_with_format(tmp_path: Path) -> None:
    odd = tmp_path / "scan.txt"
    shutil.copyfile(RDA, odd)
    out = tmp_path / "o.nii.gz"
    res = runner.invoke(app, ["convert", str(odd), "-o", str(out), "--format", "siemens_rda"])
    assert res.exit_code == 0, res.output
    assert load(out).n_points == 1024


def test_errors_are_one_line(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["info", str(tmp_path / "nope.rda")])
    assert missing.exit_code == 1
    assert missing.stderr.startswith("error: ") and "nope.rda" in missing.stderr
    assert missing.stderr.strip().count("\n") == 0 and "Traceback" not in missing.stderr
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00junk" * 20)
    res = runner.invoke(app, ["info", str(junk)])
    assert res.exit_code == 1 and "junk.bin" in res.stderr and "cannot work out the file type" in res.stderr
    trunc = tmp_path / "t.rda"
    trunc.write_bytes(RDA.read_bytes()[:9000])
    res = runner.invoke(app, ["info", str(trunc)])
    assert res.exit_code == 1 and "t.rda" in res.stderr and res.stderr.strip().count("\n") == 0
    bad_fmt = runner.invoke(app, ["info", str(RDA), "--format", "nope"])
    assert bad_fmt.exit_code == 2 and "'nope' is not a reader" in bad_fmt.output  # bad usage


def test_debug_shows_traceback(tmp_path: Path) -> None:
    res = runner.invoke(app, ["--debug", "info", str(tmp_path / "nope.rda")])
    assert res.exit_code == 1
    assert isinstance(res.exception, ReadError)  # propagated, so the traceback is shown


def test_bad_usage_exit_2(tmp_path: Path) -> None:
    assert runner.invoke(app, ["info"]).exit_code == 2
    assert runner.invoke(app, ["info", str(RDA), "--no-such-option"]).exit_code == 2
    assert runner.invoke(app, ["convert", str(RDA)]).exit_code == 2  # -o is required
    res = runner.invoke(app, ["convert", str(RDA), "-o", str(tmp_path / "o.nii.gz"), "--spectral-width", "-5"])
    assert res.exit_code == 2 and "--spectral-width" in res.output and not (tmp_path / "o.nii.gz").exists()


def test_folder_and_own_input_are_clear_errors(tmp_path: Path) -> None:
    folder = tmp_path / "scan.nii.gz"
    folder.mkdir()
    res = runner.invoke(app, ["info", str(folder)])
    assert res.exit_code == 1 and "is a folder" in res.stderr
    copy = tmp_path / "svs.nii.gz"
    assert runner.invoke(app, ["convert", str(RDA), "-o", str(copy)]).exit_code == 0
    before = copy.read_bytes()
    res = runner.invoke(app, ["convert", str(copy), "-o", str(copy), "--force"])
    assert res.exit_code == 1 and "is the input file" in res.stderr and copy.read_bytes() == before
    basis = Path(__file__).resolve().parents[1] / "data" / "basis" / "lcmodel_test_3t.basis"
    res = runner.invoke(app, ["convert", str(basis), "-o", str(tmp_path / "b.nii.gz")])
    assert res.exit_code == 1 and "is a basis set (lcmodel_basis), not a spectrum" in res.stderr


def _console_script() -> str:
    candidate = Path(sys.executable).parent / "pmlmrs"
    found = str(candidate) if candidate.exists() else shutil.which("pmlmrs")
    if found is None:
        pytest.skip("the pmlmrs console script is not installed")
    return found


def test_console_script_smoke(tmp_path: Path) -> None:
    exe = _console_script()
    res = subprocess.run([exe, "info", str(RDA), "--json"], check=True, capture_output=True, text=True, timeout=120)
    assert json.loads(res.stdout)["n_points"] == 1024
    out = tmp_path / "x.nii.gz"
    subprocess.run([exe, "convert", str(RDA), "-o", str(out)], check=True, capture_output=True, timeout=120)
    assert out.exists()
    fail = subprocess.run([exe, "info", str(tmp_path / "missing.rda")], capture_output=True, text=True, timeout=120)
    assert fail.returncode == 1 and "missing.rda" in fail.stderr and "Traceback" not in fail.stderr


def test_info_lcmodel_basis_file() -> None:
    """A .BASIS file: header values from its $BASIS1 namelist and every metabolite (LCModel test basis)."""
    d = _info_json(TEST_DATA / "basis" / "lcmodel_test_3t.basis")
    assert d["kind"] == "basis" and d["format"] == "lcmodel_basis"
    assert d["spectrometer_frequency_mhz"] == pytest.approx(127.7861, abs=1e-4)
    assert d["n_points"] == 1024 and d["dwell_time_s"] == pytest.approx(5e-4)
    assert d["n_metabolites"] == 17 and {"NAA", "Cr", "PCho", "Ins", "sIns"} <= set(d["metabolites"])


def test_info_lcmodel_control_file() -> None:
    """An LCModel control file: the data-describing values of its $LCMODL namelist."""
    d = _info_json(TEST_DATA / "lcmodel" / "lcmodel_test_control.file")
    assert d["kind"] == "control"
    assert d["spectrometer_frequency_mhz"] == pytest.approx(127.786142)
    assert d["spectral_width_hz"] == pytest.approx(2000.0) and d["n_points"] == 1024


def test_info_basis_folder_table(tmp_path: Path) -> None:
    """A folder holding a basis set prints as a table; an unrelated folder stays an error."""
    from pmlmrs.basis import load_basis, save_basis

    save_basis(load_basis(TEST_DATA / "basis" / "lcmodel_test_3t.basis"), tmp_path / "b")
    res = runner.invoke(app, ["info", str(tmp_path / "b")])
    assert res.exit_code == 0, res.output
    assert "NAA" in res.output and "basis" in res.output
    (tmp_path / "empty").mkdir()
    res = runner.invoke(app, ["info", str(tmp_path / "empty")])
    assert res.exit_code == 1
