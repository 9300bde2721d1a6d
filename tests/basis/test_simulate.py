"""Density-matrix basis simulation: spin-system table, sequences, scaling, and agreement with the ISMRM 2016
fitting-challenge basis (PRESS TE1 11 / TE2 19 ms, 123.2 MHz, ideal pulses)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize

from pmlmrs.basis import Basis, bundled_basis, bundled_basis_names, load_basis
from pmlmrs.basis.simulate import (
    SEQUENCES,
    _lines_to_fid,
    sequence_steps,
    simulate_basis,
    simulate_group,
    simulate_metabolite,
)
from pmlmrs.basis.spin_systems import METABOLITES, SpinGroup, get_metabolite, metabolite_names
from pmlmrs.errors import BasisError, ConfigError

F0 = 123.2
REQUIRED = ("NAA", "NAAG", "Cr", "PCr", "GPC", "PCho", "Ins", "sIns", "Glu", "Gln", "GABA", "GSH", "Lac",
            "Tau", "Asp", "Ala", "Glc", "PE", "Asc", "Gly", "Ace")


def _peak_hz(spec: np.ndarray, hz: np.ndarray, lo: float, hi: float) -> float:
    """Frequency (Hz) of the largest real peak between lo and hi Hz, parabolic interpolation."""
    sel = np.flatnonzero((hz > lo) & (hz < hi))
    i = sel[np.argmax(spec.real[sel])]
    a, b, c = spec.real[i - 1], spec.real[i], spec.real[i + 1]
    return float(hz[i] + 0.5 * (a - c) / (a - 2 * b + c) * (hz[1] - hz[0]))


# ----------------------------------------------------------------------------------------------
# table
# ----------------------------------------------------------------------------------------------

def test_table_has_the_required_metabolites() -> None:
    assert set(REQUIRED) <= set(metabolite_names())
    assert get_metabolite("PCh").name == "PCho" and get_metabolite("mI").name == "Ins"
    with pytest.raises(BasisError, match="known"):
        get_metabolite("Xyz")
    # proton counts (non-exchangeable protons; glucose averaged over anomers)
    expect = {"Cr": 5, "PCr": 5, "NAA": 6, "Lac": 4, "Gly": 2, "sIns": 6, "Ins": 6, "Glu": 5, "Gln": 5,
              "GPC": 18, "PCho": 13, "Ace": 3, "Tau": 4, "GABA": 6, "Glc": 7, "GSH": 10, "NAAG": 11}
    for name, n in expect.items():
        assert METABOLITES[name].n_protons == pytest.approx(n), name
    assert max(g.n_spins for m in METABOLITES.values() for g in m.groups) <= 7


def test_spin_group_validation() -> None:
    with pytest.raises(BasisError):
        SpinGroup((1.0, 2.0), ((0, 2, 5.0),))
    with pytest.raises(BasisError):
        SpinGroup((1.0,), nuclei=("13C",))


# ----------------------------------------------------------------------------------------------
# machinery
# ----------------------------------------------------------------------------------------------

def test_lines_to_fid_matches_direct_sum() -> None:
    freq = np.array([12.5, -300.25, 777.0])
    amp = np.array([1.0, 0.5j, -2.0 + 1j])
    t = np.arange(3000) / 4000
    direct = np.exp(2j * np.pi * np.outer(t, freq)) @ amp
    np.testing.assert_allclose(_lines_to_fid(freq, amp, 3000, 1 / 4000), direct, atol=1e-10)


def test_sequence_timing() -> None:
    assert set(SEQUENCES) == {"press", "steam", "slaser", "fid"}
    steps = sequence_steps("press", 0.030, te1=0.011)
    delays = [s.duration for s in steps if s.kind == "delay"]
    assert delays == pytest.approx([0.0055, 0.0055 + 0.0095, 0.0095])
    steps = sequence_steps("slaser", 0.080)
    assert [s.duration for s in steps if s.kind == "delay"] == pytest.approx([0.01, 0.02, 0.02, 0.02, 0.01])
    assert sum(s.kind == "pulse" for s in steps) == 5
    steps = sequence_steps("steam", 0.020, tm=0.015)
    assert [s.duration for s in steps if s.kind == "delay"] == pytest.approx([0.01, 0.015, 0.01])
    for bad in (dict(te1=0.02, te2=0.02), dict(te1=0.04)):
        with pytest.raises(ConfigError):
            sequence_steps("press", 0.030, **bad)
    with pytest.raises(ConfigError, match="seconds"):
        sequence_steps("press", 30.0)
    with pytest.raises(ConfigError):
        sequence_steps("steam", 0.02, te1=0.01)
    with pytest.raises(ConfigError):
        sequence_steps("spin-echo", 0.02)


def test_singlet_position_and_area() -> None:
    """(a) Cr CH3 lands at 3.027 ppm; a 3-proton singlet has FID(0) = 3 in every sequence."""
    n, sw = 8192, 2000.0
    for seq, te in (("press", 0.030), ("steam", 0.020), ("slaser", 0.060), ("fid", 0.0)):
        b = simulate_basis(seq, te, spectrometer_frequency=F0, n_points=n, spectral_width=sw, metabolites=["Cr"],
                           linewidth_hz=1.0)
        fid = b.fid("Cr")
        assert fid[0] == pytest.approx(5.0, abs=1e-9)     # CH3 (3) + CH2 (2), in phase
        spec = b.spectra()[0]
        hz = (b.ppm_axis - b.ppm_reference) * F0
        ppm = b.ppm_reference + _peak_hz(spec, hz, (2.9 - 4.65) * F0, (3.1 - 4.65) * F0) / F0
        assert ppm == pytest.approx(3.027, abs=0.0005), seq
        # area of the CH3 line (first point halved: no baseline offset) = 3 protons
        fid_h = fid.copy()
        fid_h[0] *= 0.5
        s = np.fft.fftshift(np.fft.fft(fid_h)).real
        sel = (b.ppm_axis > 2.5) & (b.ppm_axis < 3.5)
        assert 2 * s[sel].sum() / n == pytest.approx(3.0, rel=0.02), seq   # Lorentzian tails beyond +-0.5 ppm


def test_lactate_doublet_and_te_inversion() -> None:
    """(b) Lac CH3 doublet at 1.31 ppm split by J = 6.93 Hz; inverted at PRESS TE 144 ms (TE ~ 1/J)."""
    n, sw = 16384, 2000.0
    b = simulate_basis("fid", 0.0, spectrometer_frequency=F0, n_points=n, spectral_width=sw, metabolites=["Lac"],
                       linewidth_hz=0.3)
    spec = b.spectra()[0]
    hz = (b.ppm_axis - b.ppm_reference) * F0
    centre = (1.3142 - 4.65) * F0
    lo = _peak_hz(spec, hz, centre - 8, centre)
    hi = _peak_hz(spec, hz, centre, centre + 8)
    assert hi - lo == pytest.approx(6.933, abs=0.05)
    assert 4.65 + (lo + hi) / 2 / F0 == pytest.approx(1.3142, abs=0.0005)

    def methyl_area(te: float) -> float:
        # exact line amplitudes of the CH3 doublet (within 20 Hz of 1.3142 ppm)
        f, a = simulate_group(get_metabolite("Lac").groups[0], sequence_steps("press", te),
                              spectrometer_frequency=F0)
        return float(a[np.abs(f - centre) < 20].sum().real)

    # weak coupling, ideal pulses: methyl area = 3 cos(pi J TE); strong coupling at 123 MHz moves it < 0.1
    for te in (0.020, 0.068, 0.144, 0.288):
        assert methyl_area(te) == pytest.approx(3 * np.cos(np.pi * 6.933 * te), abs=0.1), te
    assert methyl_area(0.144) < -2.95

    # and in the basis spectrum: both doublet lines point down at TE 144 ms, up at 30 and 288 ms
    for te, sign in ((0.030, 1), (0.144, -1), (0.288, 1)):
        bb = simulate_basis("press", te, spectrometer_frequency=F0, n_points=8192, spectral_width=2000.0,
                            metabolites=["Lac"], linewidth_hz=1.0)
        s = bb.spectra()[0].real
        hz_b = (bb.ppm_axis - bb.ppm_reference) * F0
        for lo_, hi_ in ((centre - 6, centre - 1), (centre + 1, centre + 6)):
            sel = (hz_b > lo_) & (hz_b < hi_)
            extreme = s[sel][np.argmax(np.abs(s[sel]))]
            assert np.sign(extreme) == sign, (te, lo_)
            assert abs(extreme) > 0.5 * np.abs(s).max()


def test_short_echo_limits_and_sequences_agree() -> None:
    """PRESS, sLASER and STEAM at TE -> 0 (TM -> 0) give the pulse-acquire FID (ideal pulses)."""
    kw = dict(spectrometer_frequency=F0, n_points=1024, spectral_width=4000.0, metabolites=["Glu", "Ins", "GPC"])
    ref = simulate_basis("fid", 0.0, **kw)
    for seq, extra in (("press", {}), ("slaser", {}), ("steam", {"tm": 1e-9})):
        b = simulate_basis(seq, 1e-7, **extra, **kw)
        np.testing.assert_allclose(b.fids, ref.fids, atol=1e-3, err_msg=seq)


def test_strong_coupling_matters_and_dwell_independence() -> None:
    """Glu at 1.5 T vs 7 T differs (strong coupling, not a pure ppm rescaling); lines are exact so the
    FID sampled at half the dwell time agrees at the common points."""
    steps = sequence_steps("press", 0.030)
    a = simulate_metabolite("Glu", steps, spectrometer_frequency=F0, n_points=512, dwell_time=1 / 2000)
    b = simulate_metabolite("Glu", steps, spectrometer_frequency=F0, n_points=1024, dwell_time=1 / 4000)
    np.testing.assert_allclose(a, b[::2], atol=1e-9)
    # weakly coupled AX: singlet of a spin with a distant partner keeps 1/2 + 1/2 amplitude
    f, amp = simulate_group(SpinGroup((2.0, 4.0), ((0, 1, 7.0),)), sequence_steps("fid", 0.0),
                            spectrometer_frequency=F0)
    assert np.sum(amp).real == pytest.approx(2.0, abs=1e-9) and len(f) == 4


def test_strongly_coupled_ab_pair_matches_analytic_spectrum() -> None:
    """AB system, pulse-acquire: lines at nu_c +- (D +- J)/2 with D = sqrt(dnu^2 + J^2), inner lines
    (1 + J/D)/2 and outer lines (1 - J/D)/2 (textbook strong-coupling result)."""
    ppm_a, ppm_b, j = 3.00, 3.10, 10.0
    f, amp = simulate_group(SpinGroup((ppm_a, ppm_b), ((0, 1, j),)), sequence_steps("fid", 0.0),
                            spectrometer_frequency=F0)
    order = np.argsort(f)
    f, amp = f[order], amp[order].real
    dnu = (ppm_b - ppm_a) * F0
    d = np.hypot(dnu, j)
    centre = ((ppm_a + ppm_b) / 2 - 4.65) * F0
    expect_f = centre + np.array([-(d + j) / 2, -(d - j) / 2, (d - j) / 2, (d + j) / 2])
    expect_a = np.array([1 - j / d, 1 + j / d, 1 + j / d, 1 - j / d]) / 2
    np.testing.assert_allclose(f, expect_f, atol=1e-9)
    np.testing.assert_allclose(amp, expect_a, atol=1e-12)


def test_basis_fields_and_speed() -> None:
    import time

    t0 = time.perf_counter()
    b = simulate_basis("press", 0.030, te1=0.011, te2=0.019, spectrometer_frequency=F0, n_points=2048,
                       spectral_width=4000.0)
    elapsed = time.perf_counter() - t0
    assert elapsed < 30.0
    assert isinstance(b, Basis) and set(REQUIRED) <= set(b.names)
    assert b.dwell_time == pytest.approx(1 / 4000) and b.n_points == 2048 and b.echo_time == pytest.approx(0.030)
    assert b.ppm_reference == 4.65 and b.spectrometer_frequency == F0
    assert b.meta["sequence"] == "PRESS" and b.meta["te1_ms"] == pytest.approx(11) and b.meta["te2_ms"] == 19
    assert b.meta["source"].startswith("pmlmrs simulate v")
    assert np.all(np.isfinite(b.fids))
    with pytest.raises(ConfigError):
        simulate_basis("press", 0.03, spectrometer_frequency=F0, n_points=0, spectral_width=4000.0)
    with pytest.raises(ConfigError):
        simulate_basis("press", 0.03, spectrometer_frequency=F0, n_points=64, spectral_width=4000.0,
                       metabolites=["Cr", "Cr"])


# ----------------------------------------------------------------------------------------------
# (c) agreement with the ISMRM 2016 fitting-challenge basis
# ----------------------------------------------------------------------------------------------

def _corr(sim: np.ndarray, ref: np.ndarray, t: np.ndarray, sel: np.ndarray, lor: float, gau: float,
          shift: float = 0.0) -> float:
    a = sim * np.exp(-np.pi * abs(lor) * t - (np.pi * gau * t) ** 2 / (4 * np.log(2)) + 2j * np.pi * shift * t)
    x = np.fft.fftshift(np.fft.fft(a)).real[sel]
    y = np.fft.fftshift(np.fft.fft(ref)).real[sel]
    return float(np.corrcoef(x, y)[0, 1])


def _agreement(ref: Basis, names: tuple[str, ...] | None = None) -> dict[str, tuple[float, float, float]]:
    """Per metabolite: (r with fitted Lorentz+Gauss broadening, r with broadening and a frequency offset
    within +-1 Hz, that offset in Hz), over 0.5-4.2 ppm of the real spectra (simulated vs *ref*)."""
    names = tuple(n for n in (names or ref.names) if n in METABOLITES)
    sim = simulate_basis("press", 0.030, te1=0.011, te2=0.019, spectrometer_frequency=ref.spectrometer_frequency,
                         n_points=ref.n_points, spectral_width=ref.spectral_width, linewidth_hz=0.0,
                         metabolites=names, ppm_reference=ref.ppm_reference)
    t = np.arange(ref.n_points) * ref.dwell_time
    sel = (ref.ppm_axis > 0.5) & (ref.ppm_axis < 4.2)
    out = {}
    for name in names:
        s, r = sim.fid(name), ref.fid(name)
        fits = [minimize(lambda p: -_corr(s, r, t, sel, p[0], p[1]), x0=[l0, g0], method="Nelder-Mead")
                for l0, g0 in ((0.5, 0.5), (2.0, 2.0))]
        best = min(fits, key=lambda f: f.fun)
        fs = minimize(lambda p: -_corr(s, r, t, sel, p[0], p[1], float(np.clip(p[2], -1, 1))),
                      x0=[*best.x, 0.0], method="Nelder-Mead")
        shift = float(np.clip(fs.x[2], -1, 1))
        out[name] = (-best.fun, max(-fs.fun, -best.fun), shift)
    return out


@pytest.fixture(scope="module")
def challenge_agreement() -> dict[str, tuple[float, float, float]]:
    """:func:`_agreement` against the bundled copy of the challenge basis."""
    if "ismrm2016_press_3T_30ms" not in bundled_basis_names():
        pytest.skip("bundled ISMRM 2016 basis not installed")
    return _agreement(bundled_basis("ismrm2016_press_3T_30ms"))


# Measured (this implementation, Govindaraju 2000 table): broadening only / broadening + offset (Hz):
# NAA 0.998/0.999 (-0.1), Cr 0.936/1.000 (-0.5), GPC 0.999/1.000, PCho 0.993/0.995 (-0.3),
# Ins 0.973/0.999 (+0.5), Glu 0.984/0.988 (-0.2), Gln 0.929/0.954 (+0.5), Lac 0.976/0.9995 (+0.2),
# Tau 0.949/0.993 (-0.7). The offsets are differences between the chemical-shift tables (the challenge
# basis has Cr CH3 at 3.023 ppm, Govindaraju 3.027). Gln: the challenge basis has its 2-CH multiplet at
# 3.762 ppm against 3.753 ppm in Govindaraju 2000; with 3.764 ppm the broadening-only r would be 0.987.
_SHIFT_DIFFERS = {"Cr": 0.936, "Ins": 0.973, "Gln": 0.929, "Lac": 0.976, "Tau": 0.949}


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=(
        f"r ~ {_SHIFT_DIFFERS[n]} with broadening only: the challenge basis used other chemical shifts")))
    if n in _SHIFT_DIFFERS else n
    for n in ("NAA", "Cr", "GPC", "PCho", "Ins", "Glu", "Gln", "Lac", "Tau")])
def test_matches_challenge_basis_broadening_only(challenge_agreement: dict, name: str) -> None:
    assert challenge_agreement[name][0] >= 0.98


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=(
        "Gln 2-CH at 3.753 ppm (Govindaraju 2000) vs ~3.762 ppm in the challenge basis: r ~ 0.954")))
    if n == "Gln" else n
    for n in ("NAA", "Cr", "GPC", "PCho", "Ins", "Glu", "Gln", "Lac", "Tau")])
def test_matches_challenge_basis_with_offset(challenge_agreement: dict, name: str) -> None:
    r, r_shift, shift = challenge_agreement[name]
    assert abs(shift) <= 1.0
    assert r_shift >= 0.98


def test_every_metabolite_resembles_challenge_basis(challenge_agreement: dict) -> None:
    """Regression floor for all 21 metabolites (Asp 0.94, GSH 0.92, Asc 0.97 are the lowest)."""
    low = {n: round(v[1], 3) for n, v in challenge_agreement.items() if v[1] < 0.9}
    assert not low, low
    assert len(challenge_agreement) == 21


def test_amplitude_scale_matches_challenge_basis(challenge_agreement: dict) -> None:
    """Same scaling convention: FID(0) agrees with the challenge basis within 4 % for every metabolite."""
    ref = bundled_basis("ismrm2016_press_3T_30ms")
    sim = simulate_basis("press", 0.030, te1=0.011, te2=0.019, spectrometer_frequency=F0, n_points=64,
                         spectral_width=4000.0, linewidth_hz=0.0)
    for name in sim.names:
        assert abs(sim.fid(name)[0]) == pytest.approx(abs(ref.fid(name)[0]), rel=0.04), name


def test_matches_challenge_text_basis_in_shared(challenge: Path, tmp_path: Path) -> None:
    """The same comparison against ../shared/data/ismrm2016_fitting_challenge/basisset_text_noTMS."""
    src = challenge / "basisset_text_noTMS"
    if not src.is_dir():
        pytest.skip(f"needs {src}")
    for f in src.glob("*.txt"):
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "basis.json").write_text(json.dumps({
        "spectrometer_frequency": 123.2, "dwell_time": 1 / 4000, "echo_time": 0.030, "ppm_reference": 4.65,
        "conjugate": True}))
    ref = load_basis(tmp_path)
    res = _agreement(ref, ("NAA", "Cr", "GPC", "PCho", "Ins", "Glu", "Lac", "Tau"))
    low = {n: round(v[1], 3) for n, v in res.items() if v[1] < 0.98}
    assert not low, low
