"""LCModel RAW/H2O reader and writer, control files, Fortran namelists."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pmlmrs.config import ReadOptions
from pmlmrs.core import Header, Spectrum
from pmlmrs.errors import HeaderFieldError, ReadError, UnsupportedVariantError, WriteError
from pmlmrs.io import find_reader, load, save
from pmlmrs.io.lcmodel import (
    find_control,
    parse_fortran_numbers,
    parse_namelists,
    read_control,
    read_raw,
    read_raw_fid,
    write_raw,
)
TEST_DATA = Path(__file__).resolve().parents[1] / "data"

LCM = TEST_DATA / "lcmodel"
RAW = LCM / "lcmodel_test_data.raw"
CONTROL = LCM / "lcmodel_test_control.file"
CHALLENGE_OPTS = ReadOptions(central_frequency=123.2, spectral_width=4000.0, echo_time=30.0)


def test_namelist_parser_handles_fortran_values():
    text = """ $SEQPAR
 FWHMBA =  0.1 ,
 HZPPPM =  127.7861,
 ECHOT =  ,
 SEQ = 'PRESS' $END
 $NMUSED
 IDBASI =
 'PRESS (123 MHz) TE=30; TE1=10.8',
 AUTOPH = F, CONCSC = -1.D0,
 PPMAPP =  0.5 -0.5,
 PPMGAP = 3*997.,
 ID = 'Mac''''',
 $END
  1.0 2.0
"""
    groups = parse_namelists(text)
    assert [g.name for g in groups] == ["SEQPAR", "NMUSED"]
    seq, used = groups
    assert seq["HZPPPM"] == pytest.approx(127.7861)
    assert seq["ECHOT"] is None
    assert seq["SEQ"] == "PRESS"
    assert used["IDBASI"] == "PRESS (123 MHz) TE=30; TE1=10.8"
    assert used["AUTOPH"] is False
    assert used["CONCSC"] == -1.0
    assert used["PPMAPP"] == [0.5, -0.5]
    assert used["PPMGAP"] == [997.0] * 3
    assert used["ID"] == "Mac''"
    assert text[used.end:].split() == ["1.0", "2.0"]


def test_fortran_numbers_free_fixed_and_d_exponent():
    assert parse_fortran_numbers("1.0D+00 -2.5e-1\n 3 4").tolist() == [1.0, -0.25, 3.0, 4.0]
    touching = "-1.23456E+02-6.54321E+01\n 1.00000E+00-2.00000E+00\n"
    want = [-123.456, -65.4321, 1.0, -2.0]
    np.testing.assert_allclose(parse_fortran_numbers(touching, "(2E12.5)"), want)
    np.testing.assert_allclose(parse_fortran_numbers(touching), want)


def test_control_file_is_parsed_and_found():
    ctl = read_control(CONTROL)
    assert ctl["HZPPPM"] == pytest.approx(127.786142)
    assert ctl["DELTAT"] == pytest.approx(5e-4)
    assert ctl["NUNFIL"] == 1024
    assert find_control(RAW) == CONTROL


def test_read_bsd_test_raw_with_control_next_to_it():
    s = read_raw(RAW)
    assert s.n_points == 1024
    assert s.dims == ()
    assert s.spectrometer_frequency == pytest.approx(127.786142)
    assert s.dwell_time == pytest.approx(5e-4)
    assert s.header.echo_time is None
    assert s.header.field_strength == pytest.approx(3.0, abs=0.01)
    assert "control file" in s.header.vendor["header_sources"]["spectrometer_frequency"]
    stored, nl = read_raw_fid(RAW)
    assert nl["NMID"]["FMTDAT"] == "(2E15.6)"
    np.testing.assert_allclose(s.data, np.conj(stored))  # LCModel convention -> NIfTI-MRS
    assert s.data[0] == pytest.approx(1.376081e-03 + 3.446260e-05j)
    assert repr(s).startswith("<Spectrum") and "\n" not in repr(s)
    assert s.provenance[0].name == "read"


def test_load_dispatches_to_lcmodel_and_options_win():
    assert find_reader(RAW).name == "lcmodel_raw"
    s = load(RAW, central_frequency=127.0, spectral_width=2500.0, echo_time=30)
    assert s.spectrometer_frequency == 127.0
    assert s.dwell_time == pytest.approx(1 / 2500)
    assert s.header.echo_time == pytest.approx(0.030)
    assert s.header.vendor["header_sources"] == {"spectrometer_frequency": "options", "dwell_time": "options"}
    raw = load(RAW, conjugate=False)
    np.testing.assert_allclose(raw.data, read_raw_fid(RAW)[0])


def test_missing_header_fields_name_the_option(tmp_path):
    p = tmp_path / "alone.raw"
    p.write_bytes(RAW.read_bytes())
    with pytest.raises(HeaderFieldError) as exc:
        load(p)
    assert exc.value.field == "spectrometer_frequency"
    assert "--central-frequency" in str(exc.value) and str(p) in str(exc.value)
    with pytest.raises(HeaderFieldError) as exc:
        load(p, central_frequency=127.786)
    assert exc.value.field == "dwell_time"
    assert "--spectral-width" in str(exc.value)
    # a control file given explicitly
    s = read_raw(p, control=CONTROL)
    assert s.spectrometer_frequency == pytest.approx(127.786142)


def test_conjugate_of_philips_sdat(invivo):
    """The LCModel test RAW is spant's export of a Philips SDAT; read through the two readers the
    FIDs agree, and the numbers stored in the RAW are their complex conjugate.

    spec2nii stores ``conj(read_sdat(...))`` in NIfTI-MRS; a pmlmrs Spectrum is the conjugate of the
    stored NIfTI-MRS array (see pmlmrs.io.nifti_mrs), i.e. ``read_sdat(...)`` itself.
    """
    philips = pytest.importorskip("spec2nii.Philips.philips")
    sdat = invivo / "philips_sdat" / "spant_phantom_press_te30" / "philips_spar_sdat_WS.SDAT"
    params = philips.read_spar(sdat.with_suffix(".SPAR"))
    stored_nifti = np.conj(philips.read_sdat(sdat, params["samples"], params["rows"])).reshape(-1)
    ref = np.conj(stored_nifti)
    raw_path = invivo / "lcmodel_raw" / "lcmodel_test_data.raw"
    s = read_raw(raw_path)
    scale = np.abs(ref).max()
    assert np.abs(s.data - ref).max() < 1e-5 * scale
    assert np.abs(read_raw_fid(raw_path)[0] - np.conj(ref)).max() < 1e-5 * scale  # stored = conjugate
    assert np.abs(np.conj(s.data) - ref).max() > 0.1 * scale  # and the conjugation matters
    try:
        vendor = load(sdat)
    except Exception:  # noqa: BLE001 - the vendor reader is another module; skip if absent/broken
        vendor = None
    if vendor is not None:
        assert np.abs(vendor.data.reshape(-1) - s.data).max() < 1e-5 * scale


def test_test_raw_has_naa_at_2ppm():
    """Physical check of the conjugation without ../shared: NAA/Cr/Cho of the phantom on the right side."""
    s = read_raw(RAW)
    spec = np.abs(s.spectrum())
    ppm = s.ppm_axis
    for lo, hi, want in ((1.9, 2.1, 2.0), (2.9, 3.1, 3.02), (3.1, 3.3, 3.2)):
        sl = s.slice_ppm(lo, hi)
        assert ppm[sl][np.argmax(spec[sl])] == pytest.approx(want, abs=0.03)
    assert spec[s.slice_ppm(1.9, 2.1)].max() > 5 * spec[s.slice_ppm(7.2, 7.4)].max()  # no mirror image


def test_challenge_raw_and_h2o(challenge):
    s = load(challenge / "datasets_LCModel" / "dataset1.RAW", options=CHALLENGE_OPTS)
    w = load(challenge / "datasets_LCModel" / "dataset1.H2O", options=CHALLENGE_OPTS)
    assert s.n_points == w.n_points == 2048
    assert s.spectral_width == pytest.approx(4000.0)
    assert w.header.acquisition["WaterSuppressed"] is False
    # water peak at 4.65 ppm, NAA at 2.01 ppm: the conjugation puts them on the right side
    ppm = w.ppm_axis
    assert ppm[np.argmax(np.abs(w.spectrum()))] == pytest.approx(4.65, abs=0.05)
    sl = s.slice_ppm(1.8, 2.2)
    assert ppm[sl][np.argmax(np.abs(s.spectrum()[sl]))] == pytest.approx(2.01, abs=0.03)
    assert np.abs(s.spectrum()[s.slice_ppm(7.1, 7.5)]).max() < 0.3 * np.abs(s.spectrum()[sl]).max()
    with pytest.raises(HeaderFieldError):
        load(challenge / "datasets_LCModel" / "dataset1.RAW")


def test_write_read_round_trip(tmp_path, rng):
    n = 512
    fid = (rng.normal(size=n) + 1j * rng.normal(size=n)) * np.exp(-np.arange(n) / 200)
    hdr = Header(123.2, 2.5e-4, echo_time=0.03, acquisition={"SequenceName": "PRESS"})
    s = Spectrum(fid, hdr, source="x.nii.gz")
    p = save(s, tmp_path / "out.RAW")
    back = load(p)  # $SEQPAR carries HZPPPM, DELTAT, ECHOT
    assert back.spectrometer_frequency == pytest.approx(123.2)
    assert back.dwell_time == pytest.approx(2.5e-4)
    assert back.header.echo_time == pytest.approx(0.03)
    assert back.header.acquisition["SequenceName"] == "PRESS"
    np.testing.assert_allclose(back.data, fid, rtol=0, atol=1e-7 * np.abs(fid).max())
    # what is stored is the LCModel (conjugate) convention
    np.testing.assert_allclose(read_raw_fid(p)[0], np.conj(fid), atol=1e-7 * np.abs(fid).max())
    with pytest.raises(WriteError):
        save(s, p)
    save(s, p, force=True)


def test_writer_refuses_several_fids(tmp_path):
    s = Spectrum(np.ones((2, 8), complex), Header(123.2, 2.5e-4), dims=("dyn",))
    with pytest.raises(WriteError, match="one FID"):
        write_raw(s, tmp_path / "two.raw")


@pytest.mark.parametrize(
    "content, error",
    [
        (" $NMID ID='x', FMTDAT='(2E15.6)' $END\n", ReadError),                      # no data
        (" $NMID ID='x', FMTDAT='(2E15.6)' $END\n 1.0 2.0\n 3.0\n", ReadError),      # odd count
        (" $NMID ID='x' $END\n 1.0 2.0\n abc def\n", ReadError),                     # garbage
        (" $NMID ID='x'\n 1.0 2.0\n", ReadError),                                    # no $END
        (" $NMID ID='a' $END\n 1 2\n $NMID ID='b' $END\n 1 2\n", UnsupportedVariantError),
    ],
)
def test_broken_files_raise_read_errors(tmp_path, content, error):
    p = tmp_path / "bad.raw"
    p.write_text(content)
    with pytest.raises(error) as exc:
        read_raw(p, CHALLENGE_OPTS)
    assert str(p) in str(exc.value)


def test_truncated_against_nunfil(tmp_path):
    p = tmp_path / "short.raw"
    lines = RAW.read_text().splitlines()
    p.write_text("\n".join(lines[:100]) + "\n")
    with pytest.raises(ReadError, match="NUNFIL"):
        read_raw(p, control=CONTROL)


def test_empty_file_and_basis_file_are_rejected(tmp_path):
    empty = tmp_path / "e.raw"
    empty.write_text("")
    with pytest.raises(ReadError):
        load(empty)
    with pytest.raises(ReadError):
        read_raw(TEST_DATA / "basis" / "lcmodel_test_3t.basis", CHALLENGE_OPTS)
    assert find_reader_or_none(TEST_DATA / "basis" / "lcmodel_test_3t.basis") != "lcmodel_raw"


def find_reader_or_none(path: Path) -> str | None:
    try:
        return find_reader(path).name
    except ReadError:
        return None


def test_shared_copy_is_identical(invivo):
    assert Path(invivo / "lcmodel_raw" / "lcmodel_test_data.raw").read_bytes() == RAW.read_bytes()
    assert (invivo / "basis" / "lcmodel" / "lcmodel_test_3t.basis").read_bytes() == (
        TEST_DATA / "basis" / "lcmodel_test_3t.basis").read_bytes()


def test_round_trip_property(tmp_path_factory):
    """write_raw then read_raw is the identity to 8 significant digits, for any finite FID."""
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from hypothesis.extra.numpy import arrays

    finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False, width=64)
    folder = tmp_path_factory.mktemp("prop")

    @settings(max_examples=25, deadline=None)
    @given(re=arrays(np.float64, st.integers(2, 64), elements=finite), data=st.data(),
           f0=st.floats(10.0, 500.0), sw=st.floats(500.0, 20000.0))
    def check(re, data, f0, sw):
        im = data.draw(arrays(np.float64, re.shape, elements=finite))
        fid = re + 1j * im
        s = Spectrum(fid, Header(f0, 1.0 / sw))
        p = write_raw(s, folder / "p.raw")
        back = read_raw(p)
        tol = 1e-7 * max(np.abs(fid).max(), 1e-300)
        assert np.abs(back.data - fid).max() <= tol + 1e-300
        assert back.spectrometer_frequency == pytest.approx(f0, rel=1e-8)
        assert back.dwell_time == pytest.approx(1.0 / sw, rel=1e-8)

    check()


def test_cut_off_raw_is_refused(tmp_path):
    """A RAW cut inside a number ('-1.2' after 'E'-format values) is a ReadError, not a shorter FID; so is
    one cut at a line end (RAW files do not store their length; 396 points is not a power of two),
    unless a control file declares that length (nunfil)."""
    text = RAW.read_text()
    data_start = text.index("$END", text.index("$NMID")) + len("$END")
    head, body = text[:data_start], text[data_start:]
    lines = body.splitlines()
    cut = tmp_path / "cut.raw"
    cut.write_text(head + "\n".join(lines[:50]) + "\n" + lines[50][:22])
    with pytest.raises(ReadError, match="cut off") as exc:
        read_raw(cut, CHALLENGE_OPTS)
    assert str(cut) in str(exc.value)
    short = tmp_path / "short.raw"
    short.write_text(head + "\n".join(lines[:99]) + "\n")
    with pytest.raises(ReadError, match="not a power of two: the file looks truncated") as exc:
        read_raw(short, CHALLENGE_OPTS)
    assert str(short) in str(exc.value)
    n = int(str(exc.value).split(" complex points")[0].split()[-1])
    assert n & (n - 1)
    ctl = tmp_path / "short.control"
    ctl.write_text(f" $LCMODL\n filraw = '{short}'\n nunfil = {n}\n $END\n")
    assert read_raw(short, CHALLENGE_OPTS, control=ctl).n_points == n
