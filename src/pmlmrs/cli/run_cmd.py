"""``pmlmrs run BIDS_DIR OUT_DIR [participant|group|all]``: the whole study, BIDS-App style."""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import typer

from pmlmrs.cli._common import app, bad_usage, check_choice, console, err_console, handle_errors, state

__all__ = ["run", "progress_bar", "print_summary", "Level"]


class Level(str, enum.Enum):
    """BIDS-App analysis level."""

    participant = "participant"
    group = "group"
    all = "all"


@contextlib.contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress bar on stderr; yields the ``progress(step, done, total)`` callback."""
    if not enabled or not err_console.is_terminal:
        yield lambda step, done, total: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    labels = {"fit": "fitting exams", "reports": "writing reports"}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=True) as bar:
        tasks: dict[str, Any] = {}

        def update(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = bar.add_task(labels.get(step, step), total=max(total, 1))
            bar.update(tasks[step], completed=done, total=max(total, 1))

        yield update


def print_summary(res: Any, *, max_problems: int = 10) -> None:
    """The end-of-run summary: counts, stages, problems, where the outputs are."""
    console.print(f"[bold]pmlmrs run[/bold] ({res.level}): {res.n_patients} patients, {res.n_exams} exams, "
                  f"{res.n_voxels} voxels; {res.n_fitted} fitted, {res.n_reused} unchanged (not refitted), "
                  f"{res.n_failed} failed; {res.seconds:.1f} s", highlight=False, soft_wrap=True)
    if res.refit_reasons:
        why = ", ".join(f"{n} {k}" for k, n in sorted(res.refit_reasons.items(), key=lambda kv: -kv[1]))
        console.print(f"fitted because: {why}", highlight=False, soft_wrap=True)
    if res.stage_counts:
        stages = ", ".join(f"{k} {v}" for k, v in sorted(res.stage_counts.items()))
        console.print(f"stages: {stages}", highlight=False, soft_wrap=True)
    errors = [p for p in res.problems if p.level == "error"]
    warnings = [p for p in res.problems if p.level != "error"]
    if res.problems:
        where = f" (all in {res.files['problems']})" if "problems" in res.files else ""
        console.print(f"{len(errors)} error(s) and {len(warnings)} warning(s) in the input{where}:",
                      highlight=False, soft_wrap=True)
        for p in (errors + warnings)[:max_problems]:
            console.print(f"  {p.level}: {p.message}", markup=False, highlight=False, soft_wrap=True)
        if len(res.problems) > max_problems:
            console.print(f"  ... {len(res.problems) - max_problems} more", highlight=False, soft_wrap=True)
    for m in res.missing:
        console.print(f"not written: {m}", markup=False, highlight=False, soft_wrap=True)
    console.print(f"database: {res.db_url}", markup=False, highlight=False, soft_wrap=True)
    for key in ("voxels", "stage_stats", "correlations", "iris", "cohort_report"):
        if key in res.files:
            console.print(f"{key}: {res.files[key]}", markup=False, highlight=False, soft_wrap=True)


@app.command("run")
@handle_errors
def run(
    bids_dir: Path = typer.Argument(..., help="MRS-BIDS dataset (participants.tsv, sub-*/ses-*/mrs/...)."),
    out_dir: Path = typer.Argument(..., help="Output (derivatives) folder."),
    level: Level = typer.Argument(Level.all, help="participant, group or all."),
    db: str = typer.Option(None, "--db", help="SQLAlchemy database URL (default sqlite:///OUT_DIR/pmlmrs.db)."),
    scheduler: str = typer.Option(None, "--scheduler", help="dask.distributed scheduler address."),
    workers: int = typer.Option(1, "--workers", "-j", min=1, help="Local worker processes."),
    basis: str = typer.Option(None, "--basis", help="Basis set (file, folder or bundled name); default: "
                                                    "the bundled basis matching field and TE."),
    force: bool = typer.Option(False, "--force", help="Update existing results (unchanged voxels are reused)."),
    onset: str = typer.Option(None, "--onset", help="PML onset date for the stage rules: symptom (default) or "
                                                    "diagnosis."),
    early_months: float = typer.Option(None, "--early-months", help="Early post-PML: < this many months (default 19)."),
    late_months: float = typer.Option(None, "--late-months", help="Late post-PML: > this many months (default 23)."),
    backend: str = typer.Option(None, "--backend", help="Fitting backend: numpy (default) or jax."),
    config: Path = typer.Option(None, "--config", help="TOML file with option tables fit, preprocess, quant, qc, "
                                                       "stages, stats (the options above override it)."),
    no_water_scaling: bool = typer.Option(False, "--no-water-scaling", help="Keep basis units."),
    no_reports: bool = typer.Option(False, "--no-reports", help="Skip the HTML reports."),
) -> None:
    """Run the study: ingest, fit every voxel, stages, statistics and reports (DESIGN.md).

    Exit status 1 when any voxel failed or the input has errors (everything else is still written;
    group/problems.tsv lists them), or when a group-level run finds no fits in the database.
    """
    from pmlmrs.config import check_toml_tables
    from pmlmrs.fit import FitOptions
    from pmlmrs.preprocess import PreprocessOptions
    from pmlmrs.qc import QCOptions
    from pmlmrs.quant import QuantOptions
    from pmlmrs.stats import StatsOptions
    from pmlmrs.study.pipeline import run_study
    from pmlmrs.study.stages import StageOptions

    if scheduler is not None and workers != 1:
        raise bad_usage("--scheduler", "give either --workers or --scheduler, not both")
    check_choice("--backend", backend, ("numpy", "jax"))
    check_choice("--onset", onset, ("symptom", "diagnosis"))
    for option, value in (("--early-months", early_months), ("--late-months", late_months)):
        if value is not None and not value > 0:
            raise bad_usage(option, f"must be a positive number of months, got {value}")
    tables = {"fit": FitOptions, "preprocess": PreprocessOptions, "quant": QuantOptions, "qc": QCOptions,
              "stages": StageOptions, "stats": StatsOptions}
    doc = check_toml_tables(config, tuple(tables)) if config is not None else {}
    opts = {k: cls.from_document(doc, k, config) if k in doc else None for k, cls in tables.items()}  # validated
    fit_options = opts["fit"] or FitOptions()
    if backend is not None:
        fit_options = fit_options.replace(backend=backend)
    stage_changes = {k: v for k, v in (("onset", onset), ("early_months", early_months),
                                       ("late_months", late_months)) if v is not None}
    stage_options = (opts["stages"] or StageOptions()).replace(**stage_changes)
    # the fit's preprocessing (no one-peak phasing/referencing) unless the table says otherwise
    preprocess_options = PreprocessOptions.before_fit(**doc.get("preprocess", {}))
    with progress_bar(enabled=not state.get("debug")) as update:
        res = run_study(bids_dir, out_dir, Level(level).value, db_url=db, workers=workers, scheduler=scheduler, basis=basis,
                        fit_options=fit_options, preprocess_options=preprocess_options,
                        quant_options=opts["quant"], qc_options=opts["qc"], stage_options=stage_options,
                        stats_options=opts["stats"], water_scaling=not no_water_scaling, reports=not no_reports,
                        force=force, progress=update)
    print_summary(res)
    errors = sum(p.level == "error" for p in res.problems)
    if res.n_failed or errors or not res.n_voxels:
        err_console.print(f"pmlmrs run: {res.n_failed} voxel(s) failed, {errors} input error(s)"
                          + ("; no voxels found" if not res.n_voxels else "")
                          + (" (see group/problems.tsv)" if "problems" in res.files else " (listed above)"),
                          markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1)

