"""``pmlmrs fit``: outputs (summary.tsv, fit.json, report.html), error rows, --force, water scaling, basis checks.

Data: synthetic spectra with known truth made from the bundled ISMRM-2016 basis (no ../shared needed).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from pmlmrs.basis import bundled_basis, save_basis
from pmlmrs.cli._common import state
from pmlmrs.cli.main import app
from pmlmrs.core import Header, Spectrum
from pmlmrs.fit.synthetic import synthesize
from pmlmrs.io import save
from pmlmrs.quant import PURE_WATER_MM, file_sha256, read_summary_tsv

runner = CliRunner()
#: concentrations (mM) of the synthetic white-matter spectrum
TRUTH = {"NAA": 8.0, "NAAG": 1.5, "Cr": 3.5, "PCr": 2.5, "GPC": 1.2, "PCho": 0.5, "Ins": 4.0, "Glu": 6.0,
         "Gln": 2.0, "GSH": 1.0, "Tau": 1.0, "Mac": 1.0}
R_MET = math.exp(-30 / 160)  # QuantOptions default metabolite T2 160 ms at TE 30 ms
W_EFF = 0.65 * PURE_WATER_MM * math.exp(-30 / 80)  # default: white matter, water T2 80 ms


@pytest.fixture(autouse=True)
def _reset_debug() -> None:
    state["debug"] = False
    yield
    state["debug"] = False


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("fitcmd")
    basis = bundled_basis()
    basis_dir = save_basis(basis, d / "basis")
    rng = np.random.default_rng(20170454)
    out = {"basis": basis_dir}
    amps = {k: v * R_MET for k, v in TRUTH.items()}  # the signal of these concentrations, per proton = 1
    for i in (1, 2):
        spec, _ = synthesize(basis, amps, snr=60.0, rng=rng, phase0_deg=10.0 * i)
        out[f"svs{i}"] = save(spec.replace(source=None), d / f"svs{i}.nii.gz")
    # water reference: 2 protons x attenuated water concentration, 5 Hz Lorentzian
    t = np.arange(basis.n_points) * basis.dwell_time
    hdr = Header(basis.spectrometer_frequency, basis.dwell_time, echo_time=0.030)
    water = Spectrum(2 * W_EFF * np.exp(-np.pi * 5.0 * t), hdr)
    out["water"] = save(water, d / "svs_ref.nii.gz")
    bad = d / "broken.nii.gz"
    bad.write_bytes(b"this is not a NIfTI file")
    out["bad"] = bad
    seven_t = Spectrum(spec.data, spec.header.replace(spectrometer_frequency=297.2, field_strength=None))
    out["7T"] = save(seven_t, d / "seven_tesla.nii.gz")
    out["zeros"] = save(Spectrum(np.zeros_like(spec.data), spec.header), d / "zeros.nii.gz")
    return out


def _fit(args: list[str]):
    return runner.invoke(app, ["fit", *[str(a) for a in args]])


def test_fit_outputs_and_error_row(files, tmp_path):
    outdir = tmp_path / "out"
    res = _fit([files["svs1"], files["bad"], files["svs2"], files["7T"], files["zeros"], "--basis", files["basis"],
                "-o", outdir])
    assert res.exit_code == 1, res.output  # some inputs failed: documented exit status 1
    assert "2 of 5" in res.stdout and "warning" in res.stderr
    df = read_summary_tsv(outdir / "summary.tsv")
    assert list(df["spectrum"]) == ["svs1", "broken", "svs2", "seven_tesla", "zeros"]
    assert "all zero" in df.loc[4, "error"]  # a fit-stage error: its row, the others written
    df = df.iloc[[0, 2, 1, 3]].reset_index(drop=True)
    assert list(df.columns[:1]) == ["spectrum"] and df.columns[-1] == "error"
    for col in ("NAA", "NAA_crlb", "tNAA", "tNAA_crlb", "tCr", "tCho", "Glx", "tNAA_tCr", "tCho_tCr", "tNAA_tCho",
                "Ins_tCr", "Glx_tCr", "Lip_tCr", "Lip09_tCr", "Lip13_tCr", "snr", "fwhm_ppm", "fit_quality", "qc_pass"):
        assert col in df.columns, col
    good = df.iloc[:2]
    assert (good["error"] == "").all() and good["qc_pass"].all()
    truth_ratio = (TRUTH["NAA"] + TRUTH["NAAG"]) / (TRUTH["Cr"] + TRUTH["PCr"])
    np.testing.assert_allclose(good["tNAA_tCr"], truth_ratio, rtol=0.05)
    np.testing.assert_allclose(good["tCho_tCr"], (1.2 + 0.5) / 6.0, rtol=0.08)
    np.testing.assert_allclose(good["snr"], 60.0, rtol=0.25)
    assert df.loc[2, "error"] and not df.loc[2, "qc_pass"] and math.isnan(df.loc[2, "tNAA"])
    assert "297" in df.loc[3, "error"] and "field" in df.loc[3, "error"]
    for name in ("svs1", "svs2"):
        doc = json.loads((outdir / name / "fit.json").read_text())
        assert doc["spectrum"] == name and doc["units"] == "basis units"
        assert doc["provenance"]["inputs"]["spectrum"]["sha256"] == file_sha256(files[name])
        assert doc["provenance"]["version"] and doc["provenance"]["options"]["fit"]["backend"] == "numpy"
        assert {q["name"] for q in doc["qc"]} >= {"snr", "linewidth", "crlb"}
        html = (outdir / name / "report.html").read_text()
        assert "<svg" in html and "Quality control" in html
    assert not (outdir / "broken").exists()


def test_all_inputs_failed_keeps_the_basis_columns(files, tmp_path):
    res = _fit([files["bad"], files["zeros"], "--basis", files["basis"], "-o", tmp_path / "o"])
    assert res.exit_code == 1
    df = read_summary_tsv(tmp_path / "o" / "summary.tsv")
    assert {"NAA", "NAA_crlb", "Cr", "Ins", "tNAA_tCr", "qc_pass", "error"} <= set(df.columns)
    assert df["NAA"].isna().all() and (df["error"] != "").all() and "all zero" in df.loc[1, "error"]


def test_refuses_existing_outputs_without_force(files, tmp_path):
    outdir = tmp_path / "out"
    args = [files["svs1"], "--basis", files["basis"], "-o", outdir, "--no-report"]
    assert _fit(args).exit_code == 0
    assert not (outdir / "svs1" / "report.html").exists()
    before = (outdir / "summary.tsv").read_text()
    res = _fit(args)
    assert res.exit_code == 1 and "--force" in res.stderr and "summary.tsv" in res.stderr
    assert (outdir / "summary.tsv").read_text() == before
    res = _fit(args + ["--force", "--ppm-range", "0.5", "4.0", "--no-lipids"])
    assert res.exit_code == 0, res.output
    doc = json.loads((outdir / "svs1" / "fit.json").read_text())
    assert doc["provenance"]["options"]["fit"]["ppm_range"] == [0.5, 4.0]
    assert doc["provenance"]["options"]["fit"]["lipids"] is False
    assert not any(c["name"].startswith("Lip") for c in doc["components"])


def test_summary_linewidth_is_the_one_qc_judged(files, tmp_path):
    """With a water reference the linewidth check judges the water FWHM: summary.tsv's fwhm_ppm is that
    value (not NAA's), so a linewidth failure is visible in the column that caused it."""
    from pmlmrs.io import load

    water = load(files["water"])
    t = np.arange(water.n_points) * water.dwell_time
    broad = save(water.replace(data=water.data * np.exp(-np.pi * 10.0 * t), source=None), tmp_path / "w15.nii.gz")
    outdir = tmp_path / "out"
    res = _fit([files["svs1"], "--basis", files["basis"], "--water", broad, "-o", outdir, "--no-report"])
    assert res.exit_code == 0, res.output
    df = read_summary_tsv(outdir / "summary.tsv")
    mhz = water.spectrometer_frequency
    assert df.loc[0, "fwhm_ppm"] == pytest.approx(15.0 / mhz, rel=0.1)  # 5 + 10 Hz Lorentzian
    assert not df.loc[0, "qc_pass"]  # > 0.1 ppm fails
    doc = json.loads((outdir / "svs1" / "fit.json").read_text())
    assert doc["fit"]["fwhm_ppm"] == pytest.approx(df.loc[0, "fwhm_ppm"], rel=1e-5)  # the TSV keeps 6 digits
    assert doc["fit"]["fwhm_naa_ppm"] < 0.07  # NAA itself is narrow
    (lw,) = [it for it in doc["qc"] if it["name"] == "linewidth"]
    assert lw["level"] == "fail" and lw["value"] == pytest.approx(doc["fit"]["fwhm_ppm"])


@pytest.mark.parametrize("text, message", [
    ("[fit]\nbogus_key = 3\n", "[fit]: unknown option(s) ['bogus_key']"),
    ("[qc]\ncrlb_max = -5\n", "[qc]: QC option 'crlb_max' must be > 0, got -5"),
    ("[fit]\nlipids = \"yes\"\n", "[fit]: option 'lipids' must be true or false"),
    ("[fitt]\nlipids = false\n", "unknown table(s) or key(s) ['fitt']"),
    ("[fit]\nppm_range = [4.0, 4.0]\n", "needs two different ppm values"),
])
def test_bad_config_file_is_named(files, tmp_path, text, message):
    """A --config error names the TOML file and its table, exits 1 and writes nothing."""
    cfg = tmp_path / "opts.toml"
    cfg.write_text(text)
    res = _fit([files["svs1"], "--basis", files["basis"], "-o", tmp_path / "o", "--config", cfg])
    assert res.exit_code == 1
    assert "opts.toml" in res.stderr and message in " ".join(res.stderr.split())
    assert "Traceback" not in res.output and not (tmp_path / "o").exists()


def test_force_leaves_no_outputs_the_new_summary_does_not_list(files, tmp_path):
    """--force with fewer inputs removes the dropped spectrum's outputs; a spectrum that now fails
    keeps no fit.json from before; files pmlmrs did not write stay."""
    outdir = tmp_path / "out"
    assert _fit([files["svs1"], files["svs2"], "--basis", files["basis"], "-o", outdir]).exit_code == 0
    (outdir / "svs1" / "notes.txt").write_text("mine")
    broken = tmp_path / "again" / "svs1.nii.gz"
    broken.parent.mkdir()
    broken.write_bytes(b"not NIfTI")
    res = _fit([broken, "--basis", files["basis"], "-o", outdir, "--force"])
    assert res.exit_code == 1
    df = read_summary_tsv(outdir / "summary.tsv")
    assert list(df["spectrum"]) == ["svs1"] and df.loc[0, "error"]
    assert not (outdir / "svs2").exists()
    assert not (outdir / "svs1" / "fit.json").exists() and not (outdir / "svs1" / "report.html").exists()
    assert (outdir / "svs1" / "notes.txt").read_text() == "mine"


def test_water_scaling_to_mm(files, tmp_path):
    outdir = tmp_path / "out"
    res = _fit([files["svs1"], "--basis", files["basis"], "--water", files["water"], "-o", outdir, "--voi", "nawm"])
    assert res.exit_code == 0, res.output
    df = read_summary_tsv(outdir / "summary.tsv")
    # known concentrations back within 5 % (tNAA, tCr: well determined at SNR 60)
    assert df.loc[0, "tNAA"] == pytest.approx(TRUTH["NAA"] + TRUTH["NAAG"], rel=0.05)
    assert df.loc[0, "tCr"] == pytest.approx(TRUTH["Cr"] + TRUTH["PCr"], rel=0.05)
    doc = json.loads((outdir / "svs1" / "fit.json").read_text())
    assert doc["units"] == "mM" and doc["concentration_scale"] > 0
    assert doc["provenance"]["inputs"]["water"]["sha256"] == file_sha256(files["water"])
    assert "plausibility" in {q["name"] for q in doc["qc"]}


def test_bad_usage(files, tmp_path):
    """Option values no input could use are bad usage: exit status 2 naming the option, nothing written."""
    base = [files["svs1"], "--basis", files["basis"], "-o", tmp_path / "o"]
    for extra, option in ((["--backend", "torch"], "--backend"), (["--voi", "brain"], "--voi"),
                          (["--central-frequency", "0"], "--central-frequency"),
                          (["--spectral-width", "-4000"], "--spectral-width"), (["--echo-time", "-30"], "--echo-time"),
                          (["--ppm-range", "2", "2"], "--ppm-range"), (["--ppm-range", "nan", "4"], "--ppm-range")):
        res = _fit(base + extra)
        assert res.exit_code == 2 and option in res.output, (extra, res.output)
    res = _fit([files["svs1"], files["svs2"], "--basis", files["basis"], "-o", tmp_path / "o",
                "--water", files["water"], "--water", files["water"], "--water", files["water"]])
    assert res.exit_code == 2 and "--water" in res.output
    # `--water a.H2O b.H2O` puts b.H2O among the spectra: refused instead of fitting a water FID as a spectrum
    h2o = tmp_path / "b.H2O"
    h2o.write_text("x")
    res = _fit([files["svs1"], h2o, "--basis", files["basis"], "-o", tmp_path / "o", "--water", files["water"]])
    assert res.exit_code == 2 and "b.H2O" in res.output and "--water" in res.output
    assert not (tmp_path / "o").exists()
    res = _fit([files["svs1"], "--basis", tmp_path / "no_such_basis", "-o", tmp_path / "o"])
    assert res.exit_code == 1 and "no_such_basis" in res.stderr


def test_averaged_spectrum_with_residual_water_is_preprocessed(files, tmp_path):
    """An averaged spectrum goes through preprocessing too (residual water removal, phasing): a water peak
    20 x NAA at 4.65 ppm no longer sets the noise and the fit; --no-preprocess fits the file as it is."""
    from pmlmrs.io import load

    svs = load(files["svs1"])
    t = np.arange(svs.n_points) * svs.header.dwell_time
    water = 20 * np.abs(svs.data).max() * np.exp(-np.pi * 6.0 * t)           # at the receiver, 4.65 ppm
    path = save(Spectrum(svs.data + water, svs.header), tmp_path / "wet.nii.gz")
    out = tmp_path / "out"
    res = _fit([path, files["svs1"], "--basis", files["basis"], "-o", out, "--no-report"])
    assert res.exit_code == 0, res.output
    df = read_summary_tsv(out / "summary.tsv")
    truth_ratio = (TRUTH["NAA"] + TRUTH["NAAG"]) / (TRUTH["Cr"] + TRUTH["PCr"])
    assert df.loc[0, "tNAA_tCr"] == pytest.approx(truth_ratio, rel=0.05)
    assert df.loc[0, "snr"] == pytest.approx(df.loc[1, "snr"], rel=0.15)      # the same data without the water
    doc = json.loads((out / "wet" / "fit.json").read_text())
    assert "water_removal" in [s["Method"] for s in doc["provenance"]["steps"]]
    res = _fit([path, "--basis", files["basis"], "-o", tmp_path / "raw", "--no-report", "--no-preprocess"])
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "raw" / "wet" / "fit.json").read_text())
    assert "water_removal" not in [s["Method"] for s in doc["provenance"]["steps"]]
    assert doc["provenance"]["options"]["cli"]["preprocess"] is False


