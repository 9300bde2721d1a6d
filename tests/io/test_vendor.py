"""Vendor readers (spec2nii in-process, pydicom for Philips enhanced DICOM): known header values for
every file in shared/data/invivo, conjugation (NAA at ~2.0 ppm), anonymisation and error paths."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import medfilt

from pmlmrs.core import Spectrum
from pmlmrs.errors import HeaderFieldError, ReadError, UnknownFormatError
from pmlmrs.io import find_reader, load, readers, save
from pmlmrs.io.vendor import load_all

TEST_DATA = Path(__file__).resolve().parents[1] / "data"
PHI_KEYS = ("PatientName", "PatientID", "PatientDoB")
# personal and site attributes the Siemens/Philips headers carry, dropped as well
PERSONAL_KEYS = ("PatientSex", "PatientWeight", "PatientAge", "PatientSize", "InstitutionName",
                 "InstitutionAddress", "DeviceSerialNumber", "OperatorsName", "ReferringPhysicianName")


def _peak(s: Spectrum, lo: float, hi: float) -> tuple[float, float]:
    """(ppm, height above a running-median baseline) of the largest peak between lo and hi ppm."""
    fids = s.data.reshape(-1, s.n_points)
    mag = np.abs(np.fft.fftshift(np.fft.fft(fids, axis=-1), axes=-1)).sum(axis=0)
    above = mag - medfilt(mag, 31)
    sl = s.slice_ppm(lo, hi)
    i = sl.start + int(np.argmax(above[sl]))
    return float(s.ppm_axis[i]), float(above[i])


def assert_naa_on_the_right_side(s: Spectrum, lo: float = 1.9, hi: float = 2.1) -> None:
    """NAA (2.01 ppm) stands out; its mirror image about the reference (~7.3 ppm) does not."""
    ppm, height = _peak(s, lo, hi)
    ref = s.header.ppm_reference
    _, mirror = _peak(s, 2 * ref - hi, 2 * ref - lo)
    assert height > 5 * mirror, (ppm, height, mirror)


def assert_water_near_reference(s: Spectrum) -> None:
    mag = np.abs(s.spectrum()).reshape(-1, s.n_points).sum(axis=0)
    assert abs(s.ppm_axis[int(np.argmax(mag))] - 4.65) < 0.1


def assert_anonymous(s: Spectrum) -> None:
    def keys(d) -> set:
        return set(d) | {k for v in d.values() if isinstance(v, dict) for k in keys(v)}

    found = keys(dict(s.header.acquisition)) | keys(dict(s.header.vendor))
    assert not found & set(PHI_KEYS + PERSONAL_KEYS), found & set(PHI_KEYS + PERSONAL_KEYS)


# ---- known header values (MANIFEST.md) --------------------------------------------------------------
# path, reader, MHz, SW Hz, TE s, TR s, points, dims, voxel mm (or None), water-suppressed?
SDAT = [
    ("philips_sdat/osprey_press_te35/sub-01_PRESS_35_act.sdat", 127.750896, 0.035, 2048, (30, 30, 30), True),
    ("philips_sdat/osprey_press_te35/sub-01_PRESS_35_ref.sdat", 127.750896, 0.035, 2048, (30, 30, 30), False),
    ("philips_sdat/osprey_press_te35/sub-02_PRESS_35_act.sdat", 127.75069, 0.035, 2048, (30, 30, 30), True),
    ("philips_sdat/osprey_press_te35/sub-02_PRESS_35_ref.sdat", 127.75069, 0.035, 2048, (30, 30, 30), False),
    ("philips_sdat/osprey_press_te30_mm/sub-01_ses-01_PRESS_raw-act_noID.SDAT", 127.755264, 0.03, 2048,
     (26, 26, 30), True),
    ("philips_sdat/osprey_press_te30_mm/sub-01_ses-01_PRESS_raw-ref_noID.SDAT", 127.755264, 0.03, 2048,
     (26, 26, 30), False),
    ("philips_sdat/osprey_press_te30_mm/sub-01_ses-01_PRESS-Inverted_TI-600_raw-act_noID.SDAT", 127.755224, 0.03,
     2048, (26, 26, 30), None),
    ("philips_sdat/osprey_press_te30_mm/sub-01_ses-01_PRESS-Inverted_TI-600_raw-ref_noID.SDAT", 127.755224, 0.03,
     2048, (26, 26, 30), False),
    ("philips_sdat/osprey_press_te30_mm/sub-02_ses-01_PRESS_raw-act_noID.SDAT", 127.755472, 0.03, 2048,
     (26, 26, 30), True),
    ("philips_sdat/osprey_press_te30_mm/sub-02_ses-01_PRESS_raw-ref_noID.SDAT", 127.755472, 0.03, 2048,
     (26, 26, 30), False),
    ("philips_sdat/osprey_press_te30_mm/sub-02_ses-01_PRESS-Inverted_TI-600_raw-act_noID.SDAT", 127.755456, 0.03,
     2048, (26, 26, 30), None),
    ("philips_sdat/osprey_press_te30_mm/sub-02_ses-01_PRESS-Inverted_TI-600_raw-ref_noID.SDAT", 127.755456, 0.03,
     2048, (26, 26, 30), False),
    ("philips_sdat/spant_phantom_press_te30/philips_spar_sdat_WS.SDAT", 127.786142, 0.03, 1024, (20, 20, 20), True),
    ("philips_sdat/spant_phantom_press_te30/philips_spar_sdat_W.SDAT", 127.786142, 0.03, 1024, (20, 20, 20), False),
]


@pytest.mark.parametrize("rel, mhz, te, n, voxel, ws", SDAT, ids=[Path(r[0]).name for r in SDAT])
def test_philips_sdat_known_values(invivo: Path, rel: str, mhz: float, te: float, n: int, voxel: tuple,
                                   ws: bool | None) -> None:
    f = invivo / rel
    assert find_reader(f).name == "philips_sdat"
    s = load(f)
    h = s.header
    assert h.spectrometer_frequency == pytest.approx(mhz, abs=1e-6)
    assert h.spectral_width == pytest.approx(2000.0)
    assert h.echo_time == pytest.approx(te) and h.repetition_time == pytest.approx(2.0)
    assert s.n_points == n and s.dims == () and h.nucleus == "1H"
    assert h.field_strength == pytest.approx(3.0, abs=0.01)
    assert h.ppm_reference == 4.65
    assert h.geometry is not None and h.geometry.voxel_size == pytest.approx(voxel, abs=0.01)
    assert h.acquisition["Manufacturer"] == "Philips"
    assert_anonymous(s)
    if ws is True:
        assert_naa_on_the_right_side(s)
    elif ws is False:
        assert_water_near_reference(s)
    # the SPAR names the same pair
    spar = f.with_suffix(".SPAR" if f.suffix == ".SDAT" else ".spar")
    np.testing.assert_array_equal(load(spar).data, s.data)


def test_sdat_voxel_position(invivo: Path) -> None:
    s = load(invivo / "philips_sdat/osprey_press_te35/sub-01_PRESS_35_act.sdat")
    # SPAR offsets AP 45.0, LR 0, CC 37.7 mm -> RAS centre (0, 45, 37.7) up to sign conventions of spec2nii
    centre = np.abs(s.header.geometry.centre)
    np.testing.assert_allclose(centre, [0.0, 45.0, 37.7], atol=0.1)


def test_siemens_rda_and_dicom_known_values(invivo: Path) -> None:
    rda = load(invivo / "siemens_rda/SVS_30.rda")
    ima = load(invivo / "siemens_dicom/SVS_30.IMA")
    assert find_reader(invivo / "siemens_rda/SVS_30.rda").name == "siemens_rda"
    assert find_reader(invivo / "siemens_dicom/SVS_30.IMA").name == "siemens_dicom"
    for s in (rda, ima):
        h = s.header
        assert h.spectrometer_frequency == pytest.approx(123.234655)
        assert (h.echo_time, h.repetition_time) == (pytest.approx(0.03), pytest.approx(2.0))
        assert s.n_points == 1024
        assert h.geometry.voxel_size == pytest.approx((20, 40, 20), abs=0.01)
        assert h.acquisition["SequenceName"] == "*svs_se"
        assert_anonymous(s)
        assert_naa_on_the_right_side(s)
    assert rda.spectral_width == pytest.approx(1200.48, abs=0.01)  # RDA DwellTime 833 us is rounded
    assert ima.spectral_width == pytest.approx(1199.90, abs=0.01)
    assert rda.dims == () and ima.dims == ("dyn",) and ima.shape == (1, 1024)
    # the same scan: identical FIDs and voxel
    np.testing.assert_allclose(ima.squeeze().data, rda.data, rtol=1e-6, atol=1e-3)
    np.testing.assert_allclose(ima.header.geometry.affine, rda.header.geometry.affine, atol=1e-3)


def test_siemens_xa60_enhanced_dicom(invivo: Path) -> None:
    f = invivo / "siemens_dicom/SVS_XA60.dcm"
    assert find_reader(f).name == "siemens_dicom"
    s = load(f)
    h = s.header
    assert h.spectrometer_frequency == pytest.approx(123.255089)
    assert h.spectral_width == pytest.approx(1199.90, abs=0.01)
    assert (h.echo_time, h.repetition_time, s.n_points) == (pytest.approx(0.03), pytest.approx(2.0), 1024)
    assert h.acquisition["ProtocolName"] == "svs_se_30_phantom"
    assert_anonymous(s)


def test_philips_enhanced_dicom(invivo: Path) -> None:
    """spec2nii 0.8.15 crashes on this file; pmlmrs reads it with pydicom."""
    f = invivo / "philips_dicom/MRSshortTELN_401_IM-0001-0002.dcm"
    _check_philips_dicom(f)


def test_philips_enhanced_dicom_local_copy() -> None:
    _check_philips_dicom(TEST_DATA / "philips_dicom/MRSshortTELN_401_IM-0001-0002.dcm")


def _check_philips_dicom(f: Path) -> None:
    assert find_reader(f).name == "philips_dicom"
    s = load(f)
    h = s.header
    assert h.spectrometer_frequency == pytest.approx(63.89575)
    assert h.spectral_width == pytest.approx(1000.0, abs=1e-3)
    assert h.echo_time == pytest.approx(0.0319136, abs=1e-6) and h.repetition_time == pytest.approx(2.0)
    assert s.n_points == 1024 and s.dims == ()
    assert h.field_strength == pytest.approx(1.5, abs=0.01)
    assert h.ppm_reference == pytest.approx(4.68)  # ChemicalShiftReference
    assert h.geometry.voxel_size == pytest.approx((25, 25, 15), abs=1e-6)
    assert h.acquisition["WaterSuppressed"] is True
    assert_anonymous(s)
    # room-temperature QA phantom: metabolites sit ~0.17 ppm low relative to water; NAA near 1.85
    assert_naa_on_the_right_side(s, 1.75, 2.0)
    parts = load_all(f)
    assert set(parts) == {"metabolite", "ref"}
    ref = parts["ref"]
    assert ref.header.acquisition["WaterSuppressed"] is False
    assert np.abs(ref.data[0]) > 100 * np.abs(parts["metabolite"].data[0])  # unsuppressed water


def test_local_test_data_without_shared() -> None:
    """The small copies in tests/data read the same way (no ../shared needed)."""
    rda = load(TEST_DATA / "siemens/SVS_30.rda")
    ima = load(TEST_DATA / "siemens/SVS_30.IMA")
    np.testing.assert_allclose(ima.squeeze().data, rda.data, rtol=1e-6, atol=1e-3)
    assert_naa_on_the_right_side(rda)
    sdat = load(TEST_DATA / "philips_sdat/sub-01_PRESS_35_act.sdat")
    assert sdat.header.spectrometer_frequency == pytest.approx(127.750896)
    assert sdat.header.echo_time == pytest.approx(0.035)
    assert_naa_on_the_right_side(sdat)


def test_spectrum_is_conjugate_of_stored_nifti_mrs(invivo: Path) -> None:
    """Spectrum.data of an SDAT read = conj(the array spec2nii stores in NIfTI-MRS)."""
    from spec2nii.Philips.philips import read_sdat_spar_pair

    d = invivo / "philips_sdat/spant_phantom_press_te30"
    sdat = load(d / "philips_spar_sdat_WS.SDAT")
    img = read_sdat_spar_pair(d / "philips_spar_sdat_WS.SDAT", d / "philips_spar_sdat_WS.SPAR", None,
                              [None, None, None], None, None)[0][0]
    stored = np.asarray(img.image[:]).reshape(-1)
    np.testing.assert_allclose(sdat.data, np.conj(stored), rtol=1e-6)


def test_lcmodel_raw_agrees_with_sdat(invivo: Path) -> None:
    """The LCModel RAW export of the spant phantom and its SDAT read to the same Spectrum data
    (the RAW numbers equal spec2nii's stored array; the lcmodel_raw reader conjugates them)."""
    if "lcmodel_raw" not in readers():
        pytest.skip("the lcmodel_raw reader is not installed")
    raw = load(invivo / "lcmodel_raw/lcmodel_test_data.raw")
    sdat = load(invivo / "philips_sdat/spant_phantom_press_te30/philips_spar_sdat_WS.SDAT")
    np.testing.assert_allclose(raw.data, sdat.data, atol=1e-8)
    assert_naa_on_the_right_side(raw)


def test_vendor_to_nifti_mrs_round_trip(tmp_path: Path) -> None:
    s = load(TEST_DATA / "siemens/SVS_30.IMA")
    back = load(save(s, tmp_path / "svs30.nii.gz"))
    np.testing.assert_array_equal(back.data, s.data)
    assert back.dims == s.dims
    assert back.header.geometry == s.header.geometry
    assert back.header.acquisition["SequenceName"] == s.header.acquisition["SequenceName"] == "*svs_se"
    assert back.header.acquisition["OriginalFile"] == ["SVS_30.IMA"]  # base name only, never a full path
    assert [p.name for p in back.provenance] == ["read", "read"]
    assert_naa_on_the_right_side(back)


def test_read_options_override(tmp_path: Path) -> None:
    s = load(TEST_DATA / "siemens/SVS_30.rda", central_frequency=123.0, echo_time=35)
    assert s.header.spectrometer_frequency == 123.0 and s.header.echo_time == pytest.approx(0.035)
    assert s.provenance[-1].name == "override_header"


# ---- error paths ------------------------------------------------------------------------------------
def _copy(src: Path, dst_dir: Path) -> Path:
    dst = dst_dir / src.name
    shutil.copyfile(src, dst)
    return dst


def test_sdat_without_spar(tmp_path: Path) -> None:
    sdat = _copy(TEST_DATA / "philips_sdat/sub-01_PRESS_35_act.sdat", tmp_path)
    with pytest.raises(UnknownFormatError, match="sub-01_PRESS_35_act.sdat"):
        load(sdat)
    with pytest.raises(ReadError, match=r"matching \.SPAR is missing"):
        load(sdat, format="philips_sdat")


def test_truncated_sdat(tmp_path: Path) -> None:
    sdat = _copy(TEST_DATA / "philips_sdat/sub-01_PRESS_35_act.sdat", tmp_path)
    _copy(TEST_DATA / "philips_sdat/sub-01_PRESS_35_act.spar", tmp_path)
    sdat.write_bytes(sdat.read_bytes()[:1000])
    with pytest.raises(ReadError, match="truncated") as info:
        load(sdat)
    assert info.value.path == str(sdat)


def test_spar_missing_samples(tmp_path: Path) -> None:
    _copy(TEST_DATA / "philips_sdat/sub-01_PRESS_35_act.sdat", tmp_path)
    spar = _copy(TEST_DATA / "philips_sdat/sub-01_PRESS_35_act.spar", tmp_path)
    text = spar.read_text(errors="replace").splitlines()
    spar.write_text("\n".join(line for line in text if not line.startswith("samples")) + "\n")
    with pytest.raises((HeaderFieldError, ReadError)):
        load(spar, format="philips_sdat")


@pytest.mark.parametrize("name", ["siemens/SVS_30.rda", "siemens/SVS_30.IMA",
                                  "philips_dicom/MRSshortTELN_401_IM-0001-0002.dcm"])
def test_truncated_vendor_files(tmp_path: Path, name: str) -> None:
    f = _copy(TEST_DATA / name, tmp_path)
    f.write_bytes(f.read_bytes()[: f.stat().st_size * 2 // 3])
    with pytest.raises(ReadError) as info:
        load(f)
    assert f.name in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("cut", [1, 8, 1000, 4000])
def test_siemens_ima_cut_short_is_refused_not_read_as_fewer_points(tmp_path: Path, cut: int) -> None:
    """spec2nii reads an .IMA missing its last 8 or 1000 bytes as 1023 or 899 points; pmlmrs checks the
    data element against the CSA sizes first."""
    f = _copy(TEST_DATA / "siemens/SVS_30.IMA", tmp_path)
    f.write_bytes(f.read_bytes()[:-cut])
    with pytest.raises(ReadError, match=r"\(7FE1,1010\) has \d+ bytes but DataPointColumns 1024 x 8 = 8192"):
        load(f)


@pytest.mark.parametrize("cut", [1, 1000, 5000])
def test_siemens_xa_dicom_cut_short_is_refused(invivo: Path, tmp_path: Path, cut: int) -> None:
    f = _copy(invivo / "siemens_dicom/SVS_XA60.dcm", tmp_path)
    f.write_bytes(f.read_bytes()[:-cut])
    with pytest.raises(ReadError, match="SpectroscopyData") as info:
        load(f)
    assert f.name in str(info.value)


def test_empty_and_wrong_format(tmp_path: Path) -> None:
    empty = tmp_path / "empty.rda"
    empty.write_bytes(b"")
    with pytest.raises(ReadError, match="empty"):
        load(empty)
    txt = tmp_path / "notes.rda"
    txt.write_text("hello\n")
    with pytest.raises(UnknownFormatError, match="notes.rda"):
        load(txt)
    fake_dcm = tmp_path / "x.dcm"
    fake_dcm.write_bytes(b"\0" * 128 + b"DICM" + b"\0" * 100)
    with pytest.raises(UnknownFormatError):
        load(fake_dcm)
    with pytest.raises(ReadError, match="x.dcm"):
        load(fake_dcm, format="siemens_dicom")
    with pytest.raises(ReadError, match="no such file"):
        load(tmp_path / "missing.rda")


def test_dicom_image_is_not_spectroscopy(tmp_path: Path) -> None:
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    ds = pydicom.Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"  # MR Image Storage
    ds.file_meta.MediaStorageSOPInstanceUID = "1.2.3"
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
    ds.Manufacturer = "Philips Medical Systems"
    ds.PatientName = "Should Not Appear"
    p = tmp_path / "image.dcm"
    ds.save_as(str(p), enforce_file_format=True)
    with pytest.raises(UnknownFormatError):
        load(p)
    with pytest.raises(ReadError, match="image.dcm") as info:
        load(p, format="philips_dicom")
    assert "Should Not Appear" not in str(info.value)


# ---- formats without sample files: sniffing and clean errors ----------------------------------------
def test_twix_sniff_and_error(tmp_path: Path) -> None:
    vd = tmp_path / "meas_MID00001.dat"
    vd.write_bytes(struct.pack("<IIII", 0, 1, 5, 6) + b"\0" * 20000)
    vb = tmp_path / "vb.dat"
    vb.write_bytes(struct.pack("<II", 1000, 3) + b"Config\0" + b"\0" * 20000)
    for f in (vd, vb):
        assert find_reader(f).name == "siemens_twix"
        with pytest.raises(ReadError, match=f"{f.name}: cannot read as siemens_twix") as info:
            load(f)
        assert info.value.__cause__ is not None
    other = tmp_path / "table.dat"
    other.write_text("1 2 3\n4 5 6\n" * 100)
    assert not readers()["siemens_twix"].sniff(other)
    with pytest.raises(UnknownFormatError, match="table.dat"):
        load(other)


def test_ge_pfile_sniff_and_error(tmp_path: Path) -> None:
    p = tmp_path / "P12345.7"
    p.write_bytes(struct.pack("<f", 26.002) + b"\0" * 70000)
    assert find_reader(p).name == "ge_pfile"
    with pytest.raises(ReadError, match="P12345.7: cannot read as ge_pfile"):
        load(p)
    bad = tmp_path / "P0.7"
    bad.write_bytes(struct.pack("<f", 3.5) + b"\0" * 100)
    with pytest.raises(UnknownFormatError):
        load(bad)


def test_bruker_sniff_and_error(tmp_path: Path) -> None:
    scan = tmp_path / "5"
    scan.mkdir()
    (scan / "method").write_text("##TITLE=x\n")
    (scan / "acqp").write_text("##TITLE=x\n")
    (scan / "fid").write_bytes(b"\0" * 4096)
    assert find_reader(scan).name == "bruker"
    assert find_reader(scan / "fid").name == "bruker"
    with pytest.raises(ReadError, match="cannot read as bruker"):
        load(scan)


def test_varian_sniff_and_error(tmp_path: Path) -> None:
    d = tmp_path / "press.fid"
    d.mkdir()
    (d / "procpar").write_text("sfrq 1 1 1000 0 0 2 1 0 1 64\n1 123.2\n0\n")
    (d / "fid").write_bytes(b"\0" * 4096)
    assert find_reader(d).name == "varian"
    with pytest.raises(ReadError, match="cannot read as varian"):
        load(d)


def test_philips_data_list_needs_spar(tmp_path: Path) -> None:
    (tmp_path / "raw_001.data").write_bytes(b"\0" * 4096)
    lst = tmp_path / "raw_001.list"
    lst.write_text("# Philips list file\n")
    assert find_reader(lst).name == "philips_data_list"
    with pytest.raises(HeaderFieldError, match="SPAR") as info:
        load(lst)
    assert info.value.field == "SPAR"


def test_load_all_for_single_part_file() -> None:
    parts = load_all(TEST_DATA / "siemens/SVS_30.rda")
    assert list(parts) == ["SVS_30"]
    np.testing.assert_array_equal(parts["SVS_30"].data, load(TEST_DATA / "siemens/SVS_30.rda").data)


def test_readers_do_not_print(capfd: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """spec2nii prints and warns; pmlmrs passes that to its logger instead (library code never prints)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may escape as a warning either
        load(TEST_DATA / "siemens/SVS_30.IMA")
        load(TEST_DATA / "philips_dicom/MRSshortTELN_401_IM-0001-0002.dcm")  # spec2nii fails, pydicom reads
        load(TEST_DATA / "philips_sdat/sub-01_PRESS_35_act.spar")
        save(load(TEST_DATA / "siemens/SVS_30.rda"), tmp_path / "q.nii.gz")
    out, err = capfd.readouterr()
    assert out == "" and err == ""
