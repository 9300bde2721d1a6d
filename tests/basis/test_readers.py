"""Basis readers: LCModel .BASIS, RAW folders, text/jMRUI folders with a sidecar, FSL-MRS JSON, npz."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pmlmrs.basis import (
    Basis,
    bundled_basis,
    bundled_basis_names,
    detect_basis_format,
    load_basis,
    read_lcmodel_basis,
    save_basis,
    write_fsl_basis,
)
from pmlmrs.config import ReadOptions
from pmlmrs.core import Header, Spectrum
from pmlmrs.errors import BasisError, ReadError, WriteError
from pmlmrs.io.jmrui import write_jmrui_txt

TEST_DATA = Path(__file__).resolve().parents[1] / "data"
TEST_BASIS = TEST_DATA / "basis" / "lcmodel_test_3t.basis"
CHALLENGE_OPTS = ReadOptions(central_frequency=123.2, spectral_width=4000.0, echo_time=30.0)

SEVENTEEN = ["Asc", "Asp", "Cr", "GABA", "GPC", "GSH", "Gln", "Glu", "Ins", "Lac", "NAA", "NAAG", "PCho", "PCr",
             "PE", "sIns", "Tau"]
#: (file under shared/data, HZPPPM, TE ms, points, dwell s, metabolites in file order) from MANIFEST.md / the files
BASIS_FILES = [
    ("invivo/basis/lcmodel/3T_PRESS_Philips_35ms_noMM.BASIS", 127.731, 35.0, 8192, 2.5e-4, SEVENTEEN),
    ("invivo/basis/lcmodel/3T_PRESS_Siemens_35ms_noMM.BASIS", 123.201659, 35.0, 8192, 2.5e-4, SEVENTEEN),
    ("invivo/basis/lcmodel/suspect_press_30ms_3T.basis", 123.199997, 30.0, 4944, 0.000207357807,
     ["Ala", "Asp", "Cr", "PCr", "GABA", "Glc", "Gln", "Glu", "GPC", "PCho", "GSH", "Ins", "Lac", "NAA", "NAAG",
      "sIns", "Tau"]),
    ("invivo/basis/lcmodel/lcmodel_test_3t.basis", 127.7861, None, 1024, 5e-4,
     ["Ala", "Asp", "Cr", "GABA", "Glc", "Gln", "GSH", "Glu", "GPC", "Ins", "Lac", "NAA", "NAAG", "PCho", "PCr",
      "sIns", "Tau"]),
    ("ismrm2016_fitting_challenge/basisset_LCModel/press3T_30ms.BASIS", 123.261703, None, 4096, 0.000250000012,
     ["Mac", "Ala", "Asp", "Asc", "Cr", "GABA", "Glc", "Gln", "Glu", "Gly", "GPC", "GSH", "Ins", "sIns", "Lac",
      "PCr", "PCho", "PE", "NAA", "NAAG", "Tau"]),
]
CHALLENGE_22 = sorted(["Ace", "Ala", "Asc", "Asp", "Cr", "GABA", "GPC", "GSH", "Glc", "Gln", "Glu", "Gly", "Ins",
                       "Lac", "Mac", "NAA", "NAAG", "PCho", "PCr", "PE", "Tau", "sIns"])


def _shared(request: pytest.FixtureRequest, rel: str) -> Path:
    """A file under ../shared/data through the conftest fixtures (which skip without ../shared)."""
    top, rest = rel.split("/", 1)
    root = request.getfixturevalue("invivo" if top == "invivo" else "challenge")
    return root / rest


def _check_singlets(b: Basis, tol: float = 0.01) -> None:
    assert b.peak_ppm("NAA", 1.8, 2.2) == pytest.approx(2.008, abs=tol)
    assert b.peak_ppm("Cr", 2.8, 3.2) == pytest.approx(3.027, abs=tol)


def test_bsd_test_basis_header_and_names():
    b = load_basis(TEST_BASIS)
    assert detect_basis_format(TEST_BASIS) == "lcmodel_basis"
    assert b.spectrometer_frequency == pytest.approx(127.7861)
    assert b.dwell_time == pytest.approx(5e-4)
    assert b.n_points == 1024
    assert b.echo_time is None  # ECHOT is blank in the file
    assert list(b.names) == BASIS_FILES[3][5]
    assert b.meta["format"] == "lcmodel_basis"
    assert b.meta["source_file"] == "lcmodel_test_3t.basis"
    assert b.meta["sequence"] == "PRESS"
    assert b.meta["file_names"]["PCho"] == "PCh"
    assert b.ppm_reference == 4.65
    assert b.meta["ppm_check"]["corrected"] is False
    assert "reference_peak" not in b.meta
    _check_singlets(b)
    assert repr(b).startswith("<Basis 17 metabolites")


def test_basis_block_is_frequency_domain_of_the_conjugate():
    """Reading the data block as time domain, or without conjugation, puts NAA in the wrong place."""
    b = read_lcmodel_basis(TEST_BASIS)
    _check_singlets(b)
    mirrored = b.replace(fids=np.conj(b.fids))
    assert abs(mirrored.peak_ppm("NAA", 1.0, 9.0) - 2.008) > 3  # NAA would appear near 7.3 ppm
    assert b.peak_ppm("NAA", 1.0, 9.0) == pytest.approx(2.008, abs=0.01)
    # an FID decays: most of the energy is early
    e = np.abs(b.fid("NAA")) ** 2
    assert e[: b.n_points // 2].sum() > 2 * e[b.n_points // 2:].sum()


@pytest.mark.parametrize("rel, hz, te, n, dwell, names", BASIS_FILES, ids=[r[0].split("/")[-1] for r in BASIS_FILES])
def test_every_shared_basis_loads_with_singlets_in_place(request, rel, hz, te, n, dwell, names):
    b = load_basis(_shared(request, rel))
    assert b.spectrometer_frequency == pytest.approx(hz)
    assert b.n_points == n
    assert b.dwell_time == pytest.approx(dwell)
    assert (b.echo_time is None) if te is None else b.echo_time == pytest.approx(te * 1e-3)
    assert list(b.names) == names
    _check_singlets(b)


def test_ppm_reference_calibration_values(invivo, challenge):
    osprey = load_basis(invivo / "basis/lcmodel/3T_PRESS_Philips_35ms_noMM.BASIS")
    assert osprey.ppm_reference == pytest.approx(4.68)  # Osprey sets are centred at 4.68 ppm
    assert osprey.meta["ppm_check"]["corrected"] is True
    suspect = load_basis(invivo / "basis/lcmodel/suspect_press_30ms_3T.basis")
    assert suspect.ppm_reference == 4.65  # ISHIFT = -587 applied
    assert suspect.meta["metabolites"]["NAA"]["ishift"] == -587
    assert set(suspect.meta["reference_peak"]) == set(suspect.names)
    ismrm = load_basis(challenge / "basisset_LCModel/press3T_30ms.BASIS")
    assert ismrm.ppm_reference == 4.65
    assert set(ismrm.meta["reference_peak"]) == set(ismrm.names) - {"Mac"}
    # without calibration the Osprey set is 0.03 ppm off; an explicit reference wins
    raw = load_basis(invivo / "basis/lcmodel/3T_PRESS_Philips_35ms_noMM.BASIS", calibrate=False)
    assert raw.peak_ppm("NAA", 1.8, 2.2) == pytest.approx(1.978, abs=0.005)
    forced = load_basis(invivo / "basis/lcmodel/3T_PRESS_Philips_35ms_noMM.BASIS",
                        options=ReadOptions(ppm_reference=4.7))
    assert forced.ppm_reference == 4.7


def test_raw_folder_with_options_or_basis_beside(challenge, tmp_path):
    folder = challenge / "basisset_LCModel"
    assert detect_basis_format(folder) == "lcmodel_raw_folder"
    b = load_basis(folder, options=CHALLENGE_OPTS, format="lcmodel_raw_folder")
    assert sorted(b.names) == CHALLENGE_22
    assert b.spectrometer_frequency == 123.2 and b.n_points == 2048 and b.echo_time == pytest.approx(0.03)
    assert b.meta["header_sources"] == {"spectrometer_frequency": "options", "dwell_time": "options"}
    _check_singlets(b)
    assert set(b.meta["reference_peak"]) == set(b.names) - {"Mac"}
    # without options the .BASIS beside gives frequency and dwell
    b2 = load_basis(folder, format="lcmodel_raw_folder")
    assert b2.spectrometer_frequency == pytest.approx(123.261703)
    assert b2.meta["header_sources"]["dwell_time"] == "press3T_30ms.BASIS"
    # RAW folder equals the .BASIS (same FIDs, zero-filled to 4096 there, up to a scale)
    full = load_basis(folder / "press3T_30ms.BASIS")
    a, c = b.fid("NAA"), full.fid("NAA")[:2048]
    scale = np.vdot(a, c) / np.vdot(a, a)
    assert np.abs(c - scale * a)[1:].max() < 1e-3 * np.abs(c).max()
    # a folder of RAW files alone, with no way to know the frequency
    lonely = tmp_path / "raws"
    lonely.mkdir()
    shutil.copy(folder / "NAA.RAW", lonely)
    with pytest.raises(BasisError, match="--central-frequency"):
        load_basis(lonely)


def test_raw_folder_cut_short_warns(challenge, tmp_path, caplog):
    """RAW files do not store their length: a folder whose members were all cut at the same line
    loads (equal lengths), with a warning that the point count is not a power of two."""
    cut = tmp_path / "cut"
    cut.mkdir()
    for name in ("NAA", "Cr", "PCho"):
        lines = (challenge / "basisset_LCModel" / f"{name}.RAW").read_text().splitlines()
        (cut / f"{name}.RAW").write_text("\n".join(lines[:400]) + "\n")
    with caplog.at_level("WARNING", logger="pmlmrs"):
        b = load_basis(cut, options=CHALLENGE_OPTS, format="lcmodel_raw_folder")
    assert b.n_points & (b.n_points - 1)
    assert "not a power of two" in caplog.text


def _notms_copy(challenge: Path, dest: Path, **sidecar) -> Path:
    dest.mkdir()
    for f in (challenge / "basisset_text_noTMS").glob("*.txt"):
        shutil.copy(f, dest)
    doc = {"spectrometer_frequency": 123.2, "dwell_time": 0.00025, "echo_time": 0.030, "ppm_reference": 4.65,
           "conjugate": True}
    doc.update(sidecar)
    (dest / "basis.json").write_text(json.dumps(doc))
    return dest


def test_text_folder_with_sidecar(challenge, tmp_path):
    folder = _notms_copy(challenge, tmp_path / "notms")
    assert detect_basis_format(folder) == "text_folder"
    b = load_basis(folder)
    assert sorted(b.names) == CHALLENGE_22
    assert b.n_points == 2048 and b.dwell_time == 2.5e-4 and b.echo_time == 0.03
    assert b.meta["conjugated_on_read"] is True
    assert "reference_peak" not in b.meta  # the noTMS version has none
    _check_singlets(b)
    # the same numbers as the LCModel RAW files once their TMS peak is removed
    raw = load_basis(challenge / "basisset_LCModel", options=CHALLENGE_OPTS, remove_reference=True)
    for name in ("NAA", "Cr", "Glu", "Ins"):
        assert np.abs(raw.fid(name) - b.fid(name)).max() < 1e-4 * np.abs(b.fid(name)).max()
    assert raw.meta["reference_peak_removed"]["NAA"]["lorentzian_fwhm_hz"] == pytest.approx(2.0, abs=0.05)
    # conjugate: false puts NAA on the wrong side, and the loader notices and conjugates back
    (folder / "basis.json").write_text(json.dumps({"spectrometer_frequency": 123.2, "dwell_time": 0.00025,
                                                    "conjugate": False}))
    fixed = load_basis(folder)
    assert fixed.meta.get("conjugated_to_unmirror") is True
    _check_singlets(fixed)


def test_text_folder_needs_sidecar(tmp_path):
    folder = tmp_path / "txt"
    folder.mkdir()
    np.savetxt(folder / "NAA.txt", np.ones((8, 2)))
    with pytest.raises(BasisError, match="no basis found|basis.json"):
        load_basis(folder)
    with pytest.raises(BasisError, match="basis.json"):
        load_basis(folder, format="text_folder")


def test_jmrui_folder_takes_grid_from_headers(tmp_path):
    src = load_basis(TEST_BASIS).subset(["NAA", "Cr", "PCho"])
    folder = tmp_path / "jmrui"
    folder.mkdir()
    for name in src.names:
        s = Spectrum(src.fid(name), Header(src.spectrometer_frequency, src.dwell_time))
        write_jmrui_txt(s, folder / f"{name}.txt")
    (folder / "basis.json").write_text(json.dumps({"ppm_reference": 4.65, "echo_time": None}))
    b = load_basis(folder)
    assert b.spectrometer_frequency == pytest.approx(src.spectrometer_frequency)
    assert b.dwell_time == pytest.approx(src.dwell_time)
    np.testing.assert_allclose(b.subset(src.names).fids, src.fids, rtol=1e-8, atol=1e-12)


def test_fsl_json_round_trip(tmp_path):
    b = load_basis(TEST_BASIS)
    out = write_fsl_basis(b, tmp_path / "fsl")
    doc = json.loads((out / "NAA.json").read_text())
    assert set(doc["basis"]) >= {"basis_re", "basis_im", "basis_dwell", "basis_centre", "basis_width", "basis_name"}
    assert doc["basis"]["basis_centre"] == pytest.approx(127.7861)
    assert doc["basis"]["basis_width"] == pytest.approx(0.1 * 127.7861)  # FWHMBA 0.1 ppm
    assert detect_basis_format(out) == "fsl_json"
    back = load_basis(out)
    assert sorted(back.names) == sorted(b.names)
    np.testing.assert_allclose(back.subset(b.names).fids, b.fids, rtol=0, atol=1e-12)
    assert back.dwell_time == b.dwell_time and back.spectrometer_frequency == b.spectrometer_frequency
    assert back.ppm_reference == b.ppm_reference
    with pytest.raises(WriteError):
        write_fsl_basis(b, out)
    write_fsl_basis(b, out, force=True)


def test_fsl_json_errors(tmp_path):
    d = tmp_path / "fsl"
    d.mkdir()
    (d / "NAA.json").write_text("{not json")
    with pytest.raises(BasisError, match="JSON"):
        load_basis(d)
    (d / "NAA.json").write_text(json.dumps({"basis": {"basis_re": [1, 2]}}))
    with pytest.raises(BasisError, match="basis_dwell"):
        load_basis(d)


def test_npz_round_trip_keeps_everything(tmp_path):
    b = load_basis(TEST_BASIS)
    save_basis(b, tmp_path / "npz")
    back = load_basis(tmp_path / "npz")
    assert back.names == b.names
    np.testing.assert_array_equal(back.fids, b.fids)
    assert back.ppm_reference == b.ppm_reference and back.dwell_time == b.dwell_time
    with pytest.raises(WriteError):
        save_basis(b, tmp_path / "npz")


def test_duplicate_names_after_canonicalisation(tmp_path):
    b = load_basis(TEST_BASIS).subset(["NAA", "Cr"])
    d = write_fsl_basis(b, tmp_path / "dup")
    doc = json.loads((d / "Cr.json").read_text())
    doc["basis"]["basis_name"] = "NAA"
    (d / "Cr.json").write_text(json.dumps(doc))
    with pytest.raises(BasisError, match="more than once"):
        load_basis(d)


@pytest.mark.parametrize("mutate, error", [
    (lambda t: "", ReadError),                                                    # empty
    (lambda t: t[: len(t) // 2], BasisError),                                     # truncated mid-block
    (lambda t: t.replace("NDATAB = 1024", "NDATAB = 2048"), BasisError),          # wrong count
    (lambda t: t.replace("BADELT =  5e-04,", ""), BasisError),                    # missing dwell
    (lambda t: t.replace("HZPPPM =  127.7861,", ""), BasisError),                 # missing frequency
    (lambda t: "just some text\n1 2\n", BasisError),                              # not a basis
])
def test_broken_basis_files(tmp_path, mutate, error):
    p = tmp_path / "bad.basis"
    p.write_text(mutate(TEST_BASIS.read_text()))
    with pytest.raises(error) as exc:
        load_basis(p)
    assert "bad.basis" in str(exc.value)


def test_missing_and_empty_folder(tmp_path):
    with pytest.raises(BasisError, match="no such"):
        load_basis(tmp_path / "nope")
    with pytest.raises(BasisError, match="no basis found"):
        load_basis(tmp_path)
    with pytest.raises(Exception, match="Allowed values"):
        load_basis(TEST_BASIS, format="nonsense")


def test_bundled_basis():
    assert "ismrm2016_press_3T_30ms" in bundled_basis_names()
    b = bundled_basis()
    assert sorted(b.names) == CHALLENGE_22
    assert b.spectrometer_frequency == 123.2 and b.n_points == 2048
    assert b.dwell_time == pytest.approx(2.5e-4) and b.echo_time == pytest.approx(0.03)
    assert b.ppm_reference == 4.65
    assert "reference_peak" not in b.meta
    assert "CC BY-SA 4.0" in b.meta["licence"]
    _check_singlets(b)
    folder = Path(b.source)
    size = sum(f.stat().st_size for f in folder.iterdir())
    assert size < 2_000_000
    assert (folder / "LICENSE").is_file() and (folder / "README.md").is_file()
    with pytest.raises(Exception, match="Allowed values"):
        bundled_basis("no_such_basis")


def test_bundled_basis_equals_challenge_text(challenge, tmp_path):
    b = bundled_basis()
    t = load_basis(_notms_copy(challenge, tmp_path / "notms"))
    np.testing.assert_array_equal(b.subset(t.names).fids, t.fids)
