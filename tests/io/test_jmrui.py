"""jMRUI text reader and writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pmlmrs.config import ReadOptions
from pmlmrs.core import Header, Spectrum
from pmlmrs.errors import HeaderFieldError, ReadError
from pmlmrs.io import find_reader, load, save
from pmlmrs.io.jmrui import read_jmrui_header, read_jmrui_txt, write_jmrui_txt
from pmlmrs.io.lcmodel import read_raw

TEST_DATA = Path(__file__).resolve().parents[1] / "data"

#: A hand-written jMRUI text file as jMRUI 5/6 exports it (header, then "Signal 1 out of 1 in file").
JMRUI_TEXT = """jMRUI Data Textfile

Filename: example.txt

PointsInDataset: 4
DatasetsInFile: 1
SamplingInterval: 2.5E-1
ZeroOrderPhase: 0E0
BeginTime: 0E0
TransmitterFrequency: 1.232E8
MagneticField: 2.8935E0
TypeOfNucleus: 0E0
NameOfPatient: somebody
DateOfExperiment: 20170101
Spectrometer: sim
AdditionalInfo: 


Signal and FFT
sig(real)\tsig(imag)\tfft(real)\tfft(imag)
Signal 1 out of 1 in file
1.0E0\t0.0E0\t0\t0
5.0E-1\t2.0E-1\t0\t0
2.5E-1\t-1.0E-1\t0\t0
1.0E-1\t5.0E-2\t0\t0
"""


def test_read_handwritten_file(tmp_path):
    p = tmp_path / "example.txt"
    p.write_text(JMRUI_TEXT)
    assert find_reader(p).name == "jmrui_txt"
    s = load(p)
    assert s.n_points == 4 and s.dims == ()
    assert s.dwell_time == pytest.approx(2.5e-4)
    assert s.spectrometer_frequency == pytest.approx(123.2)
    assert s.header.nucleus == "1H"
    # jMRUI text holds the Spectrum convention: no conjugation (see pmlmrs.io.jmrui)
    np.testing.assert_allclose(s.data, [1.0, 0.5 + 0.2j, 0.25 - 0.1j, 0.1 + 0.05j])
    # patient fields are not carried into the header
    assert "NameOfPatient" not in s.header.vendor["jmrui"]
    assert "DateOfExperiment" not in s.header.vendor["jmrui"]
    flipped = load(p, conjugate=True)
    np.testing.assert_allclose(flipped.data, np.conj([1.0, 0.5 + 0.2j, 0.25 - 0.1j, 0.1 + 0.05j]))
    s2 = load(p, central_frequency=123.0, spectral_width=2000, echo_time=30)
    assert s2.spectrometer_frequency == 123.0 and s2.dwell_time == pytest.approx(5e-4)
    assert s2.header.echo_time == pytest.approx(0.03)


def test_round_trip_and_agreement_with_lcmodel(tmp_path):
    """LCModel RAW -> Spectrum -> jMRUI text -> Spectrum gives the same FID; jMRUI stores it as is,
    LCModel its conjugate (as FID-A's io_writejmrui/io_writelcm do)."""
    s = read_raw(TEST_DATA / "lcmodel" / "lcmodel_test_data.raw")
    p = save(s, tmp_path / "phantom.txt")  # the .txt writer is jMRUI text (self-describing)
    hdr, stored = read_jmrui_header(p)
    assert hdr["PointsInDataset"] == 1024
    np.testing.assert_allclose(stored[0], s.data, rtol=1e-9, atol=1e-15)
    from pmlmrs.io.lcmodel import read_raw_fid

    np.testing.assert_allclose(stored[0], np.conj(read_raw_fid(TEST_DATA / "lcmodel" / "lcmodel_test_data.raw")[0]),
                               rtol=1e-6, atol=1e-12)
    back = load(p)
    np.testing.assert_allclose(back.data, s.data, rtol=1e-9, atol=1e-15)
    assert back.spectrometer_frequency == pytest.approx(s.spectrometer_frequency)
    assert back.dwell_time == pytest.approx(s.dwell_time)
    sl = back.slice_ppm(1.9, 2.1)  # the phantom's NAA stays at 2.0 ppm
    assert back.ppm_axis[sl][np.argmax(np.abs(back.spectrum()[sl]))] == pytest.approx(2.0, abs=0.03)


def test_private_header_variants_are_dropped(tmp_path):
    p = tmp_path / "v.txt"
    p.write_text(JMRUI_TEXT.replace("NameOfPatient: somebody", "Name of Patient: somebody")
                 .replace("DateOfExperiment: 20170101", "Date of Experiment: 20170101")
                 .replace("TypeOfNucleus: 0E0", "TypeOfNucleus: 1H"))
    s = read_jmrui_txt(p)
    assert not any("atient" in k or "Experiment" in k for k in s.header.vendor["jmrui"])
    assert s.header.nucleus == "1H"


def test_several_signals_become_user_0(tmp_path):
    data = np.arange(12).reshape(3, 4) * (1 + 0.5j)
    s = Spectrum(data, Header(297.2, 1 / 6000), dims=("dyn",))
    p = write_jmrui_txt(s, tmp_path / "three.txt")
    back = read_jmrui_txt(p)
    assert back.dims == ("user_0",)
    np.testing.assert_allclose(back.data, data)
    assert back.spectrometer_frequency == pytest.approx(297.2)


@pytest.mark.parametrize("edit, error", [
    (lambda t: t.replace("SamplingInterval: 2.5E-1\n", ""), HeaderFieldError),
    (lambda t: t.replace("TransmitterFrequency: 1.232E8\n", ""), HeaderFieldError),
    (lambda t: t[: t.index("Signal 1 out of")], ReadError),                # header only
    (lambda t: t.rsplit("\n", 2)[0] + "\n", ReadError),                    # last row missing
    (lambda t: t.replace("2.5E-1\t-1.0E-1", "x\ty"), ReadError),           # garbage row
])
def test_broken_files(tmp_path, edit, error):
    p = tmp_path / "bad.txt"
    p.write_text(edit(JMRUI_TEXT))
    with pytest.raises(error) as exc:
        read_jmrui_txt(p)
    assert str(p) in str(exc.value)


def test_missing_fields_can_come_from_options(tmp_path):
    p = tmp_path / "nohdr.txt"
    p.write_text(JMRUI_TEXT.replace("SamplingInterval: 2.5E-1\n", "").replace("TransmitterFrequency: 1.232E8\n", ""))
    s = read_jmrui_txt(p, ReadOptions(central_frequency=123.2, spectral_width=4000))
    assert s.spectral_width == pytest.approx(4000)
