"""Plain column text: 2-column FIDs, the 4-column ISMRM layout (WS + water), header comments."""

from __future__ import annotations

import numpy as np
import pytest

from pmlmrs.config import ReadOptions
from pmlmrs.core import Header, Spectrum
from pmlmrs.errors import HeaderFieldError, ReadError
from pmlmrs.io import find_reader, load, save
from pmlmrs.io.lcmodel import read_raw
from pmlmrs.io.text import read_text, read_text_pair, write_text

OPTS = ReadOptions(central_frequency=123.2, spectral_width=4000.0, echo_time=30.0)


def _write_cols(path, cols):
    np.savetxt(path, np.asarray(cols))
    return path


def test_two_columns_need_options(tmp_path, rng):
    fid = rng.normal(size=64) + 1j * rng.normal(size=64)
    p = _write_cols(tmp_path / "fid.txt", np.c_[fid.real, fid.imag])
    assert find_reader(p).name == "text"
    with pytest.raises(HeaderFieldError) as exc:
        load(p)
    assert exc.value.field == "spectrometer_frequency" and "--central-frequency" in str(exc.value)
    with pytest.raises(HeaderFieldError, match="--spectral-width"):
        load(p, central_frequency=123.2)
    s = load(p, options=OPTS)
    assert s.dims == () and s.n_points == 64
    np.testing.assert_allclose(s.data, np.conj(fid))  # headerless text: LCModel convention
    np.testing.assert_allclose(load(p, options=OPTS.replace(conjugate=False)).data, fid)


def test_four_columns_pair_and_many_columns(tmp_path, rng):
    a = rng.normal(size=(32, 6))
    p4 = _write_cols(tmp_path / "pair.txt", a[:, :4])
    ws = read_text(p4, OPTS)
    np.testing.assert_allclose(ws.data, np.conj(a[:, 0] + 1j * a[:, 1]))
    assert "water_fid" in ws.header.vendor
    m, w = read_text_pair(p4, OPTS)
    np.testing.assert_allclose(m.data, ws.data)
    np.testing.assert_allclose(w.data, np.conj(a[:, 2] + 1j * a[:, 3]))
    assert w.header.acquisition["WaterSuppressed"] is False
    p6 = _write_cols(tmp_path / "three.txt", a)
    s = read_text(p6, OPTS)
    assert s.dims == ("dyn",) and s.shape == (3, 32)
    with pytest.raises(ReadError, match="4"):
        read_text_pair(p6, OPTS)


def test_round_trip_with_header(tmp_path, rng):
    fid = rng.normal(size=(2, 16)) + 1j * rng.normal(size=(2, 16))
    s = Spectrum(fid, Header(127.75, 5e-4, echo_time=0.035, ppm_reference=4.7), dims=("dyn",))
    p = save(s, tmp_path / "out.dat")
    assert p.read_text() == write_text(s, tmp_path / "same.dat").read_text()
    back = load(p)  # header comes from the comments; no conjugation for our own files
    assert back.spectrometer_frequency == 127.75 and back.dwell_time == 5e-4
    assert back.header.echo_time == 0.035 and back.header.ppm_reference == 4.7
    np.testing.assert_array_equal(back.data, fid)


@pytest.mark.parametrize("content", ["", "# only a comment\n", "1 2 3\n4 5 6\n", "1 2\n3\n", "1 2\na b\n", "1 2\n"])
def test_broken_text(tmp_path, content):
    p = tmp_path / "bad.txt"
    p.write_text(content)
    with pytest.raises(ReadError):
        read_text(p, OPTS)


def test_challenge_text_equals_lcmodel_version(challenge):
    """The ISMRM text data set (4 columns) holds the same FIDs as its LCModel RAW/H2O files."""
    m, w = read_text_pair(challenge / "datasets_text" / "dataset1.txt", OPTS)
    raw = read_raw(challenge / "datasets_LCModel" / "dataset1.RAW", OPTS)
    h2o = read_raw(challenge / "datasets_LCModel" / "dataset1.H2O", OPTS)
    assert m.n_points == 2048
    scale = np.abs(raw.data).max()
    assert np.abs(m.data - raw.data).max() < 1e-4 * scale   # RAW has 6 significant digits
    assert np.abs(w.data - h2o.data).max() < 1e-4 * np.abs(h2o.data).max()
    sl = m.slice_ppm(1.9, 2.1)
    assert m.ppm_axis[sl][np.argmax(np.abs(m.spectrum()[sl]))] == pytest.approx(2.008, abs=0.01)
    assert w.ppm_axis[np.argmax(np.abs(w.spectrum()))] == pytest.approx(4.65, abs=0.02)
