"""The exam report renders lesion and NAWM fits side by side with the expected sections."""

from __future__ import annotations

import re

import numpy as np
import pytest

from pmlmrs.core import Header, Spectrum
from pmlmrs.errors import WriteError
from pmlmrs.fit import FitResult
from pmlmrs.report.exam import exam_context, write_exam_report
from pmlmrs.stats import lesion_nawm_table, score_exams
from pmlmrs.stats.synthetic import synthetic_cohort

_PEAKS = {"NAA": [(2.008, 3.0)], "Cr": [(3.027, 1.5), (3.913, 1.5)], "PCr": [(3.029, 1.0), (3.93, 1.0)],
          "GPC": [(3.21, 1.0)], "PCho": [(3.20, 0.5)], "Ins": [(3.55, 0.8), (4.05, 0.4)],
          "Lip09": [(0.9, 1.0)], "Lip13a": [(1.28, 1.0)], "Lip13b": [(1.43, 0.5)]}


def make_fit(lipid: float, seed: int, voi: str) -> FitResult:
    """A hand-built FitResult of Lorentzian components (no fitting involved)."""
    rng = np.random.default_rng(seed)
    n, dwell, mhz = 2048, 1 / 2000.0, 123.25
    hdr = Header(mhz, dwell, echo_time=0.035, repetition_time=2.0,
                 acquisition={"Manufacturer": "Philips", "WaterSuppressed": True})
    ppm_axis = 4.65 + np.fft.fftshift(np.fft.fftfreq(n, dwell)) / mhz
    ppm = ppm_axis[(ppm_axis > 0.2) & (ppm_axis < 4.2)]
    names = tuple(_PEAKS)
    groups = tuple("lipids_mm" if k.startswith("Lip") else "metabolites" for k in names)
    amps = np.array([lipid if k.startswith("Lip") else 1.0 for k in names])
    comps = []
    for k, a in zip(names, amps):
        width = 12.0 if k.startswith("Lip") else 3.0
        comps.append(a * sum(h / (1 + ((ppm - loc) * mhz / width) ** 2) for loc, h in _PEAKS[k]) + 0j)
    comps = np.array(comps)
    fit = comps.sum(axis=0)
    data = fit + rng.normal(0, 0.02, ppm.size)
    fid = np.exp(-np.arange(n) * dwell * 10) + 0j
    cov = np.diag((0.05 * np.maximum(amps, 1e-3)) ** 2)
    return FitResult(spectrum=Spectrum(fid, hdr, source=f"sub-p01_ses-01_voi-{voi}_svs.nii.gz"),
                     names=names, groups=groups, amplitudes=amps, covariance=cov, crlb=np.sqrt(np.diag(cov)),
                     params={"phase0_deg": 0.0}, ppm=ppm, data=data, fit=fit,
                     baseline=np.zeros(ppm.size, complex), components=comps, noise_sd=0.02)


@pytest.fixture(scope="module")
def exam_inputs():
    _, exams, vox = synthetic_cohort(12, rng=4)
    iris, _ = score_exams(vox, exams)
    table = lesion_nawm_table(vox)
    exam = exams.iloc[0]
    key = (exam["participant_id"], exam["session_id"])
    q = table[(table["participant_id"] == key[0]) & (table["session_id"] == key[1])].iloc[0]
    ir = iris[(iris["participant_id"] == key[0]) & (iris["session_id"] == key[1])].iloc[0]
    fits = {"lesion": make_fit(3.0, 1, "lesion"), "nawm": make_fit(0.1, 2, "nawm")}
    return exam, fits, q, ir


def _self_contained(html: str) -> None:
    assert not re.search(r"<script[^>]+src=", html)
    assert not re.search(r"<link[^>]+href=", html)
    assert not re.search(r"<img[^>]+src=\"http", html)


def test_exam_report_sections(tmp_path, exam_inputs):
    exam, fits, q, ir = exam_inputs
    path = write_exam_report(tmp_path / "exam.html", exam, fits, q, ir)
    html = path.read_text(encoding="utf-8")
    for sec in ("exam", "iris", "spectra", "metabolites", "quotients", "qc"):
        assert f'<section id="{sec}"' in html
    assert html.count("<svg") >= 2  # lesion and NAWM figures
    assert exam["participant_id"] in html and exam["session_id"] in html
    assert exam["stage_rule"] in html
    assert "Gheuens" in html and "decision support, not diagnosis" in html.lower()
    assert "Lip/tCr" in html and "lesion / NAWM" in html
    assert "NAWM" in html and "lesion" in html
    _self_contained(html)
    assert "plotly.js v" not in html  # no interactive figures requested: no 4 MB bundle
    with pytest.raises(WriteError):
        write_exam_report(path, exam, fits, q, ir, force=False)


def test_exam_context_and_missing_voxel(tmp_path, exam_inputs):
    exam, fits, q, ir = exam_inputs
    ctx = exam_context(exam, fits, q, ir)
    names = [m["name"] for m in ctx["metabolites"]]
    assert {"NAA", "Cr", "Lip13a", "tNAA", "tCr", "Lip"} <= set(names)
    lip = next(m for m in ctx["metabolites"] if m["name"] == "Lip09")
    assert lip["lesion"]["amplitude"] == pytest.approx(3.0) and lip["nawm"]["amplitude"] == pytest.approx(0.1)
    assert lip["lesion"]["crlb"] == pytest.approx(5.0)
    assert ctx["quotients"][0]["ratio"] == "tNAA/tCr"
    assert ctx["iris"]["flag"] == bool(ir["iris_flag"])
    # Only a lesion fit, QC items given as tuples, no quotients or IRIS row: still renders.
    qc = {"lesion": [("warn", "linewidth", "FWHM 0.08 ppm > 0.07 ppm", "check shimming")]}
    html = write_exam_report(tmp_path / "e2.html", dict(exam), {"lesion": fits["lesion"], "nawm": None},
                             qc=qc, interactive=True).read_text(encoding="utf-8")
    assert "<b>NAWM</b>: no spectrum for this exam" in html and "FWHM 0.08 ppm" in html
    assert "No IRIS assessment" in html
    assert html.count("plotly.js v") == 1
    _self_contained(html)