def test_header_values_given_against_the_file_warn(files, tmp_path, caplog):
    """--echo-time replaces the file's own TE (the user's value wins) but says so on stderr."""
    with caplog.at_level("WARNING", logger="pmlmrs"):
        res = _fit([files["svs1"], "--basis", files["basis"], "-o", tmp_path / "o", "--no-report", "--echo-time", "80"])
    assert res.exit_code == 0, res.output
    assert "the file says echo time 30 ms; using the 80 ms given by the user" in caplog.text


def test_basis_for_another_echo_time_warns(files, tmp_path, caplog):
    """TE 35 ms data with the TE 30 ms basis are fitted, with a warning that names both echo times."""
    from pmlmrs.io import load

    svs = load(files["svs1"])
    path = save(svs.replace(header=svs.header.replace(echo_time=0.035), source=None), tmp_path / "te35.nii.gz")
    with caplog.at_level("WARNING", logger="pmlmrs"):
        res = _fit([files["svs1"], "--basis", files["basis"], "-o", tmp_path / "same", "--no-report"])
    assert res.exit_code == 0, res.output
    assert "but the basis" not in caplog.text
    with caplog.at_level("WARNING", logger="pmlmrs"):
        res = _fit([path, "--basis", files["basis"], "-o", tmp_path / "o", "--no-report"])
    assert res.exit_code == 0, res.output
    assert "echo time 35 ms but the basis" in caplog.text and "made for 30 ms" in caplog.text


