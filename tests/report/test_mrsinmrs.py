"""MRSinMRS checklist: filled from headers, settings and data; "not reported" otherwise."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pmlmrs.core import Geometry, Header, Spectrum
from pmlmrs.report.mrsinmrs import CHECKLIST_ITEMS, NOT_REPORTED, checklist


def _value(df, item):
    return df.loc[df["item"] == item, "value"].item(), df.loc[df["item"] == item, "source"].item()


def test_filled_from_headers_settings_and_data():
    aff = np.diag([20.0, 15.0, 10.0, 1.0])
    h = Header(127.7, 1 / 2000, echo_time=0.030, repetition_time=2.0, geometry=Geometry(aff),
               acquisition={"Manufacturer": "Siemens", "ManufacturersModelName": "Prisma", "SequenceName": "svs_se",
                            "WaterSuppressed": True, "SoftwareVersions": "VE11C", "RxCoil": "HeadNeck_64"})
    s = Spectrum(np.ones((64, 1024), complex), h, dims=("dyn",))
    h2 = h.replace(echo_time=0.035)
    vox = pd.DataFrame({"voi": ["lesion", "nawm"], "snr": [20.0, 30.0], "fwhm_ppm": [0.05, 0.06],
                        "tNAA_crlb": [5.0, 4.0], "tCr_crlb": [6.0, 5.0]})
    df = checklist([s, h2.to_dict()], {"analysis_software": "pmlmrs 0.1", "basis_set": "simulated, TE 30 ms",
                                       "steps": ["coil combination", "frequency alignment"]}, voxels=vox)
    assert list(df.columns) == ["section", "item", "value", "source"]
    assert len(df) == len(CHECKLIST_ITEMS)
    assert set(df["section"]) == {"1. Hardware", "2. Acquisition", "3. Data analysis methods and outputs",
                                  "4. Data quality"}
    assert _value(df, "Field strength [T]") == ("3 T", "header")
    assert _value(df, "Manufacturer") == ("Siemens", "header")
    assert _value(df, "Model (hardware)")[0] == "Prisma"
    assert "Rx HeadNeck_64" in _value(df, "RF coils: nuclei, number of channels, type, body part")[0]
    te_tr = _value(df, "Repetition time (TR), echo time (TE) [ms]")[0]
    assert "TR 2000 ms" in te_tr and "30–35 ms" in te_tr
    assert _value(df, "Nominal VOI size [cm³, mm³]")[0].startswith("3 cm³")
    assert _value(df, "Number of spectral points")[0] == "1024"
    # 64 transients stored in one file; the other header (a plain dict) says nothing: not given a number
    assert _value(df, "Total number of excitations or acquisitions per spectrum")[0] == \
        "64 (1 of 2 files); not in the header of 1 file"
    assert _value(df, "Spectral width [Hz]")[0] == "2000 Hz"
    assert "water suppressed" in _value(df, "Water suppression method")[0]
    assert _value(df, "Analysis software (and version)") == ("pmlmrs 0.1", "settings")
    assert _value(df, "Processing steps deviating from the expected default")[0] == \
        "coil combination; frequency alignment"
    assert _value(df, "Reported variables (SNR)")[1] == "data"
    assert "median 25.0" in _value(df, "Reported variables (SNR)")[0]
    assert "tNAA 4 %" in _value(df, "Quality measures of postprocessing model fitting (CRLBs)")[0] or \
        "tNAA 5 %" in _value(df, "Quality measures of postprocessing model fitting (CRLBs)")[0]
    assert _value(df, "Shimming method, reference peak, and thresholds") == (NOT_REPORTED, "")
    assert _value(df, "Sample spectrum") == (NOT_REPORTED, "")


def test_empty_everything_not_reported():
    df = checklist([], {})
    assert (df["value"] == NOT_REPORTED).all() and (df["source"] == "").all()
    # Settings override the header.
    df = checklist([Header(123.2, 1 / 2000)], {"field_strength": "3 T (nominal)"})
    assert _value(df, "Field strength [T]") == ("3 T (nominal)", "settings")


def test_analysis_settings_describe_the_options_used():
    """Quantification, steps, exclusion and basis come from the options that ran, not fixed text."""
    from pmlmrs.fit import FitOptions
    from pmlmrs.qc import QCOptions
    from pmlmrs.quant import QuantOptions
    from pmlmrs.quant.outputs import input_record
    from pmlmrs.report.mrsinmrs import analysis_settings

    opts = {"fit": FitOptions(), "quant": QuantOptions(wm_water_t2=75.0), "qc": QCOptions(), "stats": {}}
    s = analysis_settings(opts, version="9.9", basis="ismrm2016_press_3T_30ms", water_scaled=True,
                          steps=["read", "eddy_current_correction", "water_removal", "fit", "water_scaling"])
    df = checklist([], s)
    quant = _value(df, "Quantification references and assumptions, fitting model assumptions")
    assert quant[1] == "settings" and "water 55.51 M" in quant[0] and "water T2 110/75/1000 ms" in quant[0]
    steps = _value(df, "Processing steps deviating from the expected default")[0]
    assert steps.startswith("eddy-current correction (water reference), HLSVD residual-water removal; in the fit")
    assert "first-order phase" in steps
    exclusion = _value(df, "Data exclusion criteria")[0]
    assert "none excluded" in exclusion and "QC warning only (reported)" in exclusion
    assert "CRLB > 20 %" in exclusion.split("warning only")[1]  # a warning at the default crlb_level
    sha = input_record("ismrm2016_press_3T_30ms")["sha256"]
    assert sha and _value(df, "Basis set")[0] == f"ismrm2016_press_3T_30ms (SHA-256 {sha})"
    assert _value(df, "Analysis software (and version)")[0] == "pmlmrs 9.9"

    other = analysis_settings({"fit": FitOptions(fit_phase1=False), "quant": QuantOptions(),
                               "qc": QCOptions(crlb_level="fail", crlb_max=15.0),
                               "stats": {"exclude_failed_qc": True}}, water_scaled=False)
    assert other["quantification"].startswith("ratios to tCr; no water scaling")
    assert "first-order" not in other["steps"] and "zero-order phase" in other["steps"]
    assert "CRLB > 15 %" in other["exclusion_criteria"].split("QC fail")[1].split("warning only")[0]
    assert other["exclusion_criteria"].startswith("spectra that fail QC are excluded")


def test_averages_are_not_invented_for_averaged_files():
    """A file holding one averaged FID without the count in its header gets no number of averages."""
    h = Header(127.7, 1 / 2000, echo_time=0.030)
    raw = Spectrum(np.ones((16, 1024), complex), h, dims=("dyn",))
    averaged = Spectrum(np.ones(1024, complex), h)
    one_dyn = Spectrum(np.ones((1, 1024), complex), h, dims=("dyn",))
    item = "Total number of excitations or acquisitions per spectrum"
    assert _value(checklist([raw], {}), item)[0] == "16"
    assert _value(checklist([averaged], {}), item)[0] == "not in the header (the file holds one averaged spectrum)"
    assert _value(checklist([one_dyn], {}), item)[0] == "not in the header (the file holds one averaged spectrum)"
    assert _value(checklist([raw, averaged, averaged], {}), item)[0] == \
        "16 (1 of 3 files); not in the header of 2 files holding one averaged spectrum each"
    with_count = h.replace(acquisition={"NumberOfAverages": 64})
    assert _value(checklist([Spectrum(np.ones(1024, complex), with_count)], {}), item)[0] == "64"
