"""Fit the ISMRM 2016 MRS fitting challenge (28 datasets) and its water-scaling test; write a table.

Usage::

    .venv/bin/python validation/ismrm2016.py [--data DIR] [--basis PATH] [--out DIR]
                                             [--backend numpy|jax] [--workers N] [--datasets 1 2 ...]

Data: ``../shared/data/ismrm2016_fitting_challenge`` (Marjanska, Deelchand, Kreis; CC BY-SA 4.0):
LCModel ``datasetN.RAW`` + ``datasetN.H2O``, 123.2 MHz, 4000 Hz, 2048 points, PRESS TE 30 ms, and
the challenge basis (``basisset_LCModel/press3T_30ms.BASIS``). Every dataset is fitted with the
default :class:`pmlmrs.fit.FitOptions` and water-scaled to mM with the README's tissue model
(GM 60 % / WM 40 %, water contents 0.78 / 0.65, water T2 110 / 80 ms, metabolite T2 160 ms).

Writes ``OUT/ismrm2016_table.tsv`` and ``OUT/ismrm2016_table.md`` (per dataset: tNAA, tCr, tCho,
Ins, Glx, Lip in mM with CRLB %, the ratios, SNR, FWHM, fit quality, QC, CPU time) and
``OUT/water_scaling.md`` (the Cr_10mM_test_water_scaling result).

Water-scaling note: the Cr test spectrum holds exactly 10 × exp(−30/160) basis units of Cr (checked
below: ``Cr amplitude / R_met``), but its water FID is 54 865 = 1.85 × 29 697 rather than
2 × 29 697 in the same units, so the README formula with 2 water protons gives 10.8 mM, not 10
(FSL-MRS's own test of this dataset pins 10.78 mM, ``fsl_mrs/tests/test_utils_quantify.py``).
The script reports both numbers.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("PMLMRS_SHARED", ROOT.parent / "shared")) / "data" / "ismrm2016_fitting_challenge"
READ = {"central_frequency": 123.2, "spectral_width": 4000.0, "echo_time": 30.0}
#: FSL-MRS's result for the water-scaling dataset (its test suite), an independent implementation.
FSL_MRS_CR_MM = 10.78

COLUMNS = ("tNAA", "tCr", "tCho", "Ins", "Glx", "Lip", "MM")
RATIO_COLUMNS = ("tNAA_tCr", "tCho_tCr", "tNAA_tCho", "Ins_tCr", "Glx_tCr", "Lip_tCr")


def challenge_quant_options() -> Any:
    """QuantOptions with the README's tissue and relaxation values."""
    from pmlmrs.quant import QuantOptions

    return QuantOptions(gm_fraction=0.6, wm_fraction=0.4, csf_fraction=0.0, gm_water_content=0.78,
                        wm_water_content=0.65, gm_water_t2=110.0, wm_water_t2=80.0, metabolite_t2=160.0,
                        echo_time=30.0)


def _row(name: str, result: Any, seconds: float) -> dict[str, Any]:
    from pmlmrs.qc import fit_quality, fwhm_ppm, qc_pass, snr
    from pmlmrs.quant import combinations, ratios

    comb = combinations(result)
    rat = ratios(result)
    row: dict[str, Any] = {"dataset": name}
    for c in COLUMNS:
        if c in comb:
            row[c], row[f"{c}_crlb"] = comb[c].value, comb[c].crlb_percent
        elif c in result.names:
            row[c], row[f"{c}_crlb"] = result.amplitude(c), result.crlb_percent(c)
        else:
            row[c], row[f"{c}_crlb"] = float("nan"), float("nan")
    for c in RATIO_COLUMNS:
        row[c] = rat[c].value
    row.update(snr=snr(result), fwhm_ppm=fwhm_ppm(result), fit_quality=fit_quality(result),
               converged=bool(result.converged), qc_pass=qc_pass(result.qc) if result.qc else None,
               cpu_s=seconds)
    return row


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if math.isnan(v):
            return "n/a"
        if math.isinf(v):
            return "inf"
        return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"
    return "n/a" if v is None else str(v)


