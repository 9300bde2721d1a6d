"""``pmlmrs import VENDOR_DIR MAPPING.tsv BIDS_DIR``: vendor files → an MRS-BIDS dataset."""

from __future__ import annotations

from pathlib import Path

import typer

from pmlmrs.cli._common import app, console, handle_errors

__all__ = ["import_"]


@app.command("import")
@handle_errors
def import_(
    vendor_dir: Path = typer.Argument(..., help="Folder with the scanner files."),
    mapping: Path = typer.Argument(..., help="TSV: file, participant_id, session_id, voi [, ref_file, acq, "
                                             "acq_time] (without acq_time: from the file header where it has one)."),
    bids_dir: Path = typer.Argument(..., help="MRS-BIDS folder to create or extend."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing NIfTI-MRS files."),
    central_frequency: float = typer.Option(None, "--central-frequency", help="MHz, for files without it."),
    spectral_width: float = typer.Option(None, "--spectral-width", help="Hz, for files without it."),
    echo_time: float = typer.Option(None, "--echo-time", help="ms, for files without it."),
) -> None:
    """Convert vendor files listed in a mapping table into an MRS-BIDS dataset (NIfTI-MRS).

    Exit status 1 when a row could not be imported (the others are written; each problem is printed).
    """
    from pmlmrs.config import ReadOptions
    from pmlmrs.study.importer import import_vendor

    ro = None
    if any(v is not None for v in (central_frequency, spectral_width, echo_time)):
        ro = ReadOptions(central_frequency=central_frequency, spectral_width=spectral_width, echo_time=echo_time)
    res = import_vendor(vendor_dir, mapping, bids_dir, force=force, read_options=ro)
    console.print(f"wrote {len(res.written)} NIfTI-MRS file(s) to {res.bids_dir}", highlight=False, soft_wrap=True)
    for p in res.problems:
        console.print(f"  {p.level}: {p.message}", markup=False, highlight=False, soft_wrap=True)
    if not res.written or any(p.level == "error" for p in res.problems):   # a skipped row is a failed input
        raise typer.Exit(1)