def test_raw_multicoil_data_is_preprocessed(files, tmp_path):
    from pmlmrs.io import load

    rng = np.random.default_rng(7)
    svs = load(files["svs1"])
    n_coils, n_dyn = 4, 8
    sens = np.exp(1j * rng.uniform(-np.pi, np.pi, n_coils)) * rng.uniform(0.5, 1.0, n_coils)
    noise_sd = np.abs(svs.data).max() * 0.02
    raw = sens[:, None, None] * np.ones((1, n_dyn, 1)) * svs.data[None, None, :]
    raw = raw + noise_sd * (rng.normal(size=raw.shape) + 1j * rng.normal(size=raw.shape))
    raw_spec = Spectrum(raw, svs.header, dims=("coil", "dyn"))
    raw_path = save(raw_spec, tmp_path / "raw_svs.nii.gz")
    water = load(files["water"])
    raw_water = Spectrum(sens[:, None, None] * water.data[None, None, :] * np.ones((1, 2, 1)), water.header,
                         dims=("coil", "dyn"))
    water_path = save(raw_water, tmp_path / "raw_ref.nii.gz")
    outdir = tmp_path / "out"
    res = _fit([raw_path, "--basis", files["basis"], "--water", water_path, "-o", outdir, "--no-report"])
    assert res.exit_code == 0, res.output
    df = read_summary_tsv(outdir / "summary.tsv")
    assert df.loc[0, "spectrum"] == "raw_svs" and df.loc[0, "error"] == ""
    truth_ratio = (TRUTH["NAA"] + TRUTH["NAAG"]) / (TRUTH["Cr"] + TRUTH["PCr"])
    assert df.loc[0, "tNAA_tCr"] == pytest.approx(truth_ratio, rel=0.05)
    doc = json.loads((outdir / "raw_svs" / "fit.json").read_text())
    methods = [s["Method"] for s in doc["provenance"]["steps"]]
    assert "coil_combine" in methods, methods


