"""Fit the real in vivo spectra of ``../shared/data/invivo`` and check plausibility (STUDY.md ranges).

Usage::

    .venv/bin/python validation/invivo.py [--shared DIR] [--out validation_out] [--raw]

Cases (water-suppressed spectrum, water reference, basis):

* Philips PRESS TE 35 (Osprey example data, ``osprey_press_te35/sub-0N_PRESS_35_act.sdat`` with
  ``..._ref.sdat``), basis ``3T_PRESS_Philips_35ms_noMM.BASIS`` (Osprey's matching LCModel basis);
* Philips PRESS TE 30 (``osprey_press_te30_mm/sub-0N_ses-01_PRESS_raw-act_noID.SDAT`` with ``-ref``),
  with the same Philips basis: the only Philips-made basis at hand; its TE (35 ms) is 5 ms off,
  the TE 30 alternatives (suspect's, 123.2 MHz) are for another vendor's PRESS timing;
* Siemens ``SVS_30.rda`` (PRESS TE 30, 123.2 MHz) with ``suspect_press_30ms_3T.basis``.

Each spectrum is preprocessed as `pmlmrs fit` does (:meth:`pmlmrs.preprocess.PreprocessOptions.before_fit`, with the water reference
for eddy-current correction where one exists) when that works, else fitted as read (the table
says which). Fit: default :class:`pmlmrs.fit.FitOptions` (the bases have no macromolecule spectrum,
so simulated MM09..MM20 with LCModel's priors are added). Reported: tNAA/tCr, tCho/tCr, Ins/tCr,
Glx/tCr, Lip/tCr, CRLB % of tNAA/tCr/tCho/Ins, linewidth, fit quality, and whether the three ratios
are in STUDY.md's plausibility ranges with the tNAA CRLB < 5 %.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = Path(os.environ.get("PMLMRS_SHARED", ROOT.parent / "shared"))

#: STUDY.md plausibility ranges for NAWM, short-TE PRESS.
RANGES = {"tNAA_tCr": (1.3, 2.8), "tCho_tCr": (0.2, 1.1), "Ins_tCr": (0.5, 1.0)}
MAX_TNAA_CRLB = 5.0
#: Quantities reported against tCr; combinations (tNAA, tCho, Glx, Lip) as pmlmrs defines them
#: (:data:`pmlmrs.quant.combine.COMBINATIONS`, Lip = Lip09 + Lip13 for either lipid model).
REPORTED = ("tNAA", "tCho", "Ins", "Glx", "Lip", "Asp", "PE", "GABA")
PHILIPS35 = "3T_PRESS_Philips_35ms_noMM.BASIS"


def cases(shared: Path) -> list[tuple[str, Path, Path | None, Path]]:
    """(name, metabolite file, water reference or None, basis) for every in vivo case present."""
    inv = shared / "data" / "invivo"
    bdir = inv / "basis" / "lcmodel"
    out = []
    for f in sorted((inv / "philips_sdat" / "osprey_press_te35").glob("*_act.sdat")):
        ref = f.with_name(f.name.replace("_act.", "_ref."))
        out.append((f"philips_te35_{f.name.split('_')[0]}", f, ref if ref.exists() else None, bdir / PHILIPS35))
    for f in sorted((inv / "philips_sdat" / "osprey_press_te30_mm").glob("*_PRESS_raw-act_noID.SDAT")):
        ref = f.with_name(f.name.replace("raw-act", "raw-ref"))
        out.append((f"philips_te30_{f.name.split('_')[0]}", f, ref if ref.exists() else None, bdir / PHILIPS35))
    rda = inv / "siemens_rda" / "SVS_30.rda"
    if rda.exists():
        out.append(("siemens_svs30_rda", rda, None, bdir / "suspect_press_30ms_3T.basis"))
    return out


def _prepare(metab: Any, water: Any, raw: bool) -> tuple[Any, str]:
    if raw:
        return metab, "raw (as read)"
    try:
        from pmlmrs.preprocess import PreprocessOptions, preprocess

        res = preprocess(metab, water=water, options=PreprocessOptions.before_fit())  # as `pmlmrs fit`
        return res.metab, "pmlmrs.preprocess" + (" + water ref" if water is not None else "")
    except Exception as exc:  # noqa: BLE001 - preprocessing is another module's work: report, fit raw
        return metab, f"raw (preprocess failed: {type(exc).__name__}: {exc})"


def fit_case(name: str, metab_path: Path, ref_path: Path | None, basis_path: Path, raw: bool = False,
             options: Any = None) -> dict[str, Any]:
    """Fit one case; a dict of ratios, CRLBs and checks."""
    return fit_case_each(name, metab_path, ref_path, basis_path, raw, [options])[0]


def fit_case_each(name: str, metab_path: Path, ref_path: Path | None, basis_path: Path, raw: bool = False,
                  options_list: Sequence[Any] = (None,)) -> list[dict[str, Any]]:
    """Fit one case, read and preprocessed once, with each of *options_list* (None: default
    FitOptions); one dict of ratios, CRLBs and checks per options."""
    from pmlmrs.basis import load_basis
    from pmlmrs.fit import FitOptions, fit_spectrum
    from pmlmrs.io import load

    metab = load(metab_path)
    water = load(ref_path) if ref_path is not None else None
    spec, how = _prepare(metab, water, raw)
    basis = load_basis(basis_path)
    head = {"case": name, "file": metab_path.name, "basis": basis_path.name, "input": how,
            "te_ms": 1000 * (metab.header.echo_time or float("nan"))}
    return [_row(head, fit_spectrum(spec, basis, options if options is not None else FitOptions()))
            for options in options_list]


def _row(head: dict[str, Any], res: Any) -> dict[str, Any]:
    """*head* with the ratios, CRLBs and checks of the fit *res*."""
    import numpy as np

    from pmlmrs.quant.combine import combinations, ratios

    row = dict(head)
    comb = combinations(res)
    for cname in ("tNAA", "tCr", "tCho", "Ins"):
        m = comb.get(cname)
        if m is None and cname in res.names:
            i = res.index(cname)
            v, sd = float(res.amplitudes[i]), float(res.crlb[i])
        else:
            v, sd = (m.value, m.sd) if m is not None else (float("nan"), float("nan"))
        row[f"{cname}_crlb_pct"] = 100 * sd / v if v > 0 else float("inf")
    for label, m in ratios(res, [f"{c}_tCr" for c in REPORTED]).items():
        row[label] = m.value
    # model-free check: peak heights of the data minus the fitted baseline (Cho 3.15-3.26, Cr
    # 2.98-3.08, NAA 1.95-2.06 ppm); with equal widths tCho/tCr ~ height ratio / 3 (9 vs 3 protons)
    y = (res.data - res.baseline).real
    hgt = {k: float(y[(res.ppm > lo) & (res.ppm < hi)].max()) for k, (lo, hi) in
           {"Cho": (3.15, 3.26), "Cr": (2.98, 3.08), "NAA": (1.95, 2.06)}.items()}
    row["Cho_Cr_height"] = hgt["Cho"] / hgt["Cr"]
    row["NAA_Cr_height"] = hgt["NAA"] / hgt["Cr"]
    fw = res.params.get("fwhm_hz", {}).get("metabolites", float("nan"))
    row["extra_fwhm_hz"] = fw
    row["fit_quality"] = float(res.params.get("fit_quality", np.nan))
    row["converged"] = bool(res.converged)
    ok = all(lo <= row[k] <= hi for k, (lo, hi) in RANGES.items()) and row["tNAA_crlb_pct"] < MAX_TNAA_CRLB
    row["plausible"] = bool(ok)
    return row


def run(shared: Path = DEFAULT_SHARED, raw: bool = False,
        options_list: Sequence[Any] = (None,)) -> list[list[dict[str, Any]]]:
    """One list of rows (one per case) for each of *options_list*; each case is read and
    preprocessed once."""
    per_case = [fit_case_each(*c, raw=raw, options_list=options_list) for c in cases(shared)]
    return [[rows[i] for rows in per_case] for i in range(len(options_list))]


def _table(rows: list[dict[str, Any]]) -> list[str]:
    cols = ["case", "basis", "input", "tNAA_tCr", "tCho_tCr", "Ins_tCr", "Glx_tCr", "Lip_tCr", "Asp_tCr", "PE_tCr",
            "GABA_tCr", "Cho_Cr_height", "NAA_Cr_height", "tNAA_crlb_pct", "tCr_crlb_pct", "tCho_crlb_pct", "Ins_crlb_pct", "fit_quality", "plausible"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = [f"{r.get(c, float('nan')):.3g}" if isinstance(r.get(c), float) else str(r.get(c, "")) for c in cols]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def write(rows: list[dict[str, Any]], out: Path, rows_no_priors: list[dict[str, Any]] | None = None) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    lines = ["# In vivo plausibility (default FitOptions)", "",
             "Ranges (STUDY.md, NAWM short-TE PRESS): tNAA/tCr 1.3-2.8, tCho/tCr 0.2-1.1, Ins/tCr 0.5-1.0; "
             "tNAA CRLB < 5 %. Cho_Cr_height, NAA_Cr_height: peak-height ratios of the data minus the fitted "
             "baseline (model-free; tCho/tCr ~ Cho_Cr_height / 3 for equal line widths, 9 vs 3 protons).", ""]
    lines += _table(rows)
    if rows_no_priors:
        lines += ["", "Without the minor-metabolite priors (`FitOptions(metabolite_priors=\"none\")`):", ""]
        lines += _table(rows_no_priors)
    p = out / "invivo.md"
    p.write_text("\n".join(lines) + "\n")
    return p


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    ap.add_argument("--out", type=Path, default=ROOT / "validation_out")
    ap.add_argument("--raw", action="store_true", help="skip preprocessing")
    args = ap.parse_args(argv)
    from pmlmrs.fit import FitOptions

    rows, rows_none = run(args.shared, args.raw, (None, FitOptions(metabolite_priors="none")))
    p = write(rows, args.out, rows_none)
    sys.stdout.write(p.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
