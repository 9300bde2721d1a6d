"""The independent lesion generator (validation/independent_lesions.py): its RAW files read with the
challenge's conventions, and its truth recovered at high SNR, where Lorentzian CH3 and CH2 lines of
unrelated widths (8-35 and 8-40 Hz) make the lipids' lineshape, not the noise, the limit, and at
twice its SNR, where the broad methylene lines are fitted with their own width."""

from __future__ import annotations

import numpy as np
import pytest

from pmlmrs.basis import load_basis
from pmlmrs.fit import FitOptions, LinearCombinationModel
from pmlmrs.io import load
from pmlmrs.quant.combine import ratios

from ..conftest import load_validation

READ = {"central_frequency": 123.2, "spectral_width": 4000.0, "echo_time": 30.0}


def _generate(challenge_dir, folder, seeds, snr_scale):
    """(truths, spectra, challenge .BASIS) of *seeds* at *snr_scale* x the generator's SNR."""
    il = load_validation("independent_lesions")
    planted = il.load_basis(challenge_dir / "basisset_LCModel")       # the generator's own basis reading
    truths, spectra = [], []
    for seed in seeds:
        sub = folder / str(seed)
        sub.mkdir()
        batch = il.generate(sub, seed, *planted, snr_scale=snr_scale)
        truths += batch
        spectra += [load(sub / f"{t['name']}.RAW", **READ) for t in batch]
    return truths, spectra, load_basis(challenge_dir / "basisset_LCModel" / "press3T_30ms.BASIS")


@pytest.fixture(scope="module")
def generated(challenge_dir, tmp_path_factory):
    """Seed 12 at 100x the generator's SNR."""
    return _generate(challenge_dir, tmp_path_factory.mktemp("independent"), [12], 100.0)


def _scores(generated, options):
    truths, spectra, basis = generated
    fitted = [ratios(r, ["tNAA_tCr", "tCho_tCr", "Ins_tCr", "Lip_tCr"])
              for r in LinearCombinationModel(basis, options).fit_many(spectra)]
    x = np.array([t["Lip_tCr"] for t in truths])
    y = np.array([f["Lip_tCr"].value for f in fitted])
    slope = np.polyfit(x, y, 1)[0]
    lesion_err = {k: np.median([abs(f[k].value / t[k] - 1) for f, t in zip(fitted, truths) if t["kind"] == "lesion"])
                  for k in ("tNAA_tCr", "tCho_tCr", "Ins_tCr")}
    return float(np.corrcoef(x, y)[0, 1] ** 2), float(slope), lesion_err


def test_files_read_with_naa_at_2_01_ppm(generated):
    """NAA (at 2.01 ppm, up to the generator's +-4 Hz shift), not its mirror image at 7.29 ppm."""
    spec = generated[1][0]
    ppm = spec.ppm_axis
    mag = np.abs(np.fft.fftshift(np.fft.fft(spec.data)))
    naa, mirror = (ppm > 1.9) & (ppm < 2.1), (ppm > 7.19) & (ppm < 7.39)
    assert ppm[naa][np.argmax(mag[naa])] == pytest.approx(2.01, abs=0.04)
    assert mag[naa].max() > 10 * mag[mirror].max()


def test_truth_recovered_at_high_snr(generated):
    """Measured (2026-11-24): default options (methylene line in its own lineshape group where the
    data support it) Lip/tCr R^2 0.997, slope 1.046, lesion tNAA/tCho/Ins errors 0.5/0.2/0.3 %; one
    lipid width shared by all lines (``lipid_methylene_split=False``) R^2 0.941, slope 0.822, 1.1 %."""
    r2, slope, err = _scores(generated, FitOptions())
    assert r2 >= 0.99 and 0.95 < slope < 1.1, (r2, slope)
    assert max(err.values()) < 0.02, err
    r2, slope, err = _scores(generated, FitOptions(lipid_methylene_split=False))
    assert r2 > 0.9 and 0.75 < slope < 1.05
    assert err["tNAA_tCr"] < 0.03 and err["tCho_tCr"] < 0.02 and err["Ins_tCr"] < 0.02, err


def test_broad_methylene_lines_at_twice_the_snr(challenge_dir, tmp_path):
    """Seeds 12-14 at 2x the generator's SNR (NAA SNR 40-120, 108 spectra). Measured (2026-11-24):
    default options Lip/tCr R^2 0.979, slope 0.958; one shared lipid width 0.965, 0.905; before the
    methylene group lost its width prior (and the split's gate went from 15 to 5 CRLBs, its charge
    from 3 to 2.5 x ``baseline_lipid_ic_weight``) 0.966, 0.924. Lesion tNAA/tCr median error 4.3 %
    either way."""
    generated = _generate(challenge_dir, tmp_path, [12, 13, 14], 2.0)
    r2, slope, err = _scores(generated, FitOptions())
    r2_off, slope_off, err_off = _scores(generated, FitOptions(lipid_methylene_split=False))
    assert r2 > 0.975 and r2 > r2_off + 0.008, (r2, r2_off)
    assert abs(slope - 1) < abs(slope_off - 1) - 0.03, (slope, slope_off)
    assert err["tNAA_tCr"] < 0.05 and err["tNAA_tCr"] < err_off["tNAA_tCr"] + 0.005, (err, err_off)