def test_wrong_field_is_refused_before_preprocessing(files, tmp_path, monkeypatch):
    """Raw multi-coil data at another field strength gets the field error without being preprocessed
    (before, preprocessing ran first and a 7 T water FID failed there with 'unexpected LinAlgError')."""
    import pmlmrs.preprocess as pre
    from pmlmrs.io import load

    def no_preprocessing(*args, **kwargs):
        raise AssertionError("preprocess must not run for data the basis cannot fit")

    monkeypatch.setattr(pre, "preprocess", no_preprocessing)
    seven_t = load(files["7T"])
    raw = Spectrum(np.stack([seven_t.data, seven_t.data]), seven_t.header, dims=("coil",))
    path = save(raw, tmp_path / "raw_7t.nii.gz")
    res = _fit([path, "--basis", files["basis"], "-o", tmp_path / "out", "--no-report"])
    assert res.exit_code == 1
    df = read_summary_tsv(tmp_path / "out" / "summary.tsv")
    assert "297.200 MHz" in df.loc[0, "error"] and "different field strength" in df.loc[0, "error"]


def test_subprocess_smoke(files, tmp_path):
    import subprocess
    import sys

    outdir = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "pmlmrs.cli.main", "fit", str(files["svs1"]), "--basis",
                           str(files["basis"]), "-o", str(outdir), "--no-report"],
                          capture_output=True, text=True, timeout=300, check=True)
    assert "fitted 1 of 1" in proc.stdout
    assert (outdir / "summary.tsv").read_text().startswith("spectrum\t")


