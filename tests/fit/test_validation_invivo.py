"""Real in vivo spectra (../shared/data/invivo) with their bases: validation/invivo.py.

Philips PRESS TE 35 (Osprey) with the matching Philips .BASIS, Philips PRESS TE 30 with the same
basis (the only Philips one at hand), Siemens SVS_30.rda with suspect's TE 30 basis. Checked: every
fit converges with tNAA CRLB < 5 %, the ratios are physiological (wide bounds here); which cases fall
inside STUDY.md's tighter NAWM ranges is reported in validation_out/invivo.md (not all do: the
Osprey Philips voxels give tCho/tCr 0.15-0.20 and tNAA/tCr 1.1-1.6 with every option tried).
"""

from __future__ import annotations

import pytest

from ..conftest import load_validation, shared_path


@pytest.fixture(scope="module")
def invivo_mod():
    return load_validation("invivo")


@pytest.fixture(scope="module")
def rows(invivo_mod):
    shared = shared_path("invivo").parents[1]
    cases = invivo_mod.cases(shared)
    if len(cases) < 5:
        pytest.skip("in vivo files missing")
    return [invivo_mod.fit_case(*c) for c in cases]


def test_all_cases_present_and_fitted(rows):
    names = [r["case"] for r in rows]
    assert sum(n.startswith("philips_te35") for n in names) == 2
    assert sum(n.startswith("philips_te30") for n in names) == 2
    assert "siemens_svs30_rda" in names
    assert all(r["converged"] for r in rows)


def test_tnaa_crlb_below_5_percent(rows):
    for r in rows:
        assert r["tNAA_crlb_pct"] < 5.0, r["case"]


def test_ratios_physiological(rows):
    for r in rows:
        assert 1.0 < r["tNAA_tCr"] < 3.0, r
        assert 0.1 < r["tCho_tCr"] < 1.1, r
        assert 0.4 < r["Ins_tCr"] < 1.3, r
        assert r["Lip_tCr"] < 1.0, r            # healthy volunteers: no lesion lipids


def test_siemens_in_study_ranges(rows, invivo_mod):
    """The Siemens TE 30 spectrum with its TE 30 basis is inside STUDY.md's three NAWM ranges
    (tNAA/tCr 1.36, tCho/tCr 0.262, Ins/tCr 0.93; fit quality 1.21). Before the HLSVD fix its water
    stayed in the spectrum (18.8 x NAA) and tNAA/tCr sat at 1.30, fit quality 1.59."""
    r = next(r for r in rows if r["case"] == "siemens_svs30_rda")
    for k, (lo, hi) in invivo_mod.RANGES.items():
        assert lo <= r[k] <= hi, (k, r[k])
    assert r["plausible"]


def test_minor_metabolite_priors_curb_asp(invivo_mod):
    """On the real Philips TE 30 data Asp comes out at ~0.9 x tCr without priors (physiological:
    0.1-0.3); the default LCModel-style priors pull it down, and move the main ratios by < 5 %."""
    from pmlmrs.basis import load_basis
    from pmlmrs.fit import FitOptions, LinearCombinationModel
    from pmlmrs.io import load

    shared = shared_path("invivo").parents[1]
    case = next((c for c in invivo_mod.cases(shared) if c[0] == "philips_te30_sub-02"), None)
    if case is None:
        pytest.skip("Philips TE 30 data missing")
    name, metab, ref, basis_path = case
    spec, _ = invivo_mod._prepare(load(metab), load(ref) if ref else None, False)
    basis = load_basis(basis_path)
    out = {}
    for mp in ("none", "auto"):
        res = LinearCombinationModel(basis, FitOptions(metabolite_priors=mp)).fit(spec)
        tcr = res.amplitude("Cr") + res.amplitude("PCr")
        out[mp] = {"Asp": res.amplitude("Asp") / tcr,
                   "tNAA": (res.amplitude("NAA") + res.amplitude("NAAG")) / tcr,
                   "tCho": (res.amplitude("GPC") + res.amplitude("PCho")) / tcr}
        if mp == "auto":
            assert {p["numerator"] for p in res.params["metabolite_priors"]} >= {"Asp", "PE", "GABA", "NAAG"}
    assert out["auto"]["Asp"] < 0.97 * out["none"]["Asp"], out
    for k in ("tNAA", "tCho"):
        assert out["auto"][k] == pytest.approx(out["none"][k], rel=0.05), out
