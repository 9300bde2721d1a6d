"""``pmlmrs preprocess FILE [--water REF] -o OUT.nii.gz``: the default preprocessing pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from pmlmrs.cli._common import app, bad_usage, check_choice, console, handle_errors
from pmlmrs.errors import WriteError

__all__ = ["preprocess"]


def _fmt(value: object, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


@app.command("preprocess")
@handle_errors
def preprocess(
    file: Path = typer.Argument(..., help="Raw water-suppressed data (any supported format; coils/transients)."),
    output: Path = typer.Option(..., "--output", "-o", help="Output NIfTI-MRS file, e.g. OUT.nii.gz."),
    water: Path | None = typer.Option(None, "--water", help="Water reference (same points and dwell time)."),
    water_output: Path | None = typer.Option(None, "--water-output",
                                             help="Also write the preprocessed water reference here."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing outputs."),
    no_align: bool = typer.Option(False, "--no-align", help="Do not align transients (nor reject outliers)."),
    no_ecc: bool = typer.Option(False, "--no-ecc", help="No eddy-current correction."),
    no_water_removal: bool = typer.Option(False, "--no-water-removal", help="Keep the residual water."),
    reference: str = typer.Option("cr", "--reference",
                                  help="Frequency reference peak: cr (3.027 ppm), naa (2.008), water (4.65) or none."),
    options_file: Path | None = typer.Option(None, "--options", help="TOML file with PreprocessOptions "
                                             "(a [preprocess] section or top-level keys)."),
    qc_json: Path | None = typer.Option(None, "--qc-json", help="Write the QC dictionary as JSON here."),
    figure: Path | None = typer.Option(None, "--figure", help="Save the alignment figure (PNG/SVG/PDF) here."),
) -> None:
    """Coil-combine, align, reject outliers, average, correct eddy currents, remove residual water,
    phase and reference one single-voxel acquisition; write NIfTI-MRS with the provenance."""
    from pmlmrs.io import load, save
    from pmlmrs.preprocess import PreprocessOptions
    from pmlmrs.preprocess import preprocess as run_preprocess

    check_choice("--reference", reference.lower(), ("cr", "naa", "cho", "water", "none"))
    if water_output is not None and water is None:   # checked before anything is written
        raise bad_usage("--water-output", "needs --water: there is no water reference to write")
    for path in (output, water_output, qc_json, figure):
        if path is not None and path.exists() and not force:
            raise WriteError("exists; pass --force to overwrite", path)
    if options_file is not None:   # a [preprocess] table, or the options at the top level
        from pmlmrs.config import read_toml

        doc = read_toml(options_file)
        options = PreprocessOptions.from_document(doc, "preprocess" if "preprocess" in doc else None, options_file)
    else:
        options = PreprocessOptions()
    changes: dict = {"reference": None if reference.lower() == "none" else reference.lower()}
    if no_align:
        changes.update(align=False, reject=False)
    if no_ecc:
        changes["ecc"] = False
    if no_water_removal:
        changes["water_removal"] = False
    options = options.replace(**changes)

    metab = load(file)
    ref = load(water) if water is not None else None
    result = run_preprocess(metab, ref, options)
    out = save(result.metab, output, force=force)
    written = [str(out)]
    if water_output is not None:
        written.append(str(save(result.water, water_output, force=force)))
    if qc_json is not None:
        qc_json.parent.mkdir(parents=True, exist_ok=True)
        qc_json.write_text(json.dumps(result.qc, indent=2, default=str))
        written.append(str(qc_json))
    if figure is not None:
        figure.parent.mkdir(parents=True, exist_ok=True)
        result.plot_alignment(figure)
        written.append(str(figure))
    qc = result.qc
    console.print(
        f"{file.name}: {qc['n_used']}/{qc['n_transients']} transients, "
        f"SNR {_fmt(qc.get('snr_before'), '.1f')} -> {_fmt(qc.get('snr_after'), '.1f')}, "
        f"NAA FWHM {_fmt(qc.get('fwhm_hz_before'), '.2f')} -> {_fmt(qc.get('fwhm_hz_after'), '.2f')} Hz, "
        f"residual water {_fmt(qc.get('residual_water'), '.1%')} of NAA, "
        f"{len(qc['rejected'])} rejected; wrote {', '.join(written)}",
        markup=False, highlight=False, soft_wrap=True,
    )
