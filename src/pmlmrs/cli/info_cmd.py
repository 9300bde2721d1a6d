"""``pmlmrs info FILE`` (header summary of any supported file) and ``pmlmrs convert FILE -o OUT``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from pmlmrs.cli._common import app, bad_usage, console, handle_errors
from pmlmrs.errors import BasisError, ReadError, UnknownFormatError, WriteError

__all__ = ["info", "convert", "summarise", "summarise_basis"]


def _check_format(fmt: str | None) -> None:
    """Bad usage (exit 2) when --format names no reader."""
    from pmlmrs.io import readers

    if fmt is not None and fmt not in readers():
        raise bad_usage("--format", f"{fmt!r} is not a reader; readers: {', '.join(readers())}")


def _read_options(central_frequency: float | None, spectral_width: float | None,
                  echo_time: float | None) -> dict[str, Any]:
    """The header values given on the command line; a non-positive or non-finite one is bad usage."""
    import math

    opts = {"central_frequency": central_frequency, "spectral_width": spectral_width, "echo_time": echo_time}
    for name, v in opts.items():
        if v is not None and not (math.isfinite(v) and (v > 0 or (name == "echo_time" and v == 0))):
            raise bad_usage(f"--{name.replace('_', '-')}", f"must be a positive number, got {v}")
    return {k: v for k, v in opts.items() if v is not None}


def summarise(spectrum: Any, format_name: str | None = None) -> dict[str, Any]:
    """The JSON-friendly summary that ``pmlmrs info`` prints (units in the key names)."""
    h = spectrum.header
    acq = dict(h.acquisition)
    g = h.geometry
    sequence = acq.get("SequenceName") or None
    return {
        "file": spectrum.source,
        "format": format_name,
        "nucleus": h.nucleus,
        "spectrometer_frequency_mhz": h.spectrometer_frequency,
        "field_strength_t": h.field_strength,
        "spectral_width_hz": h.spectral_width,
        "dwell_time_s": h.dwell_time,
        "n_points": spectrum.n_points,
        "dims": {d: n for d, n in spectrum.dim_sizes.items()},
        "shape": list(spectrum.shape),
        "echo_time_ms": None if h.echo_time is None else h.echo_time * 1e3,
        "repetition_time_ms": None if h.repetition_time is None else h.repetition_time * 1e3,
        "ppm_reference": h.ppm_reference,
        "voxel_size_mm": None if g is None else list(g.voxel_size),
        "voxel_centre_mm": None if g is None else list(g.centre),
        "voxel_volume_ml": None if g is None else g.volume_ml,
        "manufacturer": acq.get("Manufacturer") or None,
        "sequence": sequence,
        "protocol": acq.get("ProtocolName") or None,
        "water_suppressed": acq.get("WaterSuppressed"),
        "provenance": [
            {"name": s.name, "program": s.program, "version": s.version, "time": s.time, "details": s.details}
            for s in spectrum.provenance
        ],
    }


def summarise_basis(basis: Any, format_name: str) -> dict[str, Any]:
    """The JSON-friendly summary of a basis set (``pmlmrs info`` on a .BASIS file or basis folder)."""
    meta = dict(basis.meta)
    return {
        "file": basis.source,
        "format": format_name,
        "kind": "basis",
        "nucleus": basis.nucleus,
        "spectrometer_frequency_mhz": basis.spectrometer_frequency,
        "spectral_width_hz": basis.spectral_width,
        "dwell_time_s": basis.dwell_time,
        "n_points": basis.n_points,
        "echo_time_ms": None if basis.echo_time is None else basis.echo_time * 1e3,
        "ppm_reference": basis.ppm_reference,
        "sequence": meta.get("sequence") or None,
        "n_metabolites": len(basis.names),
        "metabolites": list(basis.names),
        "ppm_check": meta.get("ppm_check"),
    }


def _control_summary(path: Path, text: str) -> dict[str, Any]:
    """The ``$LCMODL`` values of an LCModel control file (*text*, read from *path*) that describe the data."""
    from pmlmrs.io.lcmodel import parse_control

    ctl = parse_control(text, path)
    dwell = ctl.get("DELTAT")
    return {
        "file": str(path),
        "format": "lcmodel_control",
        "kind": "control",
        "spectrometer_frequency_mhz": ctl.get("HZPPPM"),
        "dwell_time_s": dwell,
        "spectral_width_hz": None if not dwell else 1.0 / float(dwell),
        "n_points": ctl.get("NUNFIL"),
        "echo_time_ms": ctl.get("ECHOT"),
        "values": {k: v for k, v in ctl.items() if k != "KEY"},
    }


def _print_mapping(summary: dict[str, Any], skip: tuple[str, ...] = ("file",)) -> None:
    from rich.table import Table

    table = Table(title=Path(summary["file"] or "").name or None, show_header=False, box=None, pad_edge=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, val in summary.items():
        if key in skip or val is None:
            continue
        if isinstance(val, list):
            val = " ".join(str(v) for v in val)
        elif isinstance(val, dict):
            val = ", ".join(f"{k}={v}" for k, v in val.items())
        table.add_row(key.replace("_", " "), _fmt(val))
    console.print(table, markup=False, highlight=False)


def _fmt(value: Any, unit: str = "", digits: int = 6) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}g}{(' ' + unit) if unit else ''}"
    if isinstance(value, (list, tuple)):
        return " x ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in value) + \
            ((" " + unit) if unit else "")
    return f"{value}{(' ' + unit) if unit else ''}"


def _print_table(summary: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=Path(summary["file"] or "").name or None, show_header=False, box=None, pad_edge=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    dims = summary["dims"]
    centre = summary["voxel_centre_mm"]
    rows = [
        ("format", _fmt(summary["format"])),
        ("nucleus", _fmt(summary["nucleus"])),
        ("frequency", _fmt(summary["spectrometer_frequency_mhz"], "MHz", 9)),
        ("field", _fmt(summary["field_strength_t"], "T", 4)),
        ("spectral width", _fmt(summary["spectral_width_hz"], "Hz", 7)),
        ("dwell time", _fmt(None if summary["dwell_time_s"] is None else summary["dwell_time_s"] * 1e6, "us", 6)),
        ("points", _fmt(summary["n_points"])),
        ("dims", ", ".join(f"{d}={n}" for d, n in dims.items()) if dims else "none (single FID)"),
        ("TE", _fmt(summary["echo_time_ms"], "ms", 6)),
        ("TR", _fmt(summary["repetition_time_ms"], "ms", 6)),
        ("ppm reference", _fmt(summary["ppm_reference"], "ppm", 5)),
        ("voxel size", _fmt(summary["voxel_size_mm"], "mm")),
        ("voxel centre", "-" if centre is None else "(" + ", ".join(f"{c:.1f}" for c in centre) + ") mm"),
        ("manufacturer", _fmt(summary["manufacturer"])),
        ("sequence", _fmt(summary["sequence"]) + (f" ({summary['protocol']})" if summary["protocol"] else "")),
        ("water suppressed", _fmt(summary["water_suppressed"])),
    ]
    for key, val in rows:
        table.add_row(key, val)
    for i, step in enumerate(summary["provenance"]):
        text = f"{step['name']}: {step['details']}".strip()
        table.add_row("provenance" if i == 0 else "", f"{text} [{step['program']} {step['version']}, {step['time']}]")
    console.print(table, markup=False, highlight=False)


@app.command()
@handle_errors
def info(
    file: Path = typer.Argument(..., help="Any supported MRS file (NIfTI-MRS, SDAT/SPAR, RDA, DICOM, TWIX, ...)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    format: str | None = typer.Option(None, "--format", help="Reader name, to skip file-type detection."),
    central_frequency: float | None = typer.Option(None, "--central-frequency", help="MHz, for files without it."),
    spectral_width: float | None = typer.Option(None, "--spectral-width", help="Hz, for files without it."),
    echo_time: float | None = typer.Option(None, "--echo-time", help="ms, for files without it."),
) -> None:
    """Header summary of any supported file: frequency, spectral width, points, dims, TE/TR, voxel."""
    from pmlmrs.io import find_reader, load

    _check_format(format)
    printer = _print_table
    try:
        fmt = format or find_reader(file).name
    except UnknownFormatError as exc:
        # Not a spectrum: an LCModel .BASIS / basis folder, or an LCModel control file?
        summary = _other_summary(file)
        if summary is None:
            raise exc from None
        printer = _print_mapping
    else:
        spectrum = load(file, format=fmt, **_read_options(central_frequency, spectral_width, echo_time))
        summary = summarise(spectrum, fmt)
    if as_json:
        typer.echo(json.dumps(summary, indent=2, default=str))
    else:
        printer(summary)


def _other_summary(path: Path) -> dict[str, Any] | None:
    """Summary of a basis set or LCModel control file, or None when *path* is neither."""
    from pmlmrs.basis import detect_basis_format, load_basis

    try:
        basis_format = detect_basis_format(path)
    except (BasisError, ReadError):
        basis_format = None
    if basis_format is not None:
        return summarise_basis(load_basis(path, format=basis_format), basis_format)
    if path.is_file():
        with open(path, errors="replace") as fh:  # the head tells; only a control file is read on
            head = fh.read(4096)
            if "$LCMODL" in head.upper() or "&LCMODL" in head.upper():
                return _control_summary(path, head + fh.read())
    return None


@app.command()
@handle_errors
def convert(
    file: Path = typer.Argument(..., help="Any supported MRS file."),
    output: Path = typer.Option(..., "--output", "-o", help="Output file, e.g. OUT.nii.gz (NIfTI-MRS)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing output."),
    central_frequency: float | None = typer.Option(None, "--central-frequency", help="MHz (overrides the file)."),
    spectral_width: float | None = typer.Option(None, "--spectral-width", help="Hz (overrides the file)."),
    echo_time: float | None = typer.Option(None, "--echo-time", help="ms (overrides the file)."),
    format: str | None = typer.Option(None, "--format", help="Reader name, to skip file-type detection."),
) -> None:
    """Convert any supported input to NIfTI-MRS (the format follows the output extension)."""
    from pmlmrs.io import load, save

    _check_format(format)
    if output.exists() and not force:
        raise WriteError("exists; pass --force to overwrite", output)
    if output.exists() and output.resolve() == file.resolve():
        raise WriteError("is the input file; give another output name", output)
    try:
        spectrum = load(file, format=format, **_read_options(central_frequency, spectral_width, echo_time))
    except UnknownFormatError:
        from pmlmrs.basis import detect_basis_format

        try:
            kind = detect_basis_format(file)
        except (BasisError, ReadError):
            kind = None
        if kind is None:
            raise
        raise UnknownFormatError(f"is a basis set ({kind}), not a spectrum: convert writes spectra; "
                                 "`pmlmrs info` shows a basis, `pmlmrs.basis.load_basis` reads it", file) from None
    out = save(spectrum, output, force=force)
    console.print(f"wrote {out}", markup=False, highlight=False)