def test_outputs_name_no_input_folder_and_follow_the_qc_config(files, tmp_path):
    """Inputs in a folder named after a person: no output file holds the folder (fit.json keeps the file
    names and SHA-256, the error column the message); the report highlights CRLBs above the configured
    threshold, as its QC row judges them."""
    import shutil

    private = tmp_path / "priv" / "DOE_JOHN_19650312"
    private.mkdir(parents=True)
    spec = shutil.copy(files["svs1"], private / "DOE_JOHN_act.nii.gz")
    water = shutil.copy(files["water"], private / "DOE_JOHN_ref.nii.gz")
    broken = shutil.copy(files["bad"], private / "DOE_JOHN_broken.nii.gz")
    cfg = tmp_path / "cfg.toml"
    cfg.write_text("[qc]\ncrlb_max = 5\n")
    outdir = tmp_path / "out"
    res = _fit([spec, broken, "--water", water, "--water", water, "--basis", files["basis"], "-o", outdir,
                "--config", cfg])
    assert res.exit_code == 1, res.output  # the broken input
    written = sorted(p for p in outdir.rglob("*") if p.is_file())
    assert len(written) == 3
    for p in written:
        text = p.read_text(encoding="utf-8")
        assert "DOE_JOHN_19650312" not in text and str(tmp_path) not in text, p
    df = read_summary_tsv(outdir / "summary.tsv")
    assert list(df["spectrum"]) == ["DOE_JOHN_act", "DOE_JOHN_broken"] and df.loc[1, "error"]
    doc = json.loads((outdir / "DOE_JOHN_act" / "fit.json").read_text())
    inputs = doc["provenance"]["inputs"]
    assert inputs["spectrum"] == {"path": "DOE_JOHN_act.nii.gz", "sha256": file_sha256(spec)}
    assert inputs["water"]["path"] == "DOE_JOHN_ref.nii.gz" and inputs["basis"]["path"] == files["basis"].name
    html = (outdir / "DOE_JOHN_act" / "report.html").read_text(encoding="utf-8")
    assert "rows above 5 % (the QC threshold used)" in html and "CRLB &gt; 5 % warn" in html
    above = [c["name"] for c in doc["components"] if c["amplitude"] > 0 and (c["crlb_percent"] or 0) > 5]
    assert above
    for n in above:
        assert f'<tr class="flagged"><td class="name">{n}</td>' in html, n


