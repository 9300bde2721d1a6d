"""Spectrum, Header and Geometry: validation, immutability, derived objects, provenance."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pmlmrs.core import (
    GYROMAGNETIC_RATIO_MHZ_PER_T,
    Geometry,
    Header,
    ProcessingStep,
    Spectrum,
    dim_to_tag,
    tag_to_dim,
)
from pmlmrs.errors import ConfigError


@pytest.fixture
def header() -> Header:
    return Header(123.2, 2.5e-4, echo_time=0.03, repetition_time=2.0)


@pytest.fixture
def spec(rng: np.random.Generator, header: Header) -> Spectrum:
    data = rng.standard_normal((4, 3, 256)) + 1j * rng.standard_normal((4, 3, 256))
    return Spectrum(data, header, dims=("coil", "dyn"), dim_info={"dyn": {"info": "averages"}}, source="x.nii.gz")


# ---- Header -------------------------------------------------------------------------------------
def test_header_defaults_and_units(header: Header) -> None:
    assert header.nucleus == "1H"
    assert header.ppm_reference == 4.65
    assert header.spectral_width == pytest.approx(4000.0)
    assert header.field_strength == pytest.approx(123.2 / GYROMAGNETIC_RATIO_MHZ_PER_T["1H"], abs=1e-3)
    d = header.to_dict()
    assert d["spectral_width_hz"] == pytest.approx(4000.0)
    assert d["echo_time_s"] == 0.03 and d["voxel_size_mm"] is None


@pytest.mark.parametrize("field, value", [
    ("spectrometer_frequency", 0.0), ("spectrometer_frequency", -1.0), ("spectrometer_frequency", float("nan")),
    ("dwell_time", 0.0), ("dwell_time", "abc"), ("echo_time", -0.01), ("repetition_time", float("inf")),
    ("echo_time", "30ms"), ("field_strength", -3.0),
])
def test_header_validation_names_the_field(field: str, value: object) -> None:
    kwargs = {"spectrometer_frequency": 123.2, "dwell_time": 2.5e-4, field: value}
    with pytest.raises(ConfigError, match=field):
        Header(**kwargs)


def test_header_is_frozen_and_replace_validates(header: Header) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        header.echo_time = 0.1  # type: ignore[misc]
    h2 = header.replace(echo_time=0.035)
    assert h2.echo_time == 0.035 and header.echo_time == 0.03
    with pytest.raises(ConfigError):
        header.replace(dwell_time=-1)


def test_header_explicit_ppm_reference_and_other_nucleus() -> None:
    assert Header(123.2, 1e-3, ppm_reference=4.7).ppm_reference == 4.7
    p31 = Header(51.7, 1e-3, nucleus="31P")
    assert p31.ppm_reference == 0.0
    assert p31.field_strength == pytest.approx(3.0, abs=0.01)


def test_header_copies_metadata_dicts() -> None:
    acq = {"Manufacturer": "Philips"}
    h = Header(123.2, 1e-3, acquisition=acq)
    acq["Manufacturer"] = "changed"
    assert h.acquisition["Manufacturer"] == "Philips"


# ---- Geometry -----------------------------------------------------------------------------------
def test_geometry() -> None:
    aff = np.diag([20.0, 30.0, 10.0, 1.0])
    aff[:3, 3] = [1, 2, 3]
    g = Geometry(aff)
    assert g.voxel_size == pytest.approx((20, 30, 10))
    assert g.volume_ml == pytest.approx(6.0)
    assert g.centre == (1.0, 2.0, 3.0)
    assert not g.affine.flags.writeable
    aff[0, 0] = 99  # the Geometry holds a copy
    assert g.voxel_size[0] == pytest.approx(20)
    assert g == Geometry(np.array(g.affine))
    assert "20x30x10" in repr(g)


@pytest.mark.parametrize("bad", [np.eye(3), np.full((4, 4), np.nan), np.zeros((4, 5))])
def test_geometry_rejects_bad_affines(bad: np.ndarray) -> None:
    with pytest.raises(ConfigError, match="4x4"):
        Geometry(bad)


# ---- Spectrum -----------------------------------------------------------------------------------
def test_spectrum_basics(spec: Spectrum) -> None:
    assert spec.n_points == 256
    assert spec.shape == (4, 3, 256)
    assert spec.dim_sizes == {"coil": 4, "dyn": 3}
    assert spec.spectral_width == pytest.approx(4000.0)
    assert spec.ppm_axis.shape == spec.hz_axis.shape == spec.time_axis.shape == (256,)
    assert spec.spectrum().shape == spec.shape
    assert spec.axis_of("dyn") == 1 and spec.has_dim("coil") and not spec.has_dim("edit")
    r = repr(spec)
    assert r.startswith("<Spectrum") and r.endswith(">") and "\n" not in r
    assert "coil=4" in r and "x.nii.gz" in r


def test_spectrum_is_immutable(spec: Spectrum) -> None:
    assert not spec.data.flags.writeable
    with pytest.raises(ValueError):
        spec.data[0, 0, 0] = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.dims = ("a",)  # type: ignore[misc]


def test_spectrum_copies_input(rng: np.random.Generator, header: Header) -> None:
    arr = np.ones(16, complex)
    s = Spectrum(arr, header)
    arr[0] = 5
    assert s.data[0] == 1
    assert s.data.dtype == np.complex128


@pytest.mark.parametrize("data, dims, match", [
    (np.ones(1, complex), (), "at least 2 points"),
    (np.ones((2, 8), complex), (), "do not match"),
    (np.ones((2, 8), complex), ("Coil",), "invalid dim name"),
    (np.ones((2, 2, 8), complex), ("coil", "coil"), "duplicate"),
])
def test_spectrum_validation(data: np.ndarray, dims: tuple, match: str, header: Header) -> None:
    with pytest.raises(ConfigError, match=match):
        Spectrum(data, header, dims=dims)


def test_spectrum_header_type_checked() -> None:
    with pytest.raises(ConfigError, match="Header"):
        Spectrum(np.ones(8, complex), {"spectrometer_frequency": 123.2})  # type: ignore[arg-type]


def test_take_iter_squeeze(spec: Spectrum) -> None:
    sub = spec.take("coil", 2)
    assert sub.dims == ("dyn",) and sub.shape == (3, 256)
    np.testing.assert_array_equal(sub.data, spec.data[2])
    assert sub.dim_info == {"dyn": {"info": "averages"}}
    items = list(spec.iter("dyn"))
    assert len(items) == 3 and all(s.dims == ("coil",) for s in items)
    np.testing.assert_array_equal(items[1].data, spec.data[:, 1])
    fids = list(spec.iter_fids())
    assert len(fids) == 12 and fids[5][0] == (1, 2)
    np.testing.assert_array_equal(fids[5][1], spec.data[1, 2])
    one = spec.take("coil", 0).take("dyn", 0)
    assert one.dims == () and one.shape == (256,)
    sq = Spectrum(np.ones((1, 3, 8), complex), spec.header, dims=("coil", "dyn")).squeeze()
    assert sq.dims == ("dyn",) and sq.shape == (3, 8)
    with pytest.raises(ConfigError, match="no dim 'edit'"):
        spec.take("edit", 0)


def test_with_data_records_provenance(spec: Spectrum) -> None:
    step = ProcessingStep("average", params={"dim": "dyn"}, details="mean over dyn")
    avg = spec.with_data(spec.data.mean(axis=1), step=step, dims=("coil",))
    assert avg.dims == ("coil",) and avg.provenance == (step,)
    assert spec.provenance == ()  # original untouched
    assert avg.header is spec.header
    again = avg.with_step(ProcessingStep("noop"))
    assert [s.name for s in again.provenance] == ["average", "noop"]
    with pytest.raises(ConfigError, match="do not match"):
        spec.with_data(spec.data.mean(axis=1))  # dims no longer fit the data


def test_with_data_same_shape_ok(spec: Spectrum) -> None:
    s2 = spec.with_data(spec.data * 2)
    np.testing.assert_allclose(s2.data, spec.data * 2)


def test_replace_validates(spec: Spectrum) -> None:
    with pytest.raises(ConfigError):
        spec.replace(dims=("coil",))


def test_slice_ppm_and_conversions(header: Header) -> None:
    s = Spectrum(np.ones(1024, complex), header)
    sl = s.slice_ppm(4.0, 1.0)
    ppm = s.ppm_axis[sl]
    assert ppm.min() >= 1.0 and ppm.max() <= 4.0 and len(ppm) > 0
    assert s.hz_to_ppm(s.ppm_to_hz(2.01)) == pytest.approx(2.01)
    assert s.ppm_to_hz(4.65) == pytest.approx(0.0)


def test_dim_tags() -> None:
    assert tag_to_dim("DIM_COIL") == "coil" and dim_to_tag("indirect_0") == "DIM_INDIRECT_0"


def test_processing_step_nifti_round_trip() -> None:
    step = ProcessingStep("align", params={"ppm": [1.8, 4.2]}, details="frequency alignment")
    entry = step.to_nifti_mrs()
    assert set(entry) == {"Time", "Program", "Version", "Method", "Details"}
    back = ProcessingStep.from_nifti_mrs(entry)
    assert (back.name, back.program, back.version, back.time) == (step.name, step.program, step.version, step.time)
    assert "frequency alignment" in back.details and "1.8" in back.details


@settings(max_examples=30, deadline=None)
@given(n=st.integers(min_value=2, max_value=512), f=st.floats(min_value=20, max_value=600),
       sw=st.floats(min_value=500, max_value=20000))
def test_spectrum_axes_match_header(n: int, f: float, sw: float) -> None:
    s = Spectrum(np.ones(n, complex), Header(f, 1.0 / sw))
    assert s.ppm_axis[n // 2] == pytest.approx(4.65)
    assert s.hz_axis[-1] - s.hz_axis[0] == pytest.approx(sw * (n - 1) / n, rel=1e-9)
