"""The demo cohort: reproducible, valid MRS-BIDS, dates consistent with the stage rules, planted effects."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pmlmrs.demo import NAWM_CONCENTRATIONS, NAWM_LIPIDS, make_demo_cohort, simulate_voxel
from pmlmrs.errors import WriteError


@pytest.fixture(scope="module")
def full_cohort(tmp_path_factory):
    return make_demo_cohort(tmp_path_factory.mktemp("demo") / "bids", n_points=512)


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_raw_every_exam(tmp_path):
    """``raw_every=1``: every voxel is stored as coil x dyn transients."""
    import pandas as pd

    make_demo_cohort(tmp_path / "bids", n_patients=2, n_points=256, raw_every=1, coils=2, dyns=2)
    truth = pd.read_csv(tmp_path / "bids" / "demo_truth.tsv", sep="\t")
    assert truth["raw"].all()


def test_same_seed_same_files(tmp_path):
    a = make_demo_cohort(tmp_path / "a", n_patients=2, n_points=256)
    b = make_demo_cohort(tmp_path / "b", n_patients=2, n_points=256)
    c = make_demo_cohort(tmp_path / "c", n_patients=2, n_points=256, seed=1)
    assert _digest(a.bids_dir) == _digest(b.bids_dir)
    assert _digest(a.bids_dir) != _digest(c.bids_dir)
    with pytest.raises(WriteError, match="--force"):
        make_demo_cohort(tmp_path / "a", n_patients=2)
    make_demo_cohort(tmp_path / "a", n_patients=1, n_points=256, force=True)
    assert not (tmp_path / "a" / "sub-02").exists()


def test_cohort_layout_and_stage_rules(full_cohort):
    from pmlmrs.study.bids import discover
    from pmlmrs.study.stages import assign_stage

    study = discover(full_cohort.bids_dir)
    assert [p for p in study.problems if p.level == "error"] == []
    assert (full_cohort.n_patients, full_cohort.n_exams, full_cohort.n_voxels) == (20, 29, 58)
    truth = pd.read_csv(full_cohort.truth, sep="\t")
    planted = truth.drop_duplicates(["participant_id", "session_id"]).set_index(["participant_id", "session_id"])
    per_patient = truth.groupby("participant_id")["session_id"].nunique()
    follow_up = per_patient[per_patient > 1].index
    assert len(follow_up) == 5
    for pid in follow_up:
        assert set(planted.loc[pid]["stage"]) & {"pre_iris", "iris"}
    assert set(planted["stage"]) >= {"pre_iris", "iris", "early_post_pml", "late_post_pml"}
    for e in study.exams:
        assert [v.voi for v in e.voxels] == ["lesion", "nawm"]
        assert all(v.ref_path is not None for v in e.voxels)
        a = assign_stage(e.acq_time, study.patient(e.participant_id), e.explicit_stage)
        assert a.stage == planted.loc[(e.participant_id, e.session_id), "stage"], a.rule
        assert e.kps % 10 == 0 and (e.edss * 2) % 1 == 0


def test_raw_voxels_have_coil_and_dyn_dims(full_cohort):
    from pmlmrs.io import load

    truth = pd.read_csv(full_cohort.truth, sep="\t")
    raw = truth[truth["raw"]]
    assert full_cohort.n_raw == len(raw) > 0 and set(raw["voi"]) == {"lesion", "nawm"}
    r = raw.iloc[0]
    mrs = full_cohort.bids_dir / r.participant_id / r.session_id / "mrs"
    s = load(next(mrs.glob(f"*voi-{r.voi}_svs.nii.gz")))
    assert s.dims == ("coil", "dyn") and s.shape == (4, 16, 512)
    assert s.header.echo_time == pytest.approx(0.03) and s.header.spectrometer_frequency == pytest.approx(123.2)
    w = load(next(mrs.glob(f"*voi-{r.voi}_mrsref.nii.gz")))
    assert w.dims == ("coil",)


def test_planted_lesion_effects_follow_the_paper(full_cohort):
    t = pd.read_csv(full_cohort.truth, sep="\t")
    wide = t.pivot_table(index=["participant_id", "session_id", "stage"], columns="voi",
                         values=["Lip_tCr", "tCho_tCr", "tNAA_tCho", "tNAA_tCr"])
    q = (wide.xs("lesion", axis=1, level=1) / wide.xs("nawm", axis=1, level=1)).groupby(level="stage").median()
    assert q.loc["iris", "Lip_tCr"] > q.loc["pre_iris", "Lip_tCr"] > 2 > q.loc["late_post_pml", "Lip_tCr"] > 0.6
    assert q.loc["early_post_pml", "Lip_tCr"] > 1.5
    assert q.loc["iris", "tCho_tCr"] > 1.5
    assert all(0.8 < q.loc[s, "tCho_tCr"] < 1.25 for s in ("pre_iris", "early_post_pml", "late_post_pml"))
    assert all(q.loc[s, "tNAA_tCho"] < 0.8 for s in ("pre_iris", "iris", "early_post_pml"))
    assert all(q.loc[s, "tNAA_tCr"] < 0.8 for s in ("pre_iris", "early_post_pml"))
    assert q.loc["iris", "tNAA_tCr"] > 0.85


def test_simulated_spectrum_is_recovered_by_the_fit():
    from pmlmrs.basis import bundled_basis
    from pmlmrs.core import Header, Spectrum
    from pmlmrs.fit import fit_spectrum

    basis = bundled_basis("ismrm2016_press_3T_30ms")
    amps = {**NAWM_CONCENTRATIONS, **NAWM_LIPIDS}
    fid = simulate_voxel(basis, amps, n_points=1024, lorentz_hz=3.0, gauss_hz=4.5, shift_hz=1.5, phase_deg=10)
    rng = np.random.default_rng(5)
    fid = fid + 0.002 * (rng.normal(size=1024) + 1j * rng.normal(size=1024))
    res = fit_spectrum(Spectrum(fid, Header(basis.spectrometer_frequency, basis.dwell_time, echo_time=0.03,
                                            ppm_reference=basis.ppm_reference)), basis)
    got = dict(zip(res.names, res.amplitudes))
    # main singlet-dominated combinations within 5 %; (near-)noise-free data
    for combo, parts in {"tNAA": ("NAA", "NAAG"), "tCr": ("Cr", "PCr"), "tCho": ("GPC", "PCho")}.items():
        true = sum(amps[p] for p in parts)
        assert sum(got[p] for p in parts) == pytest.approx(true, rel=0.05), combo