@pytest.mark.shared
def test_real_spectrum_without_measurable_snr_reads_na(tmp_path):
    """SVS_XA60 (a phantom) with the 35 ms Siemens basis: no NAA peak above the baseline. QC says SNR
    not measurable; summary.tsv, fit.json and the report say n/a (they printed about -10)."""
    from ..conftest import shared_path

    data = shared_path("invivo", "siemens_dicom", "SVS_XA60.dcm")
    basis = shared_path("invivo", "basis", "lcmodel", "3T_PRESS_Siemens_35ms_noMM.BASIS")
    res = _fit([data, "--basis", basis, "-o", tmp_path / "o"])
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "o" / "SVS_XA60" / "fit.json").read_text())
    assert next(q["message"] for q in doc["qc"] if q["name"] == "snr").startswith("SNR not measurable")
    assert doc["fit"]["snr"] is None
    assert "snr\t" in (tmp_path / "o" / "summary.tsv").read_text()
    assert math.isnan(read_summary_tsv(tmp_path / "o" / "summary.tsv").loc[0, "snr"])
    html = (tmp_path / "o" / "SVS_XA60" / "report.html").read_text(encoding="utf-8")
    assert "SNR n/a" in html and "SNR -" not in html


def test_bundled_basis_by_name(files, tmp_path):
    """``--basis ismrm2016_press_3T_30ms`` (no such file) is the bundled basis, as in ``pmlmrs run``:
    the same amplitudes as the saved copy, recorded by name and the bundled folder's SHA-256."""
    by_name = tmp_path / "named"
    by_path = tmp_path / "path"
    assert _fit([files["svs1"], "--basis", "ismrm2016_press_3T_30ms", "-o", by_name, "--no-report"]).exit_code == 0
    assert _fit([files["svs1"], "--basis", files["basis"], "-o", by_path, "--no-report"]).exit_code == 0
    a, b = read_summary_tsv(by_name / "summary.tsv"), read_summary_tsv(by_path / "summary.tsv")
    assert a["tNAA_tCr"].iloc[0] == pytest.approx(b["tNAA_tCr"].iloc[0], rel=1e-9)
    doc = json.loads((by_name / "svs1" / "fit.json").read_text())
    rec = doc["provenance"]["inputs"]["basis"]
    assert rec["path"] == "ismrm2016_press_3T_30ms" and rec["sha256"]
    bad = _fit([files["svs1"], "--basis", "no_such_basis", "-o", tmp_path / "bad", "--no-report"])
    assert bad.exit_code == 1 and "no_such_basis" in bad.output