def write_tables(rows: list[dict[str, Any]], out: Path) -> tuple[Path, Path]:
    """The TSV and markdown tables."""
    cols = list(rows[0])
    tsv = out / "ismrm2016_table.tsv"
    md = out / "ismrm2016_table.md"
    tsv.write_text("\n".join(["\t".join(cols)] + ["\t".join(_fmt(r[c]) for c in cols) for r in rows]) + "\n")
    show = ["dataset"] + [c for k in COLUMNS for c in (k, f"{k}_crlb")] + list(RATIO_COLUMNS) + \
        ["snr", "fwhm_ppm", "fit_quality", "converged", "cpu_s"]
    head = [c.replace("_crlb", " %") for c in show]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(show)]
    lines += ["| " + " | ".join(_fmt(r[c]) for c in show) + " |" for r in rows]
    md.write_text("Concentrations in mM (water-scaled, README tissue model); CRLB in %.\n\n" + "\n".join(lines) + "\n")
    return tsv, md


def water_scaling_test(data: Path, basis: Any, fit_options: Any = None) -> dict[str, Any]:
    """Fit Cr_10mM_test_water_scaling and scale it with its water reference."""
    from pmlmrs.fit import fit_spectrum
    from pmlmrs.io import load
    from pmlmrs.quant import metabolite_attenuation, scale_to_water, water_area, water_concentration
    from pmlmrs.quant.water import basis_proton_scale

    folder = data / "Cr_water_scaling_LCModel"
    spec = load(folder / "Cr_10mM_test_water_scaling.RAW", **READ)
    water = load(folder / "Cr_10mM_test_water_scaling.H2O", **READ)
    o = challenge_quant_options()
    t0 = time.process_time()
    res = fit_spectrum(spec, basis, fit_options)
    seconds = time.process_time() - t0
    scaled = scale_to_water(res, water, o, basis=basis)
    per_proton = basis_proton_scale(basis)
    r_met = metabolite_attenuation(o)
    return {
        "Cr_mM": scaled.amplitude("Cr"),
        "tCr_mM": scaled.amplitude("Cr") + (scaled.amplitude("PCr") if "PCr" in scaled.names else 0.0),
        "Cr_crlb_percent": scaled.crlb_percent("Cr"),
        "Cr_per_proton_units": res.amplitude("Cr") * per_proton,
        "Cr_relaxation_corrected_per_proton_units": res.amplitude("Cr") * per_proton / r_met,
        "water_area": water_area(water),
        "water_concentration_attenuated_mM": water_concentration(o),
        "metabolite_relaxation_correction": 1.0 / r_met,
        "concentration_scale": scaled.concentration_scale,
        "fit_cpu_s": seconds,
        "largest_other": sorted(((float(a), n) for n, a in zip(scaled.names, scaled.amplitudes)
                                 if n not in ("Cr", "PCr")), reverse=True)[:3],
    }


