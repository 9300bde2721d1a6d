"""The default pipeline on synthetic lesion-like data: QC, drift, rejection, contracts."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from pmlmrs.core import Header, Spectrum
from pmlmrs.errors import ConfigError, IncompatibleDataError
from pmlmrs.preprocess import PreprocessOptions, PreprocessResult, preprocess


@pytest.fixture(scope="module")
def result(synthetic) -> PreprocessResult:
    return preprocess(synthetic.metab, synthetic.water)


def test_output_is_one_fid_with_provenance(result):
    assert result.metab.dims == () and result.metab.n_points == 2048
    assert result.water is not None and result.water.dims == ()
    names = [s.name for s in result.metab.provenance]
    assert names == ["coil_combine", "align", "reject_outliers", "average", "eddy_current_correction",
                     "water_removal", "phase_correct", "frequency_reference"]
    assert result.qc["steps"] == names
    assert result.metab.header.acquisition["NumberOfTransients"] == 61


def test_qc_drift_and_rejection(result, synthetic):
    qc = result.qc
    assert qc["n_transients"] == 64 and qc["n_used"] == 61
    assert sorted(r["index"] for r in qc["rejected"]) == sorted(synthetic.corrupted)
    good = [i for i in range(64) if i not in synthetic.corrupted]
    ef = np.asarray(qc["frequency_drift_hz"])[good] - synthetic.freq_drift_hz[good]
    ep = np.asarray(qc["phase_drift_deg"])[good] - synthetic.phase_drift_deg[good]
    ef, ep = ef - ef.mean(), ep - ep.mean()
    assert np.sqrt(np.mean(ef ** 2)) < 0.1   # Hz
    assert np.sqrt(np.mean(ep ** 2)) < 1.0   # degrees
    # alignment and rejection sharpen the lines and raise the SNR
    assert qc["snr_after"] > qc["snr_before"]
    assert qc["fwhm_hz_after"] < qc["fwhm_hz_before"]
    assert qc["fwhm_hz_after"] == pytest.approx(6.0, abs=1.0)  # true NAA FWHM 6 Hz
    assert qc["residual_water"] < 0.05
    assert qc["water_fwhm_hz"] == pytest.approx(7.0, abs=1.0)
    assert qc["skipped"] == []


def test_reference_puts_cr_at_3027(result):
    from pmlmrs.preprocess import find_peak

    assert find_peak(result.metab, "cr") == pytest.approx(3.027, abs=0.003)
    assert find_peak(result.metab, "naa") == pytest.approx(2.008, abs=0.005)


def test_figure(result, tmp_path):
    fig = result.plot_alignment(tmp_path / "align.png")
    assert (tmp_path / "align.png").stat().st_size > 1000
    assert len(fig.axes) == 4


def test_steps_skipped_with_reasons(synthetic, caplog):
    one = synthetic.metab.take("coil", 0).take("dyn", 0)
    with caplog.at_level(logging.INFO, logger="pmlmrs"):
        res = preprocess(one, options=PreprocessOptions(reference="water"))
    skipped = {s["step"]: s["reason"] for s in res.qc["skipped"]}
    assert "no 'coil' dim" in skipped["coil_combine"]
    assert "no transient dim" in skipped["align"]
    assert skipped["eddy_current_correction"] == "no water reference"
    assert "referencing on Cr instead" in skipped["frequency_reference on water"]
    assert "skipping eddy_current_correction" in caplog.text
    assert res.metab.dims == () and res.water is None


def test_switches(synthetic):
    res = preprocess(synthetic.metab, synthetic.water,
                     PreprocessOptions(align=False, ecc=False, water_removal=False, reference=None))
    names = [s.name for s in res.metab.provenance]
    assert "align" not in names and "eddy_current_correction" not in names and "water_removal" not in names
    assert res.qc["residual_water"] > 1.0  # the water is still there
    with pytest.raises(ConfigError, match="coil combination is off"):
        preprocess(synthetic.metab, options=PreprocessOptions(coil_combine=False))


def test_bad_inputs(synthetic):
    bad = np.array(synthetic.metab.data)
    bad[0, 3, 10] = np.nan
    with pytest.raises(IncompatibleDataError, match="NaN"):
        preprocess(synthetic.metab.replace(data=bad))
    short = Spectrum(np.ones((4, 1024), complex), Header(127.75, 5e-4), dims=("dyn",), source="ref.nii.gz")
    with pytest.raises(IncompatibleDataError, match="2048 vs 1024 points.*ref.nii.gz"):
        preprocess(synthetic.metab, short)
    edited = Spectrum(np.ones((2, 4, 256), complex), Header(127.75, 5e-4), dims=("edit", "dyn"))
    with pytest.raises(IncompatibleDataError, match="edit=2"):
        preprocess(edited)


def test_water_reference_of_another_scan_is_refused(synthetic, caplog):
    """A reference 34 ppm off (another exam's frequency) is refused; 2 ppm (a vendor's offset between the
    two scans) passes; another echo time is a warning (water scaling uses the data's TE)."""
    w = synthetic.water
    mhz = synthetic.metab.spectrometer_frequency
    off = w.replace(header=w.header.replace(spectrometer_frequency=mhz * (1 - 34e-6)))
    with pytest.raises(IncompatibleDataError, match=r"34\.0 ppm apart"):
        preprocess(synthetic.metab, off)
    near = w.replace(header=w.header.replace(spectrometer_frequency=mhz * (1 + 2e-6)))
    preprocess(synthetic.metab, near)
    te = synthetic.metab.header.echo_time or 0.030
    other_te = w.replace(header=w.header.replace(echo_time=te + 0.005))
    with caplog.at_level(logging.WARNING, logger="pmlmrs"):
        preprocess(synthetic.metab.replace(header=synthetic.metab.header.replace(echo_time=te)), other_te)
    assert "water reference" in caplog.text and "echo time" in caplog.text


def test_water_left_after_removal_is_warned_about(rng, caplog):
    """Water 20x the NAA peak that the removal window misses (or an unsuppressed reference given as data)."""
    from pmlmrs.preprocess import WaterRemovalOptions
    from pmlmrs.preprocess._synthetic import lesion_like_svs

    syn = lesion_like_svs(rng, n_coils=1, n_transients=1, water_amplitude=20.0)
    s = Spectrum(syn.clean + syn.water_line, syn.metab.header)
    with caplog.at_level(logging.WARNING, logger="pmlmrs"):
        res = preprocess(s, options=PreprocessOptions(water=WaterRemovalOptions(ppm_range=(5.5, 6.0))))
    assert res.qc["residual_water"] > 1.0 and "unsuppressed water reference" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pmlmrs"):
        preprocess(s)
    assert "still water" not in caplog.text


def test_options_round_trip():
    opts = PreprocessOptions(reference="naa", alignment={"ppm_range": (1.9, 4.1), "max_shift": 10.0})
    again = PreprocessOptions.from_dict(opts.to_dict())
    assert again == opts and again.alignment.max_shift == 10.0
    with pytest.raises(ConfigError, match="Allowed values"):
        PreprocessOptions(reference="lipid")


def test_dim_order_and_names_do_not_matter(synthetic):
    small = synthetic.metab.replace(data=np.asarray(synthetic.metab.data)[:4, :16])
    a = preprocess(small)
    swapped = Spectrum(np.swapaxes(np.asarray(small.data), 0, 1), small.header, dims=("average", "coil"))
    b = preprocess(swapped)
    np.testing.assert_allclose(b.metab.data, a.metab.data, rtol=1e-9, atol=1e-9)
    assert b.qc["n_transients"] == 16