def test_raw_keeps_its_frequency_when_the_dwell_time_comes_from_the_basis(files, tmp_path, caplog):
    """An LCModel RAW whose $SEQPAR gives HZPPPM but no dwell time takes only the dwell time (and the
    echo time it lacks) from the basis; its own frequency is kept."""
    from pmlmrs.io import load
    from pmlmrs.io.lcmodel import write_raw

    svs = load(files["svs1"])
    raw = write_raw(svs.replace(source=None), tmp_path / "hdr.RAW")
    text = raw.read_text().replace(f" HZPPPM = {svs.header.spectrometer_frequency:.9g},", " HZPPPM = 123.25,")
    text = "\n".join(line for line in text.splitlines() if "DELTAT" not in line and "ECHOT" not in line)
    raw.write_text(text + "\n")
    with caplog.at_level("WARNING", logger="pmlmrs"):
        res = _fit([raw, "--basis", files["basis"], "-o", tmp_path / "o", "--no-report"])
    assert res.exit_code == 0, res.output
    assert "no dwell time in the file; taking spectral width" in caplog.text
    assert "central frequency" not in caplog.text
    header = json.loads((tmp_path / "o" / "hdr" / "fit.json").read_text())["header"]
    assert header["spectrometer_frequency_mhz"] == pytest.approx(123.25)
    assert header["dwell_time_s"] == pytest.approx(svs.header.dwell_time)
    assert header["echo_time_s"] == pytest.approx(0.030)


def test_basis_folder_of_raw_fids_takes_the_read_options(files, tmp_path):
    """A basis given as a folder of LCModel RAW FIDs without header values is read with
    --central-frequency / --spectral-width (they had reached only the data)."""
    from pmlmrs.io.lcmodel import write_raw

    basis = bundled_basis()
    folder = tmp_path / "rawbasis"
    folder.mkdir()
    for name in basis.names:
        sp = Spectrum(np.asarray(basis.fid(name)), Header(basis.spectrometer_frequency, basis.dwell_time))
        p = write_raw(sp, folder / f"{name}.RAW")
        p.write_text("\n".join(line for line in p.read_text().splitlines()
                               if not line.strip().startswith(("HZPPPM", "DELTAT"))) + "\n")
    args = [files["svs1"], "--basis", folder, "--no-report"]
    res = _fit([*args, "-o", tmp_path / "without"])
    assert res.exit_code == 1 and "--central-frequency" in res.output
    res = _fit([*args, "-o", tmp_path / "with", "--central-frequency", basis.spectrometer_frequency,
                "--spectral-width", basis.spectral_width])
    assert res.exit_code == 0, res.output
    row = read_summary_tsv(tmp_path / "with" / "summary.tsv").iloc[0]
    truth = (TRUTH["NAA"] + TRUTH["NAAG"]) / (TRUTH["Cr"] + TRUTH["PCr"])
    assert row["tNAA_tCr"] == pytest.approx(truth, rel=0.05)


def test_data_read_options_do_not_replace_the_basis_header(files, tmp_path):
    """2000 Hz RAW data without a dwell time, fitted with --spectral-width 2000 against a basis
    folder whose sidecar says 4000 Hz: the option is the data's, the basis keeps its own grid (and
    is resampled), so the ratios are right (the option had replaced the basis's 4000 Hz)."""
    from pmlmrs.core import axes
    from pmlmrs.io import load
    from pmlmrs.io.lcmodel import write_raw

    svs = load(files["svs1"])
    n = svs.n_points
    spec = axes.fid_to_spectrum(svs.data)
    half = axes.spectrum_to_fid(spec[n // 4:3 * n // 4]) / 2          # the central 2000 Hz, 1024 points
    hdr = svs.header.replace(dwell_time=2 * svs.header.dwell_time)
    raw = write_raw(Spectrum(half, hdr), tmp_path / "sw2000.RAW")
    raw.write_text("\n".join(line for line in raw.read_text().splitlines() if "DELTAT" not in line) + "\n")
    res = _fit([raw, "--basis", files["basis"], "-o", tmp_path / "o", "--no-report", "--spectral-width", 2000])
    assert res.exit_code == 0, res.output
    row = read_summary_tsv(tmp_path / "o" / "summary.tsv").iloc[0]
    truth = (TRUTH["NAA"] + TRUTH["NAAG"]) / (TRUTH["Cr"] + TRUTH["PCr"])
    assert row["tNAA_tCr"] == pytest.approx(truth, rel=0.05)
