"""Water scaling: the ISMRM-challenge numbers, the LCModel-style formula, water area, FitResult scaling."""

from __future__ import annotations

import math

import numpy as np
import pytest

from _synthetic import make_result
from pmlmrs.core import Header, Spectrum
from pmlmrs.errors import ConfigError
from pmlmrs.quant import (
    PURE_WATER_MM,
    QuantOptions,
    combinations,
    concentration_scale,
    metabolite_attenuation,
    ratios,
    basis_proton_scale,
    scale_to_water,
    water_area,
    water_concentration,
)

#: The ISMRM 2016 fitting challenge (README): GM 60 % / WM 40 %, contents 0.78 / 0.65, water T2
#: 110 / 80 ms, metabolite T2 160 ms, TE 30 ms.
CHALLENGE = QuantOptions(gm_fraction=0.6, wm_fraction=0.4, csf_fraction=0.0, gm_water_t2=110, wm_water_t2=80,
                         metabolite_t2=160, echo_time=30)


def test_challenge_readme_numbers():
    # README: relaxation-corrected water concentration 29697 mM, metabolite correction 1.206
    assert water_concentration(CHALLENGE) == pytest.approx(29697, abs=2)
    assert 1 / metabolite_attenuation(CHALLENGE) == pytest.approx(1.206, abs=5e-4)
    assert PURE_WATER_MM == pytest.approx(55509.3, abs=0.1)


def test_concentration_formula_per_proton_convention():
    # a 5-proton metabolite at 10 mM and a 2-proton water signal, both on the data scale k per proton per mM
    k = 0.9237
    w_eff, r_met = water_concentration(CHALLENGE), metabolite_attenuation(CHALLENGE)
    water_signal = 2 * w_eff * k
    # fitted amplitude (basis FID[0] = protons) of 10 mM attenuated by T2
    amplitude = 10 * k * r_met
    scale = concentration_scale(water_signal, CHALLENGE)
    assert amplitude * scale == pytest.approx(10.0, rel=1e-12)


def test_echo_time_from_header_and_missing():
    o = QuantOptions()
    assert water_concentration(o, echo_time=0.030) == pytest.approx(0.65 * PURE_WATER_MM * math.exp(-30 / 80))
    with pytest.raises(ConfigError, match="echo time"):
        water_concentration(o)


def test_tissue_and_t1_corrections():
    with_csf = QuantOptions(gm_fraction=0.3, wm_fraction=0.5, csf_fraction=0.2, echo_time=30)
    no_corr = with_csf.replace(csf_correction=False)
    # CSF correction divides by the tissue fraction
    assert concentration_scale(1000.0, with_csf) == pytest.approx(concentration_scale(1000.0, no_corr) / 0.8)
    tr = with_csf.replace(repetition_time=2000)
    assert water_concentration(tr) < water_concentration(with_csf)
    assert metabolite_attenuation(tr) == pytest.approx(math.exp(-30 / 160) * (1 - math.exp(-2000 / 1400)))
    lc = QuantOptions(water_concentration_override=35880 * 0.7, metabolite_attenuation_override=1.0, echo_time=30)
    assert concentration_scale(2.0, lc) == pytest.approx(2 * 35880 * 0.7 / 2.0)
    with pytest.raises(ConfigError):
        QuantOptions(gm_fraction=-0.1)
    with pytest.raises(ConfigError):
        QuantOptions(gm_fraction=0, wm_fraction=0, csf_fraction=1)


def _water_fid(rng, area=5.0e4, n=2048, dwell=2.5e-4, lw=6.0, gw=4.0, hz=3.0, phase=0.7, noise=5.0):
    t = np.arange(n) * dwell
    fid = area * np.exp(1j * phase + 2j * np.pi * hz * t - np.pi * lw * t - (np.pi * gw * t) ** 2 / (4 * np.log(2)))
    fid += noise * (rng.normal(size=n) + 1j * rng.normal(size=n))
    return fid


def test_water_area_voigt(rng):
    fid = _water_fid(rng)
    fid[0] *= 0.5  # a corrupted first point must not bias the area
    area = water_area(fid, dwell_time=2.5e-4, method="voigt")
    assert area == pytest.approx(5.0e4, rel=0.005)
    spec = Spectrum(fid, Header(123.2, 2.5e-4, echo_time=0.03))
    assert water_area(spec, method="voigt") == pytest.approx(area)
    with pytest.raises(ConfigError):
        water_area(fid)


def test_scale_to_water_result(rng):
    r = make_result(rng)
    o = QuantOptions(echo_time=30, basis_scale=1.0)
    s = scale_to_water(r, 1.0e5, o)
    f = concentration_scale(1.0e5, o, echo_time=0.03)
    assert s.concentration_scale == pytest.approx(f)
    np.testing.assert_allclose(s.amplitudes, r.amplitudes * f)
    np.testing.assert_allclose(s.crlb, r.crlb * f)
    # relative CRLBs and ratios do not change
    assert s.crlb_percent("NAA") == pytest.approx(r.crlb_percent("NAA"))
    assert ratios(s)["tNAA_tCr"].value == pytest.approx(ratios(r)["tNAA_tCr"].value)
    assert combinations(s)["tCr"].crlb_percent == pytest.approx(combinations(r)["tCr"].crlb_percent)
    # scaling again starts from basis units
    s2 = scale_to_water(s, 1.0e5, o)
    np.testing.assert_allclose(s2.amplitudes, s.amplitudes)
    assert s2.provenance[-1].name == "water_scaling"


def test_basis_proton_scale_and_units(rng):
    from pmlmrs.basis import Basis
    from pmlmrs.errors import BasisError

    t = np.arange(1024) / 4000.0
    cr = 0.02 * (3 * np.exp(2j * np.pi * (3.03 - 4.65) * 123.2 * t) + 2 * np.exp(2j * np.pi * (3.92 - 4.65) * 123.2 * t))
    naa = 0.02 * 3 * np.exp(2j * np.pi * (2.01 - 4.65) * 123.2 * t)
    basis = Basis(("Cr", "NAA"), np.array([cr, naa]) * np.exp(-np.pi * 2 * t), 2.5e-4, 123.2)
    assert basis_proton_scale(basis) == pytest.approx(0.02)
    with pytest.raises(BasisError):
        basis_proton_scale(basis.subset(["NAA"]))
    # a basis stored 50x smaller gives 50x larger amplitudes and the same mM
    r = make_result(rng)
    o = QuantOptions(echo_time=30)
    small = scale_to_water(r.replace(amplitudes=r.amplitudes * 50, covariance=r.covariance * 2500,
                                     crlb=r.crlb * 50), 1.0e5, o, basis=basis)
    ref = scale_to_water(r, 1.0e5, o.replace(basis_scale=1.0))
    np.testing.assert_allclose(small.amplitudes, ref.amplitudes)
