"""``pmlmrs demo [OUT_DIR]``: build the synthetic demo cohort and run the whole study on it."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from pmlmrs.cli._common import app, console, handle_errors, state
from pmlmrs.errors import WriteError

__all__ = ["demo", "default_workers"]


def default_workers() -> int:
    """Worker processes for the demo: the CPUs this process may use, at most 4."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, min(4, n))


@app.command("demo")
@handle_errors
def demo(
    out_dir: Path = typer.Argument(Path("pmlmrs_demo"), help="Folder for bids/ and derivatives/."),
    force: bool = typer.Option(False, "--force", help="Replace an existing demo (unchanged fits are reused)."),
    workers: int = typer.Option(None, "--workers", "-j", min=1, help="Worker processes (default: CPUs, max 4)."),
    seed: int = typer.Option(20170454, "--seed", help="Seed of the synthetic cohort."),
    patients: int = typer.Option(20, "--patients", min=1, max=20, help="Number of patients (1-20)."),
) -> None:
    """Generate the demo cohort under OUT_DIR/bids and run `pmlmrs run` into OUT_DIR/derivatives."""
    import time

    from pmlmrs.cli.run_cmd import print_summary, progress_bar
    from pmlmrs.demo import make_demo_cohort
    from pmlmrs.study.pipeline import run_study

    t0 = time.perf_counter()
    bids, deriv = out_dir / "bids", out_dir / "derivatives"
    if not force and (bids.exists() or deriv.exists()):
        raise WriteError("already holds a demo (bids/ or derivatives/); use --force to replace it", out_dir)
    cohort = make_demo_cohort(bids, seed=seed, n_patients=patients, force=force)
    console.print(f"demo cohort: {cohort.n_patients} patients, {cohort.n_exams} exams, {cohort.n_voxels} voxels "
                  f"({cohort.n_raw} raw multi-transient) in {bids}", highlight=False, soft_wrap=True)
    n = workers or default_workers()
    with progress_bar(enabled=not state.get("debug")) as update:
        res = run_study(bids, deriv, "all", workers=n, force=force, progress=update)
    print_summary(res)
    report = res.files.get("cohort_report")
    total = time.perf_counter() - t0
    if report is not None:
        console.print(f"[bold]cohort report:[/bold] {report}  (demo finished in {total:.1f} s)", highlight=False, soft_wrap=True)
    else:
        console.print(f"demo finished in {total:.1f} s; no cohort report (see above)", highlight=False, soft_wrap=True)