def run(data: Path = DEFAULT_DATA, basis_path: Path | None = None, out: Path = Path("validation_out"), *,
        backend: str = "numpy", workers: int = 1, datasets: list[int] | None = None,
        fit_options: Any = None) -> dict[str, Any]:
    """Fit the challenge and write the tables; returns ``{"rows": [...], "water_scaling": {...}}``.

    *fit_options* (a :class:`pmlmrs.fit.FitOptions`) replaces the defaults; *backend* is applied to it.
    """
    from pmlmrs.basis import load_basis
    from pmlmrs.fit import FitOptions, fit_batch
    from pmlmrs.io import load
    from pmlmrs.qc import with_qc
    from pmlmrs.quant import scale_to_water

    data = Path(data)
    if not data.exists():
        raise SystemExit(f"challenge data not found at {data} (set --data or PMLMRS_SHARED)")
    basis_path = Path(basis_path) if basis_path else data / "basisset_LCModel" / "press3T_30ms.BASIS"
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    basis = load_basis(basis_path)
    import dataclasses

    opts = dataclasses.replace(fit_options, backend=backend) if fit_options is not None else FitOptions(backend=backend)
    numbers = datasets or list(range(1, 29))
    folder = data / "datasets_LCModel"
    spectra = [load(folder / f"dataset{i}.RAW", **READ) for i in numbers]
    waters = [load(folder / f"dataset{i}.H2O", **READ) for i in numbers]
    qo = challenge_quant_options()
    t0, w0 = time.process_time(), time.perf_counter()
    results = fit_batch(spectra, basis, opts, workers=workers)
    cpu, wall = time.process_time() - t0, time.perf_counter() - w0
    rows = []
    for i, res in zip(numbers, results):
        name = f"dataset{i}"
        if isinstance(res, BaseException):
            rows.append({"dataset": name, "error": str(res)})
            continue
        res = with_qc(scale_to_water(res, waters[numbers.index(i)], qo, basis=basis))
        rows.append(_row(name, res, cpu / len(numbers)))
    good = [r for r in rows if "error" not in r]
    write_tables(good, out)
    ws = water_scaling_test(data, basis, opts)
    lines = [
        "# Water scaling: Cr_10mM_test_water_scaling", "",
        f"- basis: `{basis_path}`; backend {backend}",
        f"- Cr = **{ws['Cr_mM']:.3f} mM** (tCr {ws['tCr_mM']:.3f} mM, CRLB {ws['Cr_crlb_percent']:.2f} %); "
        f"nominal 10 mM: {100 * (ws['Cr_mM'] / 10 - 1):+.1f} %; FSL-MRS reference {FSL_MRS_CR_MM} mM: "
        f"{100 * (ws['Cr_mM'] / FSL_MRS_CR_MM - 1):+.1f} %",
        f"- Cr amplitude in per-proton basis units / R_met = {ws['Cr_relaxation_corrected_per_proton_units']:.3f} "
        "(10.0 would mean the spectrum is 10 mM-equivalent in basis units, i.e. the metabolite side is exact)",
        f"- water area {ws['water_area']:.1f}; attenuated water concentration {ws['water_concentration_attenuated_mM']:.0f} mM; "
        f"metabolite relaxation correction {ws['metabolite_relaxation_correction']:.4f}; factor {ws['concentration_scale']:.5g}",
        f"- largest other components (mM): {', '.join(f'{n} {a:.3f}' for a, n in ws['largest_other'])}",
    ]
    (out / "water_scaling.md").write_text("\n".join(lines) + "\n")
    summary = {"rows": rows, "water_scaling": ws, "batch_cpu_s": cpu, "batch_wall_s": wall, "out": str(out)}
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--basis", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=Path("validation_out"))
    ap.add_argument("--backend", choices=("numpy", "jax"), default="numpy")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--datasets", type=int, nargs="*", default=None)
    a = ap.parse_args(argv)
    s = run(a.data, a.basis, a.out, backend=a.backend, workers=a.workers, datasets=a.datasets)
    errors = [r for r in s["rows"] if "error" in r]
    print(f"fitted {len(s['rows']) - len(errors)} of {len(s['rows'])} datasets in {s['batch_cpu_s']:.1f} s CPU "
          f"({s['batch_wall_s']:.1f} s wall); tables in {s['out']}")
    for r in errors:
        print(f"  {r['dataset']}: {r['error']}")
    ws = s["water_scaling"]
    print(f"Cr_10mM_test_water_scaling: Cr = {ws['Cr_mM']:.3f} mM (nominal 10, FSL-MRS {FSL_MRS_CR_MM})")
    print((Path(s["out"]) / "ismrm2016_table.md").read_text())
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
