"""Real scanner data from ../shared (skipped without it): 7 T coil combination, Philips TE 35 ECC +
water removal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pmlmrs.preprocess import CoilCombineOptions, coil_combine, linewidth, preprocess, snr

pytestmark = pytest.mark.shared


def _load(path: Path):
    """Through ``pmlmrs.io.load`` when a reader claims the file, else spec2nii (Philips SDAT/SPAR)."""
    from pmlmrs.errors import UnknownFormatError
    from pmlmrs.io import load

    try:
        return load(path)
    except UnknownFormatError:
        if path.suffix.lower() != ".sdat":
            raise
    from spec2nii.Philips.philips import read_sdat_spar_pair

    from pmlmrs.io.nifti_mrs import spectrum_from_nifti_mrs_object

    spar = path.with_suffix(".spar" if path.suffix == ".sdat" else ".SPAR")
    images, _ = read_sdat_spar_pair(path, spar, tags=[])
    return spectrum_from_nifti_mrs_object(images[0], path, format_name="philips_sdat")


def test_7t_water_reference_32_coils(invivo):
    ref = _load(invivo / "nifti_mrs" / "sub-01_ses-01_SVS-ref.nii.gz")
    assert ref.dim_sizes == {"coil": 32}
    combined = coil_combine(ref)
    assert combined.dims == ()
    fwhm = linewidth(combined, (4.3, 5.0))["fwhm_hz"]
    # in vivo 7 T water: 10-20 Hz (measured 14.9 Hz; single coils 13.7-17.9, median 15.2)
    assert 10.0 < fwhm < 20.0
    # SNR of the water peak, noise far from the water wings: the whitened SVD beats the best coil
    noise = (-5.0, -3.0)
    best = max(snr(ref.take("coil", i), (4.3, 5.0), noise) for i in range(32))
    assert snr(combined, (4.3, 5.0), noise) > 1.5 * best  # measured 2.1x
    snr_weighted = coil_combine(ref, options=CoilCombineOptions(method="snr"))
    assert 10.0 < linewidth(snr_weighted, (4.3, 5.0))["fwhm_hz"] < 20.0
    assert snr(snr_weighted, (4.3, 5.0), noise) > 1.3 * best  # measured 1.74x


def test_7t_water_reference_through_the_pipeline(invivo):
    """The full pipeline on the 32-coil 7 T water FID: its HLSVD found poles growing by e^325 over
    the fitted points, and the amplitude fit raised LinAlgError before they were dropped."""
    ref = _load(invivo / "nifti_mrs" / "sub-01_ses-01_SVS-ref.nii.gz")
    out = preprocess(ref)
    assert out.metab.dims == () and np.all(np.isfinite(out.metab.data))
    assert "water_removal" in [s.name for s in out.metab.provenance]


def test_siemens_svs30_water_is_removed(invivo):
    """Siemens SVS_30 (RDA, 1024 points): HLSVD removes the water (residual water 0.14 x the NAA peak;
    18.8 before the growing noise poles were dropped, when the amplitude fit failed silently)."""
    out = preprocess(_load(invivo / "siemens_rda" / "SVS_30.rda"))
    assert out.qc["residual_water"] < 1.0
    assert out.qc["fwhm_hz_after"] < 12.0  # NAA linewidth 7.8 Hz (21 Hz when the water wing remained)


@pytest.mark.parametrize("subject", ["sub-01", "sub-02"])
def test_philips_te35_ecc_and_water_removal(invivo, subject):
    folder = invivo / "philips_sdat" / "osprey_press_te35"
    metab = _load(folder / f"{subject}_PRESS_35_act.sdat")
    water = _load(folder / f"{subject}_PRESS_35_ref.sdat")
    res = preprocess(metab, water)
    names = [s.name for s in res.metab.provenance]
    assert "eddy_current_correction" in names and "water_removal" in names
    untouched = preprocess(metab, water, options=res.options.replace(water_removal=False))
    assert untouched.qc["residual_water"] > 10  # the water reaches > 10x the NAA peak before HLSVD
    assert res.qc["residual_water"] < 0.05     # below 5 % of the NAA peak after
    assert res.qc["snr_after"] > 50
    assert 3.0 < res.qc["fwhm_hz_after"] < 12.0


def test_challenge_dataset24_fits_the_same_preprocessed_or_not(challenge, tmp_path):
    """ISMRM 2016 dataset 24 has a large broad line at 4.15 ppm. `pmlmrs fit` preprocesses every input;
    that must not change its fit: HLSVD used to remove the part of that line above 4.2 ppm (fit quality
    2.11 -> 2.99, Ins/tCr 1.56 -> 2.40) and peak-based phasing/referencing put it 169 deg and 9.4 Hz off
    (tNAA/tCr n/a). With water +- 0.3 ppm removed and phase/shift left to the fit, both agree."""
    from typer.testing import CliRunner

    from pmlmrs.cli.main import app
    from pmlmrs.quant import read_summary_tsv

    folder = challenge / "datasets_LCModel"
    common = [str(folder / "dataset24.RAW"), "--water", str(folder / "dataset24.H2O"), "--basis",
              str(challenge / "basisset_LCModel" / "press3T_30ms.BASIS"), "--central-frequency", "123.2",
              "--spectral-width", "4000", "--echo-time", "30", "--no-report"]
    rows = {}
    for label, extra in (("pre", []), ("raw", ["--no-preprocess"])):
        res = CliRunner().invoke(app, ["fit", *common, "-o", str(tmp_path / label), *extra])
        assert res.exit_code == 0, res.output
        rows[label] = read_summary_tsv(tmp_path / label / "summary.tsv").iloc[0]
    for ratio in ("tNAA_tCr", "tCho_tCr", "Ins_tCr"):
        assert rows["pre"][ratio] == pytest.approx(rows["raw"][ratio], rel=0.02), ratio
    assert rows["pre"]["fit_quality"] < 1.05 * rows["raw"]["fit_quality"]
