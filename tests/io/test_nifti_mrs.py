"""NIfTI-MRS reader/writer: dims, header mapping, validation, anonymisation, round trips."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pmlmrs.core import Geometry, Header, ProcessingStep, Spectrum
from pmlmrs.errors import HeaderFieldError, ReadError, UnknownFormatError, WriteError
from pmlmrs.io import load, save
from pmlmrs.io.nifti_mrs import from_stored, read_nifti_mrs, to_nifti_mrs_object, to_stored, write_nifti_mrs


def _affine() -> np.ndarray:
    aff = np.diag([20.0, 25.0, 30.0, 1.0])
    aff[:3, 3] = [-10.0, 5.0, 12.5]
    return aff


def _spectrum(rng: np.random.Generator, shape=(4, 3, 512), dims=("coil", "dyn"), **header_kw) -> Spectrum:
    data = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    kw = dict(echo_time=0.03, repetition_time=2.0, geometry=Geometry(_affine()),
              acquisition={"Manufacturer": "Philips", "SequenceName": "PRESS", "WaterSuppressed": True,
                           "PatientName": "Jane Doe", "PatientDoB": "19700101", "PatientID": "X1"},
              vendor={"scanner_note": "hello", "patient_birth_date": "1970"})
    kw.update(header_kw)
    return Spectrum(data, Header(127.75, 5e-4, **kw), dims=dims,
                    dim_info={"dyn": {"info": "repeats", "header": {"RepetitionTime": [2.0, 2.0, 2.0]}}},
                    provenance=(ProcessingStep("coil_combine", params={"method": "svd"}, details="combined"),),
                    source="synthetic")


def test_round_trip(tmp_path: Path, rng: np.random.Generator) -> None:
    s = _spectrum(rng)
    out = save(s, tmp_path / "a.nii.gz")
    back = load(out)
    np.testing.assert_allclose(back.data, s.data, rtol=0, atol=0)
    assert back.dims == s.dims
    h, b = s.header, back.header
    assert b.spectrometer_frequency == h.spectrometer_frequency
    assert b.dwell_time == pytest.approx(h.dwell_time, rel=1e-7)  # pixdim is float32
    assert (b.echo_time, b.repetition_time, b.nucleus) == (0.03, 2.0, "1H")
    assert b.ppm_reference == pytest.approx(4.65)
    assert b.geometry == h.geometry
    assert b.acquisition["Manufacturer"] == "Philips" and b.acquisition["WaterSuppressed"] is True
    assert back.dim_info["dyn"] == {"info": "repeats", "header": {"RepetitionTime": [2.0, 2.0, 2.0]}}
    # provenance: the written steps come back (params inside details), then a new read step
    names = [p.name for p in back.provenance]
    assert names == ["coil_combine", "read"]
    assert back.provenance[0].time == s.provenance[0].time
    assert "svd" in back.provenance[0].details
    assert back.source == str(out)


def test_written_file_has_the_usual_mode(tmp_path: Path, rng: np.random.Generator) -> None:
    """fslpy writes through a private (0600) temporary file; other users and BIDS tools must read ours."""
    import os

    old = os.umask(0o022)
    try:
        out = save(_spectrum(rng), tmp_path / "m.nii.gz")
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o644


def test_never_writes_patient_identifiers(tmp_path: Path, rng: np.random.Generator) -> None:
    out = save(_spectrum(rng), tmp_path / "a.nii.gz")
    raw = gzip.open(out).read()
    for secret in (b"Jane Doe", b"19700101", b"PatientName", b"PatientDoB", b"PatientID", b"patient_birth_date"):
        assert secret not in raw
    back = load(out)
    assert back.header.vendor["scanner_note"]["Value"] == "hello"


def test_written_file_passes_nifti_mrs_validation(tmp_path: Path, rng: np.random.Generator) -> None:
    from nifti_mrs import validator
    from nifti_mrs.nifti_mrs import NIFTI_MRS

    out = save(_spectrum(rng), tmp_path / "a.nii.gz")
    img = NIFTI_MRS(str(out))  # validates the header extension on creation
    validator.validate_nifti_mrs(img)
    assert img.shape == (1, 1, 1, 512, 4, 3)
    assert img.dim_tags[:2] == ["DIM_COIL", "DIM_DYN"]
    # nifti_mrs presents conj(stored) -- the same convention as Spectrum.data
    s = load(out)
    np.testing.assert_allclose(np.asarray(img[:]).reshape(512, 4, 3).transpose(1, 2, 0), s.data, atol=1e-12)
    hdr = img.hdr_ext.to_dict()
    assert hdr["ProcessingApplied"][0]["Method"] == "coil_combine"
    assert hdr["SpectralWidth"] == pytest.approx(2000.0)


def test_plain_nii_and_single_fid(tmp_path: Path, rng: np.random.Generator) -> None:
    s = Spectrum(rng.standard_normal(256) + 1j * rng.standard_normal(256), Header(123.2, 1 / 1200.0))
    back = load(save(s, tmp_path / "b.nii"))
    assert back.dims == () and back.header.geometry is None  # default 10 m affine = unknown position
    np.testing.assert_array_equal(back.data, s.data)


def test_mrsi_dims_round_trip(tmp_path: Path, rng: np.random.Generator) -> None:
    s = _spectrum(rng, shape=(2, 3, 1, 4, 64), dims=("x", "y", "z", "dyn"))
    s = s.replace(dim_info={"dyn": {"header": {"RepetitionTime": [2.0] * 4}}})
    back = load(save(s, tmp_path / "mrsi.nii.gz"))
    assert back.dims == ("x", "y", "z", "dyn")
    np.testing.assert_array_equal(back.data, s.data)


def test_writer_refuses_unknown_dims(tmp_path: Path, rng: np.random.Generator) -> None:
    s = Spectrum(np.ones((2, 8), complex), Header(123.2, 1e-3), dims=("average",))
    with pytest.raises(WriteError, match="not NIfTI-MRS dimension tags"):
        save(s, tmp_path / "c.nii.gz")
    s4 = Spectrum(np.ones((1, 1, 1, 1, 8), complex), Header(123.2, 1e-3), dims=("coil", "dyn", "edit", "meas"))
    with pytest.raises(WriteError, match="at most 3"):
        to_nifti_mrs_object(s4)


def test_save_refuses_overwrite(tmp_path: Path, rng: np.random.Generator) -> None:
    p = save(_spectrum(rng), tmp_path / "a.nii.gz")
    with pytest.raises(WriteError, match="exists"):
        save(_spectrum(rng), p)
    save(_spectrum(rng), p, force=True)


def test_conjugation_helpers() -> None:
    x = np.array([1 + 2j, 3 - 4j])
    np.testing.assert_array_equal(from_stored(x), np.conj(x))
    np.testing.assert_array_equal(to_stored(from_stored(x)), x)


def test_shared_nifti_mrs_file(invivo: Path) -> None:
    """Osprey 7T STEAM water reference (spec2nii 0.3.4 from TWIX), 32 uncombined coils."""
    f = invivo / "nifti_mrs" / "sub-01_ses-01_SVS-ref.nii.gz"
    s = load(f)
    h = s.header
    assert s.dims == ("coil",) and s.shape == (32, 2048)
    assert h.spectrometer_frequency == pytest.approx(297.219948)
    assert h.spectral_width == pytest.approx(6002.4, abs=0.05)
    assert (h.echo_time, h.repetition_time) == (pytest.approx(0.011), pytest.approx(5.0))
    assert h.field_strength == pytest.approx(6.98, abs=0.01)
    assert h.geometry is not None and h.geometry.voxel_size == pytest.approx((20, 20, 20))
    assert h.acquisition["SequenceName"] == "svs_st" and h.acquisition["Manufacturer"] == "SIEMENS"
    assert "PatientName" not in h.acquisition and "PatientDoB" not in h.acquisition
    # water (the largest peak of the coil-summed magnitude spectrum) near 4.65 ppm
    mag = np.abs(s.spectrum()).sum(axis=0)
    assert abs(s.ppm_axis[np.argmax(mag)] - 4.65) < 0.1
    # stored array is the conjugate of Spectrum.data
    stored = np.asanyarray(nib.load(str(f)).dataobj)
    np.testing.assert_allclose(s.data[3], np.conj(stored[0, 0, 0, :, 3]), rtol=1e-6)


def test_not_nifti_mrs(tmp_path: Path) -> None:
    img = nib.Nifti1Image(np.zeros((2, 2, 2), np.float32), np.eye(4))
    p = tmp_path / "t1.nii.gz"
    nib.save(img, str(p))
    with pytest.raises(ReadError, match="not NIfTI-MRS"):
        load(p)


def test_missing_header_extension_fields(tmp_path: Path, rng: np.random.Generator) -> None:
    img = to_nifti_mrs_object(_spectrum(rng))
    nimg = nib.Nifti2Image(np.asarray(img.image[:]), img.header.get_best_affine(), header=img.header.copy())
    hdr = json.loads(nimg.header.extensions[0].get_content())
    del hdr["SpectrometerFrequency"]
    nimg.header.extensions.clear()
    nimg.header.extensions.append(nib.nifti1.Nifti1Extension(44, json.dumps(hdr).encode()))
    p = tmp_path / "nofreq.nii.gz"
    nib.save(nimg, str(p))
    with pytest.raises(HeaderFieldError, match="SpectrometerFrequency") as info:
        read_nifti_mrs(p)
    assert info.value.field == "SpectrometerFrequency" and info.value.path == str(p)


def test_truncated_and_garbage_files(tmp_path: Path, rng: np.random.Generator) -> None:
    good = save(_spectrum(rng), tmp_path / "a.nii")
    raw = good.read_bytes()
    trunc = tmp_path / "trunc.nii"
    trunc.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ReadError, match="trunc.nii"):
        load(trunc)
    gz = save(_spectrum(rng), tmp_path / "a.nii.gz")
    gz_trunc = tmp_path / "trunc.nii.gz"
    gz_trunc.write_bytes(gz.read_bytes()[: gz.stat().st_size // 2])
    with pytest.raises(ReadError, match="trunc.nii.gz"):
        load(gz_trunc)
    garbage = tmp_path / "garbage.nii.gz"
    garbage.write_bytes(b"this is not a nifti file at all" * 10)
    with pytest.raises(UnknownFormatError, match="garbage.nii.gz"):
        load(garbage)
    with pytest.raises(ReadError):
        load(garbage, format="nifti_mrs")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(min_value=2, max_value=300),
       lead=st.sampled_from([(), (2,), (3, 2), (2, 1, 2)]),
       seed=st.integers(0, 2**31 - 1),
       mhz=st.floats(min_value=60.0, max_value=600.0), sw=st.floats(min_value=500, max_value=10000))
def test_save_load_identity(tmp_path: Path, n: int, lead: tuple, seed: int, mhz: float, sw: float) -> None:
    rng = np.random.default_rng(seed)
    dims = ("coil", "dyn", "edit")[: len(lead)]
    data = rng.standard_normal(lead + (n,)) + 1j * rng.standard_normal(lead + (n,))
    s = Spectrum(data, Header(mhz, 1.0 / sw, echo_time=0.02), dims=dims)
    back = load(save(s, tmp_path / f"p{seed}.nii.gz", force=True))
    np.testing.assert_array_equal(back.data, s.data)
    assert back.dims == dims
    assert back.header.spectrometer_frequency == mhz
    assert back.header.spectral_width == pytest.approx(sw, rel=1e-6)


def test_write_function_directly(tmp_path: Path, rng: np.random.Generator) -> None:
    p = tmp_path / "direct.nii.gz"
    write_nifti_mrs(_spectrum(rng), p)
    assert p.exists() and load(p).dims == ("coil", "dyn")


def test_external_nifti_mrs_all_dims(tmp_path: Path, rng: np.random.Generator) -> None:
    """A file made by the nifti-mrs package itself: coil/dyn/edit dims, edit header, chemical shift keys."""
    from nifti_mrs.create_nmrs import gen_nifti_mrs

    data = rng.standard_normal((1, 1, 1, 128, 2, 3, 2)) + 1j * rng.standard_normal((1, 1, 1, 128, 2, 3, 2))
    img = gen_nifti_mrs(data, 1 / 4000.0, 123.2, dim_tags=["DIM_COIL", "DIM_DYN", "DIM_EDIT"])
    img.set_dim_tag("DIM_EDIT", "DIM_EDIT", info="MEGA", header={"EditCondition": ["ON", "OFF"]})
    img.add_hdr_field("SpecFreqChemShift", 4.7)
    img.add_hdr_field("RxOffset", -0.05)
    img.add_hdr_field("PatientName", "Somebody")
    img.add_hdr_field("WaterSuppressed", True)
    p = tmp_path / "edit.nii.gz"
    img.save(str(p))
    s = load(p)
    assert s.dims == ("coil", "dyn", "edit") and s.shape == (2, 3, 2, 128)
    np.testing.assert_allclose(s.data, np.moveaxis(np.asarray(img[:])[0, 0, 0], 0, -1), rtol=1e-6)
    assert s.dim_info["edit"] == {"info": "MEGA", "header": {"EditCondition": ["ON", "OFF"]}}
    assert s.header.ppm_reference == pytest.approx(4.65)  # SpecFreqChemShift + RxOffset
    assert s.header.acquisition["WaterSuppressed"] is True
    assert "PatientName" not in s.header.acquisition
    # write -> read keeps the ppm reference (RxOffset stays in acquisition, folded back on write)
    back = load(save(s, tmp_path / "edit2.nii.gz"))
    assert back.header.ppm_reference == pytest.approx(4.65)
    assert back.dim_info == s.dim_info
    np.testing.assert_array_equal(back.data, s.data)
