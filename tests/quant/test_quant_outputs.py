"""summary.tsv rows and fit.json: the DESIGN.md output contract."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from _synthetic import make_result
from pmlmrs.errors import WriteError
from pmlmrs.qc import QCItem
from pmlmrs.quant import (
    RATIOS,
    error_row,
    file_sha256,
    source_sha256,
    read_fit_json,
    read_summary_tsv,
    scale_to_water,
    spectrum_name,
    summary_columns,
    summary_row,
    write_fit_json,
    write_summary_tsv,
)


@pytest.mark.parametrize("path, name", [
    ("/a/b/sub-01_svs.nii.gz", "sub-01_svs"), ("x/dataset1.RAW", "dataset1"), ("scan.SDAT", "scan"),
    ("noext", "noext"), ("v.1.dat", "v.1"), ("/d/meas.nii", "meas"),
])
def test_spectrum_name(path, name):
    assert spectrum_name(path) == name


def test_summary_row_columns(rng):
    r = make_result(rng)
    row = summary_row(r, "dataset1")
    assert list(row)[0] == "spectrum" and row["spectrum"] == "dataset1"
    for n in r.names:
        assert row[n] == pytest.approx(r.amplitude(n))
        assert row[f"{n}_crlb"] == pytest.approx(r.crlb_percent(n))
    for n in ("tNAA", "tCr", "tCho", "Glx", "Lip13", "Lip"):
        assert f"{n}_crlb" in row
    for n in RATIOS:
        assert n in row and f"{n}_sd" in row
    assert list(row)[-5:] == ["snr", "fwhm_ppm", "fit_quality", "qc_pass", "error"]
    assert row["qc_pass"] is True and row["error"] == ""
    assert row["fwhm_ppm"] == pytest.approx(6.0 / 123.2, rel=0.05)


def test_qc_pass_from_attached_items(rng):
    r = make_result(rng).replace(qc=(QCItem("fail", "linewidth", "too broad"),))
    assert summary_row(r, "x")["qc_pass"] is False


def test_write_and_read_summary(tmp_path, rng):
    r1 = make_result(rng)
    r2 = make_result(rng, names=("NAA", "Cr", "PCr", "GPC", "PCho", "Ins"))
    rows = [summary_row(r1, "a"), error_row("bad", "dataset3.RAW: cannot\tread\nthis"), summary_row(r2, "c")]
    p = write_summary_tsv(rows, tmp_path / "summary.tsv")
    with pytest.raises(WriteError, match="--force"):
        write_summary_tsv(rows, p)
    write_summary_tsv(rows, p, force=True)
    lines = p.read_text().splitlines()
    header = lines[0].split("\t")
    assert header == summary_columns(rows)
    assert header[0] == "spectrum" and header[-1] == "error"
    assert all(len(line.split("\t")) == len(header) for line in lines)
    df = read_summary_tsv(p)
    assert list(df["spectrum"]) == ["a", "bad", "c"]
    assert list(df["qc_pass"]) == [True, False, True]
    assert df.loc[1, "error"] == "dataset3.RAW: cannot read this"
    assert math.isnan(df.loc[1, "tNAA_tCr"]) and math.isnan(df.loc[2, "Lip_tCr"])
    assert df.loc[0, "NAA"] == pytest.approx(r1.amplitude("NAA"), rel=1e-5)
    assert df.loc[2, "Glu"] != df.loc[2, "Glu"]  # n/a where the component was not fitted


def test_fit_json(tmp_path, rng):
    src = tmp_path / "dataset1.RAW"
    src.write_bytes(b"not really raw data")
    r = scale_to_water(make_result(rng), 2.0e5)
    p = write_fit_json(r, tmp_path / "dataset1" / "fit.json", name="dataset1", input_path=src,
                       options={"quant": {"gm_fraction": 0.0}})
    doc = read_fit_json(p)
    assert doc["spectrum"] == "dataset1"
    assert doc["units"] == "mM" and doc["concentration_scale"] == pytest.approx(r.concentration_scale)
    assert doc["amplitudes"]["NAA"] == pytest.approx(r.amplitude("NAA"))
    assert doc["crlb_percent"]["Cr"] == pytest.approx(r.crlb_percent("Cr"))
    assert np.asarray(doc["covariance"]).shape == (len(r.names), len(r.names))
    assert doc["combinations"]["tNAA"]["members"] == ["NAA", "NAAG"]
    assert set(doc["ratios"]) == set(RATIOS)
    assert {it["name"] for it in doc["qc"]} >= {"convergence", "snr", "linewidth", "fit_quality", "crlb"}
    prov = doc["provenance"]
    assert prov["software"] == "pmlmrs" and prov["version"]
    assert prov["inputs"]["spectrum"]["sha256"] == file_sha256(src)
    assert prov["options"]["fit"]["backend"] == "numpy" and prov["options"]["quant"] == {"gm_fraction": 0.0}
    assert any(s["Method"] == "water_scaling" for s in prov["steps"])
    assert doc["parameters"]["lorentz_hz"]["metabolites"] == 6.0
    json.dumps(doc, allow_nan=False)  # strict JSON: no NaN/inf
    with pytest.raises(WriteError):
        write_fit_json(r, p, force=False)


def test_philips_header_is_hashed_with_the_data(tmp_path, rng):
    """The SPAR changes what an SDAT reads as: fit.json lists its hash, and the combined digest
    (the study cache key) changes when only the SPAR is edited."""
    sdat, spar, water = tmp_path / "scan.SDAT", tmp_path / "scan.SPAR", tmp_path / "scan_ref.sdat"
    sdat.write_bytes(b"data")
    spar.write_text("echo_time : 35\n")
    water.write_bytes(b"water")
    (tmp_path / "scan_ref.spar").write_text("echo_time : 35\n")
    doc = read_fit_json(write_fit_json(make_result(rng), tmp_path / "out" / "fit.json", input_path=sdat,
                                       water_path=water))
    inputs = doc["provenance"]["inputs"]
    assert inputs["spectrum"]["sha256"] == file_sha256(sdat)
    assert inputs["spectrum_spar"] == {"path": "scan.SPAR", "sha256": file_sha256(spar)}  # name only, no folder
    assert inputs["water_spar"]["sha256"] == file_sha256(tmp_path / "scan_ref.spar")
    before = source_sha256(sdat)
    assert before not in (file_sha256(sdat), file_sha256(spar))
    spar.write_text("echo_time : 80\n")
    assert source_sha256(sdat) != before
    lone = tmp_path / "x.RAW"
    lone.write_bytes(b"raw")
    assert source_sha256(lone) == file_sha256(lone)  # a single-file format keeps its plain digest


def test_configurable_lip_definition(rng):
    from pmlmrs.errors import ConfigError
    from pmlmrs.quant import QuantOptions

    r = make_result(rng)
    default = summary_row(r, "x")
    only09 = summary_row(r, "x", definitions=QuantOptions(combinations={"Lip": ["Lip09"]}).combinations)
    assert default["Lip"] == pytest.approx(r.amplitude("Lip09") + r.amplitude("Lip13a") + r.amplitude("Lip13b"))
    assert only09["Lip"] == pytest.approx(r.amplitude("Lip09"))
    assert only09["Lip_tCr"] == pytest.approx(only09["Lip09_tCr"])
    with pytest.raises(ConfigError):
        QuantOptions(combinations={"Lip": "Lip09"})


def test_unmeasurable_snr_is_na(tmp_path, rng):
    """QC calls a non-positive NAA height "not measurable": summary.tsv and fit.json say n/a, not -15."""
    from pmlmrs.qc import snr

    r = make_result(rng, noise_sd=50.0)
    flipped = r.replace(data=-r.data)  # NAA points down: no peak above the baseline
    assert snr(flipped) < 0
    row = summary_row(flipped, "x")
    assert row["snr"] is None and summary_row(r, "x")["snr"] == pytest.approx(snr(r))
    text = write_summary_tsv([row], tmp_path / "summary.tsv").read_text().splitlines()
    assert text[1].split("\t")[text[0].split("\t").index("snr")] == "n/a"
    doc = read_fit_json(write_fit_json(flipped, tmp_path / "fit.json"))
    assert doc["fit"]["snr"] is None
    assert any(q["name"] == "snr" and "not measurable" in q["message"] for q in doc["qc"])


def test_fit_json_names_inputs_without_their_folders(tmp_path, rng, monkeypatch):
    """The folders holding the inputs can name a person: fit.json keeps the file names and SHA-256
    but no folder, wherever a path appeared (inputs, options, step details)."""
    from pmlmrs.core import ProcessingStep
    from pmlmrs.quant.outputs import strip_folders

    monkeypatch.chdir(tmp_path)
    private = tmp_path / "priv" / "DOE_JOHN_19650312"
    private.mkdir(parents=True)
    sdat, water = private / "DOE_act.sdat", private / "DOE_ref.sdat"
    for f, b in ((sdat, b"act"), (private / "DOE_act.spar", b"a"), (water, b"ref"), (private / "DOE_ref.spar", b"r")):
        f.write_bytes(b)
    r = make_result(rng)
    r = r.replace(spectrum=r.spectrum.replace(source=str(sdat)),
                  provenance=(ProcessingStep("eddy_current_correction", {"reference": str(water)},
                                             f"subtracted the phase of {water.relative_to(tmp_path)}"),))
    rel = sdat.relative_to(tmp_path)
    text = write_fit_json(r, tmp_path / "out" / "fit.json", input_path=rel, water_path=water,
                          options={"cli": {"basis": str(private / "my.BASIS"), "folder": str(private)}}).read_text()
    assert "DOE_JOHN_19650312" not in text and "priv" not in text
    doc = json.loads(text)
    inputs = doc["provenance"]["inputs"]
    assert inputs["spectrum"] == {"path": "DOE_act.sdat", "sha256": file_sha256(sdat)}
    assert inputs["water_spar"]["path"] == "DOE_ref.spar"
    assert "DOE_ref.sdat" in doc["provenance"]["steps"][0]["Details"]
    assert doc["provenance"]["options"]["cli"] == {"basis": "my.BASIS", "folder": "<input folder>"}
    # only whole folder names go: a longer name that merely starts like the folder is kept
    assert strip_folders(f"{private}x/a {private}/b", [sdat]) == f"{private}x/a b"
    # a one-part relative folder named like a word goes only as a path prefix
    msg = "the/x.RAW: 643 points: the file looks truncated; a control file"
    assert strip_folders(msg, ["the/x.RAW"]) == "x.RAW: 643 points: the file looks truncated; a control file"
    assert strip_folders("a/x.RAW: not a power of two", ["a/x.RAW"]) == "x.RAW: not a power of two"


def test_bundled_basis_is_named_and_hashed(rng):
    """A bundled basis (a folder, or its name) is recorded by name with a SHA-256, not null."""
    from pmlmrs.basis import bundled_basis
    from pmlmrs.quant import fit_to_dict
    from pmlmrs.quant.outputs import tree_sha256

    folder = bundled_basis().source
    by_folder = fit_to_dict(make_result(rng), basis_path=folder)["provenance"]["inputs"]["basis"]
    by_name = fit_to_dict(make_result(rng), basis_path="ismrm2016_press_3T_30ms")["provenance"]["inputs"]["basis"]
    assert by_folder == by_name == {"path": "ismrm2016_press_3T_30ms", "sha256": tree_sha256(folder)}
    assert by_folder["sha256"] is not None
