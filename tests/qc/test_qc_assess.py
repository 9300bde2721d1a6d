"""QC measures and the STUDY.md rules on synthetic fits with known linewidth, SNR and lipid phase."""

from __future__ import annotations

import numpy as np
import pytest

from _synthetic import MHZ, N, SW, TRUTH, make_result
from pmlmrs.core import Header, Spectrum
from pmlmrs.errors import ConfigError
from pmlmrs.qc import (
    QCItem,
    QCOptions,
    assess,
    fit_quality,
    fwhm,
    fwhm_fit_ppm,
    fwhm_ppm,
    items_from,
    lipid_signal,
    qc_pass,
    snr,
    water_fwhm_ppm,
    with_qc,
    worst_level,
)


def _by_name(items):
    return {it.name: it for it in items}


def test_fwhm_of_lorentzian():
    x = np.linspace(-50, 50, 2001)
    g = 3.0
    y = (g / 2) ** 2 / (x**2 + (g / 2) ** 2)
    assert fwhm(x, y) == pytest.approx(g, rel=1e-3)
    assert np.isnan(fwhm(x[:1000], y[:1000] * 0 + 1))  # no half-maximum crossing


@pytest.mark.parametrize("lw_hz", [4.0, 8.0, 12.0])
def test_linewidth_data_and_fit(rng, lw_hz):
    r = make_result(rng, lw_hz=lw_hz, noise_sd=1.0)
    # Lorentzian FWHM = lw_hz; measured on the data (NAA isolated) and on the fitted NAA, within 5 %
    assert fwhm_ppm(r) == pytest.approx(lw_hz / MHZ, rel=0.05)
    assert fwhm_fit_ppm(r) == pytest.approx(lw_hz / MHZ, rel=0.05)


def test_snr_and_fit_quality(rng):
    r = make_result(rng, noise_sd=50.0)
    naa = r.data - r.fit + r.components[r.names.index("NAA")]
    height = np.max(np.real(naa)[(r.ppm > 1.9) & (r.ppm < 2.12)])
    assert snr(r) == pytest.approx(height / 50.0)
    # the fit reaches the noise: residual SD / noise SD close to 1 (a few parameters fitted)
    assert 0.85 < fit_quality(r) < 1.1


def test_good_spectrum_passes(rng):
    r = make_result(rng, noise_sd=20.0, lw_hz=5.0)
    items = assess(r, voi="lesion")
    assert [it.name for it in items] == ["convergence", "snr", "linewidth", "fit_quality", "crlb", "reference",
                                         "lipid_contamination"]
    assert all(it.level == "ok" for it in items), items
    assert qc_pass(items) and worst_level(items) == "ok"


def test_broad_lines_warn_and_fail(rng):
    warn = _by_name(assess(make_result(rng, lw_hz=0.085 * MHZ, noise_sd=5.0)))["linewidth"]
    fail = _by_name(assess(make_result(rng, lw_hz=0.12 * MHZ, noise_sd=5.0)))["linewidth"]
    assert warn.level == "warn" and "0.07" in warn.message and warn.fix
    assert fail.level == "fail" and not qc_pass([fail])


def test_low_snr_warns_and_crlbs_flagged(rng):
    r = make_result(rng, noise_sd=3000.0)
    items = _by_name(assess(r))
    assert snr(r) < 10
    assert items["snr"].level == "warn"
    assert items["crlb"].level == "warn" and "20 %" in items["crlb"].message
    # a flag, not an exclusion
    assert qc_pass(items.values())
    strict = _by_name(assess(r, options=QCOptions(crlb_level="fail")))
    assert strict["crlb"].level == "fail"


def test_lipid_crlb_not_judged_in_nawm(rng):
    amps = dict(TRUTH, Lip09=0.0, Lip13a=0.002, Lip13b=0.0)
    r = make_result(rng, amplitudes=amps, noise_sd=20.0)
    assert r.crlb_percent("Lip13a") > 20
    assert _by_name(assess(r, voi="nawm"))["crlb"].level == "ok"
    lesion = _by_name(assess(r, voi="lesion"))["crlb"]
    assert lesion.level == "warn" and "Lip" in lesion.message


def test_nonconvergence_fails(rng):
    items = assess(make_result(rng, converged=False))
    assert _by_name(items)["convergence"].level == "fail"
    assert not qc_pass(items)


def test_out_of_phase_lipids_flagged(rng):
    lipids = dict(TRUTH, Lip09=6.0, Lip13a=12.0, Lip13b=6.0)
    good = make_result(rng, amplitudes=lipids, noise_sd=20.0)
    assert abs(lipid_signal(good)["phase_deg"]) < 15
    assert _by_name(assess(good))["lipid_contamination"].level == "ok"
    bad = make_result(rng, amplitudes=lipids, noise_sd=20.0, data_lip_phase_deg=90.0)
    info = lipid_signal(bad)
    assert info["phase_deg"] > 45
    item = _by_name(assess(bad))["lipid_contamination"]
    assert item.level == "warn" and "out of phase" in item.message and item.fix


def test_nawm_plausibility(rng):
    r = make_result(rng, noise_sd=20.0)  # tCho/tCr = 0.2 at the edge; NAA/Cr normal
    ok = _by_name(assess(r, voi="nawm"))
    assert "plausibility" in ok
    high_cho = dict(TRUTH, GPC=6.0, PCho=4.0)
    item = _by_name(assess(make_result(rng, amplitudes=high_cho, noise_sd=20.0), voi="nawm"))["plausibility"]
    assert item.level == "warn" and "tCho_tCr" in item.message
    assert "plausibility" not in _by_name(assess(r, voi="lesion"))
    with pytest.raises(ConfigError):
        assess(r, voi="cortex")


def test_water_linewidth_used(rng, monkeypatch):
    t = np.arange(N) / SW
    lw = 7.0
    water = Spectrum(1e4 * np.exp(0.8j - np.pi * lw * t), Header(MHZ, 1 / SW))
    # absorption-mode FWHM of the Lorentzian: from the engine's Voigt fit ...
    assert water_fwhm_ppm(water) == pytest.approx(lw / MHZ, rel=0.02)

    # ... and model-free when the engine's water fit is not usable
    def broken(*a, **k):
        raise RuntimeError("no water fit")
    import pmlmrs.fit
    monkeypatch.setattr(pmlmrs.fit, "fit_water", broken)
    assert water_fwhm_ppm(water) == pytest.approx(lw / MHZ, rel=0.02)
    monkeypatch.undo()
    item = _by_name(assess(make_result(rng), water=water))["linewidth"]
    assert "water reference" in item.message


def test_items_roundtrip_and_with_qc(rng):
    r = with_qc(make_result(rng), voi="nawm")
    assert r.qc and all(isinstance(it, QCItem) for it in r.qc)
    back = items_from([it.to_dict() for it in r.qc])
    assert back == r.qc
    assert items_from([("warn", "x", "m", "f")])[0] == QCItem("warn", "x", "m", "f")
    with pytest.raises(ConfigError):
        QCItem("bad", "x", "m")
    assert qc_pass([{"level": "warn"}]) and not qc_pass([("fail", "x", "m", "")])


def test_absent_lipids_not_flagged_in_lesion(rng):
    amps = dict(TRUTH, Lip09=0.0, Lip13a=0.0, Lip13b=0.0)
    r = make_result(rng, amplitudes=amps, noise_sd=20.0)
    r = r.replace(amplitudes=np.where([n.startswith("Lip") for n in r.names], 0.0, r.amplitudes))
    item = _by_name(assess(r, voi="lesion"))["crlb"]
    assert item.level == "ok" and "not detected: Lip" in item.message


def test_fwhm_of_absent_naa_not_measured_on_noise(rng):
    r = make_result(rng, amplitudes=dict(TRUTH, NAA=0.0005, NAAG=0.0), noise_sd=20.0)
    assert np.isnan(fwhm_ppm(r))
    assert fwhm_fit_ppm(r) == pytest.approx(6.0 / MHZ, rel=0.05)  # the model still has a width


def test_no_creatine_fails(rng):
    """Every study ratio divides by tCr: a fit without creatine (e.g. a phantom or a wrong basis) fails QC."""
    r = make_result(rng, noise_sd=20.0)
    r = r.replace(amplitudes=np.where(np.isin(r.names, ["Cr", "PCr"]), 0.0, r.amplitudes))
    items = _by_name(assess(r))
    assert items["reference"].level == "fail" and "tCr = 0" in items["reference"].message
    assert not qc_pass(items.values())


def test_negative_snr_is_not_measurable(rng):
    """No NAA peak above the baseline gives a non-positive height: 'not measurable', never 'SNR -40'."""
    r = make_result(rng, amplitudes=dict(TRUTH, NAA=0.0, NAAG=0.0), noise_sd=20.0)
    r = r.replace(data=r.data - 5 * np.abs(r.data).max() * ((r.ppm > 1.9) & (r.ppm < 2.12)))
    item = _by_name(assess(r))["snr"]
    assert snr(r) <= 0 and item.level == "warn" and "not measurable" in item.message


def test_frequency_axis_check(rng):
    """A spectrum that matches the basis template far better mirrored (a conjugated FID) fails QC;
    the fit's ``template_match`` numbers of a brain spectrum pass; no numbers, no item."""
    r = make_result(rng)
    assert "frequency_axis" not in [it.name for it in assess(r)]
    ok = r.replace(params={**r.params, "template_match": {"direct": 0.9, "mirrored": 0.3}})
    item = _by_name(assess(ok))["frequency_axis"]
    assert item.level == "ok" and item.value == 0.3
    for direct, mirrored, level in ((0.12, 0.94, "fail"), (0.3, 0.55, "ok"), (0.2, 0.45, "ok")):
        bad = r.replace(params={**r.params, "template_match": {"direct": direct, "mirrored": mirrored}})
        items = assess(bad)
        assert _by_name(items)["frequency_axis"].level == level
        assert qc_pass(items) == (level == "ok")
    assert "conjugat" in _by_name(assess(r.replace(params={**r.params, "template_match": {
        "direct": 0.1, "mirrored": 0.9}})))["frequency_axis"].message
