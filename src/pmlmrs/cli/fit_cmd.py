"""``pmlmrs fit FILE... --basis BASIS -o OUTDIR``: fit spectra, quantify, QC, write the output contract.

Writes ``OUTDIR/summary.tsv`` (one row per input, errors included), ``OUTDIR/<spectrum>/fit.json``
and ``OUTDIR/<spectrum>/report.html`` (DESIGN.md). A file that cannot be read or fitted gets a
row with its ``error`` message and the batch goes on; the exit status is then **1** (after every
output is written, with a warning line naming the count), 0 when every input was fitted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from pmlmrs._logging import logger
from pmlmrs.cli._common import app, bad_usage, check_choice, console, err_console, handle_errors
from pmlmrs.errors import (
    BasisError,
    ConfigError,
    HeaderFieldError,
    PmlmrsError,
    WriteError,
)

__all__ = ["fit", "FitJob", "run_fit", "load_input", "prepare"]



@dataclass
class FitJob:
    """One input of ``pmlmrs fit`` and what became of it."""

    path: Path
    name: str
    water_path: Path | None = None
    spectrum: Any = None
    water: Any = None
    #: the header of the input as read (before preprocessing), for the report's MRSinMRS table
    header: Any = None
    result: Any = None
    error: str = ""
    row: dict[str, Any] = field(default_factory=dict)


def _read_kwargs(central_frequency: float | None, spectral_width: float | None,
                 echo_time: float | None) -> dict[str, float]:
    d = {"central_frequency": central_frequency, "spectral_width": spectral_width, "echo_time": echo_time}
    return {k: v for k, v in d.items() if v is not None}


def _basis_defaults(basis: Any) -> dict[str, float]:
    d: dict[str, float] = {"central_frequency": basis.spectrometer_frequency, "spectral_width": basis.spectral_width}
    if basis.echo_time is not None:
        d["echo_time"] = basis.echo_time * 1e3
    return d


#: The read option that supplies a missing header field.
_OPTION_FOR_FIELD = {"spectrometer_frequency": "central_frequency", "dwell_time": "spectral_width"}


def load_input(path: Path, basis: Any, read_kwargs: dict[str, float]) -> Any:
    """Load one file; header fields the file lacks come from the options, else from the basis
    (only those: a frequency the file has is kept when its dwell time comes from the basis; the
    basis's echo time too when the file has none).

    A file with coil/dyn/... dims goes through :func:`pmlmrs.preprocess.preprocess` when the caller
    asks (see :func:`prepare`); this function only reads.
    """
    from pmlmrs.io import load

    defaults = _basis_defaults(basis)
    borrowed: dict[str, float] = {}
    first: HeaderFieldError | None = None
    while True:
        try:
            spec = load(path, **read_kwargs, **borrowed)
            break
        except HeaderFieldError as exc:
            first = first or exc
            key = _OPTION_FOR_FIELD.get(exc.field or "")
            if key is None or key in read_kwargs or key in borrowed or key not in defaults:
                raise first from None
            borrowed[key] = defaults[key]
    if borrowed:
        if spec.header.echo_time is None and "echo_time" in defaults and "echo_time" not in read_kwargs:
            borrowed["echo_time"] = defaults["echo_time"]
            spec = load(path, **read_kwargs, **borrowed)
        logger.warning("%s: no %s in the file; taking %s from the basis %s", path,
                       (first.field if first is not None and first.field else "header value").replace("_", " "),
                       ", ".join(f"{k.replace('_', ' ')} {v:.6g}" for k, v in borrowed.items()), basis.source or "")
    return spec


def _load_basis(path: Path, read_kwargs: dict[str, float]) -> Any:
    """The basis as its files describe it; only a folder of FIDs that lacks its frequency or dwell
    time takes them from --central-frequency / --spectral-width (given for the data, they must not
    replace what the basis says of itself)."""
    from pmlmrs.basis import load_basis_or_bundled
    from pmlmrs.config import ReadOptions

    try:
        return load_basis_or_bundled(path)
    except BasisError as exc:
        grid = {k: read_kwargs[k] for k in ("central_frequency", "spectral_width") if k in read_kwargs}
        if not grid or "is unknown" not in str(exc):
            raise
        logger.warning("%s: the basis files do not give %s; using the value(s) given for the data", path,
                       " and ".join(k.replace("_", " ") for k in grid))
        return load_basis_or_bundled(path, ReadOptions(**grid))


def _needs_reduction(s: Any) -> bool:
    return s is not None and any(n > 1 for n in s.dim_sizes.values())


def prepare(spectrum: Any, water: Any = None, *, preprocess: bool = True) -> tuple[Any, Any]:
    """One FID each for the metabolite data and the water reference.

    With *preprocess* (the default) every input goes through :func:`pmlmrs.preprocess.preprocess`
    with :meth:`~pmlmrs.preprocess.PreprocessOptions.before_fit` (and the water reference): raw data
    are coil-combined, aligned and averaged, and every spectrum, averaged ones included, gets
    eddy-current correction (with a water reference) and residual-water removal, as
    ``validation/invivo.py`` measures them; phase and frequency are left to the fit. Without it
    only raw data are reduced (the same pipeline), and a water reference with dims beside an already
    processed metabolite FID is only coil-combined and averaged.
    """
    if preprocess or _needs_reduction(spectrum):
        from pmlmrs.preprocess import PreprocessOptions
        from pmlmrs.preprocess import preprocess as run_preprocess

        logger.info("%s: preprocessing (dims %s)", spectrum.source, spectrum.dim_sizes)
        out = run_preprocess(spectrum, water=water, options=PreprocessOptions.before_fit())
        spectrum, water = out.metab, getattr(out, "water", water)
    elif _needs_reduction(water):
        from pmlmrs.preprocess import average, coil_combine

        w = water.squeeze()
        if "coil" in w.dims and w.dim_sizes["coil"] > 1:
            w = coil_combine(w)
        for d in list(w.dims):
            if d != "coil" and w.dim_sizes[d] > 1:
                w = average(w, dim=d)
        water = w
    spectrum = spectrum.squeeze()
    if water is not None:
        water = water.squeeze()
    if spectrum.data.ndim != 1:
        raise ConfigError(f"{spectrum.source}: still has dims {spectrum.dims} after preprocessing; expected one FID")
    if water is not None and water.data.ndim != 1:
        raise ConfigError(f"{water.source}: water reference still has dims {water.dims}; expected one FID")
    return spectrum, water


def _unique_names(paths: Sequence[Path]) -> list[str]:
    from pmlmrs.quant import spectrum_name

    names: list[str] = []
    seen: dict[str, int] = {}
    for p in paths:
        n = spectrum_name(p)
        if n in seen:
            seen[n] += 1
            new = f"{n}-{seen[n]}"
            logger.warning("two inputs are named %r: the second one's outputs go to %r", n, new)
            n = new
        else:
            seen[n] = 1
        names.append(n)
    return names


def _message(exc: BaseException) -> str:
    if isinstance(exc, PmlmrsError):
        return str(exc)
    return f"unexpected {type(exc).__name__}: {exc}"


def run_fit(files: Sequence[Path], basis_path: Path, outdir: Path, *, water: Sequence[Path] = (),
            read_kwargs: dict[str, float] | None = None, fit_options: Any = None, quant_options: Any = None,
            qc_options: Any = None, voi: str | None = None, workers: int = 1, force: bool = False,
            report: bool = True, preprocess: bool = True) -> list[FitJob]:
    """The whole ``pmlmrs fit`` pipeline; returns one FitJob per input (``error`` set on failure).

    Raises only for problems that stop the whole batch (outputs exist, basis unreadable, bad options).
    """
    from pmlmrs import fit as fitmod
    from pmlmrs.basis import check_compatible
    from pmlmrs.basis.basis import canonical_name
    from pmlmrs.qc import with_qc
    from pmlmrs.quant import error_row, scale_to_water, summary_row, write_fit_json, write_summary_tsv
    from pmlmrs.quant.outputs import fit_to_dict, strip_folders
    from pmlmrs.report.mrsinmrs import header_dict

    read_kwargs = dict(read_kwargs or {})
    files = [Path(f) for f in files]
    water = [Path(w) for w in water]
    if water and len(water) not in (1, len(files)):
        raise ConfigError(f"--water given {len(water)} times for {len(files)} inputs: give it once (one reference "
                          "for every input) or once per input, in the same order")
    names = _unique_names(files)
    if outdir.exists() and not outdir.is_dir():
        raise WriteError("is a file, not a folder: give -o a folder for summary.tsv and the per-spectrum outputs",
                         outdir)
    summary = outdir / "summary.tsv"
    if not force:
        existing = [summary] + [outdir / n / f for n in names for f in ("fit.json", "report.html")]
        existing = [p for p in existing if p.exists()]
        if existing:
            raise WriteError(f"exists ({len(existing)} output file(s) in all); use --force to overwrite", existing[0])
    basis = _load_basis(basis_path, read_kwargs)
    if force:
        _remove_previous_outputs(outdir, names)
    jobs = [FitJob(p, n, (water[i] if len(water) > 1 else water[0]) if water else None)
            for i, (p, n) in enumerate(zip(files, names))]

    for job in jobs:
        try:
            spec = load_input(job.path, basis, read_kwargs)
            check_compatible(spec, basis)           # before preprocessing: a wrong field fails fast and clearly
            job.header = header_dict(spec)
            wat = load_input(job.water_path, basis, read_kwargs) if job.water_path is not None else None
            spec, wat = prepare(spec, wat, preprocess=preprocess)
            job.spectrum, job.water = spec, wat
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
            job.error = _message(exc)
            logger.info("%s", job.error)

    ok = [j for j in jobs if not j.error]
    definitions = dict(getattr(quant_options, "combinations", None) or {}) or None
    try:
        results = fitmod.fit_batch([j.spectrum for j in ok], basis, fit_options, workers=workers) if ok else []
    except PmlmrsError as exc:  # a problem of the whole batch (options vs basis, ...): every row gets it
        results = [exc] * len(ok)
    outdir.mkdir(parents=True, exist_ok=True)
    extra_opts: dict[str, Any] = {}
    if quant_options is not None:
        extra_opts["quant"] = quant_options.to_dict()
    if qc_options is not None:
        extra_opts["qc"] = qc_options.to_dict()
    extra_opts["cli"] = {"basis": str(basis_path), "read": read_kwargs, "voi": voi, "workers": workers,
                         "preprocess": preprocess}
    for job, res in zip(ok, results):
        try:
            if isinstance(res, BaseException):
                raise res
            if job.water is not None:
                res = scale_to_water(res, job.water, quant_options, basis=basis)
            res = with_qc(res, voi=voi, water=job.water, options=qc_options, definitions=definitions)
            job.result = res
            job.row = summary_row(res, job.name, voi=voi, definitions=definitions)
            doc = fit_to_dict(res, name=job.name, input_path=job.path, water_path=job.water_path,
                              basis_path=basis_path, options=extra_opts, definitions=definitions)
            d = outdir / job.name
            d.mkdir(parents=True, exist_ok=True)
            write_fit_json(res, d / "fit.json", force=True, doc=doc)
            if report:
                from pmlmrs.report.fit_report import write_fit_report

                write_fit_report(res, d / "report.html", name=job.name, voi=voi, fit_doc=doc, force=True,
                                 crlb_max=None if qc_options is None else qc_options.crlb_max, header=job.header)
        except Exception as exc:  # noqa: BLE001
            job.error = _message(exc)
            job.result = None
            logger.info("%s", job.error)
    # when nothing was fitted, the basis metabolites still get their (n/a) columns (DESIGN: one per basis name)
    measures = () if any(not j.error for j in jobs) else tuple(canonical_name(n) for n in basis.names)
    for job in jobs:
        if job.error:  # no folder of an input in summary.tsv (outputs carry pseudonymous IDs only)
            job.error = strip_folders(job.error, [job.path, job.water_path, basis_path])
            job.row = {**error_row(job.name, job.error), **{c: None for m in measures for c in (m, f"{m}_crlb")}}
    write_summary_tsv([j.row for j in jobs], summary, force=True)
    return jobs


def _remove_previous_outputs(outdir: Path, names: Sequence[str]) -> None:
    """Before a --force run: delete the fit.json and report.html of every spectrum in the old summary.tsv
    and of this run's names, so that no folder keeps a fit the new summary does not list (a spectrum
    that now fails, or one no longer given). Only these two files, and then any folder left empty."""
    from pmlmrs.quant import read_summary_tsv
    from pmlmrs.quant.outputs import remove_outputs

    old: list[str] = []
    if (outdir / "summary.tsv").is_file():
        try:
            old = [str(n) for n in read_summary_tsv(outdir / "summary.tsv")["spectrum"]]
        except Exception as exc:  # noqa: BLE001 - an unreadable old summary only limits the clean-up
            logger.warning("%s: cannot read the previous summary (%s); its spectra's outputs are kept",
                           outdir / "summary.tsv", exc)
    files = [outdir / name / f for name in dict.fromkeys([*old, *names]) if name for f in ("fit.json", "report.html")]
    removed = remove_outputs(files, outdir)
    if removed:
        logger.info("--force: removed %d output file(s) of the previous run in %s", removed, outdir)


def _check_usage(files: Sequence[Path], water: Sequence[Path], backend: str, voi: str | None,
                 central_frequency: float | None, spectral_width: float | None, echo_time: float | None,
                 ppm_range: tuple[float, float] | None) -> None:
    """typer.BadParameter (exit status 2) for option values no input could use."""
    import math

    check_choice("--backend", backend, ("numpy", "jax"))
    check_choice("--voi", voi, ("lesion", "nawm"))
    for option, value, unit in (("--central-frequency", central_frequency, "MHz"),
                                ("--spectral-width", spectral_width, "Hz")):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise bad_usage(option, f"must be a positive number of {unit}, got {value}")
    if echo_time is not None and not (math.isfinite(echo_time) and echo_time >= 0):
        raise bad_usage("--echo-time", f"must be a non-negative number of ms, got {echo_time}")
    if ppm_range is not None and all(v is not None for v in ppm_range):
        lo, hi = ppm_range
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo == hi:
            raise bad_usage("--ppm-range", f"needs two different finite ppm values, got {lo} {hi}")
    if water and len(water) not in (1, len(files)):
        raise bad_usage("--water", f"given {len(water)} times for {len(files)} inputs: give it once (one reference for "
                  "every input) or once per input, in the same order")
    h2o = [f for f in files if Path(f).suffix.lower() == ".h2o"]
    if h2o:
        raise bad_usage("--water", f"{h2o[0]} is an LCModel water reference (.H2O) among the spectra to fit: put "
                  "--water before each reference (--water a.H2O --water b.H2O); one --water takes one file")


@app.command()
@handle_errors
def fit(
    files: list[Path] = typer.Argument(..., help="Spectra to fit (any supported format; each is preprocessed, see --no-preprocess)."),
    basis: Path = typer.Option(..., "--basis", "-b", help="Basis set: LCModel .BASIS, folder of .RAW/.txt, FSL-MRS JSON, or the name of a bundled basis "
                                "(ismrm2016_press_3T_30ms)."),
    output: Path = typer.Option(..., "--output", "-o", help="Output folder (summary.tsv, <spectrum>/fit.json, report.html)."),
    water: list[Path] = typer.Option(None, "--water", help="Water reference for water scaling to mM: once for all inputs, "
                                     "or once per input in the same order."),
    central_frequency: float | None = typer.Option(None, "--central-frequency", help="MHz, for files without it (replaces a file's own value, with a warning)."),
    spectral_width: float | None = typer.Option(None, "--spectral-width", help="Hz, for files without it (replaces a file's own value, with a warning)."),
    echo_time: float | None = typer.Option(None, "--echo-time", help="ms, for files without it (replaces a file's own value, with a warning)."),
    backend: str = typer.Option("numpy", "--backend", help="Fitting backend: numpy or jax."),
    workers: int = typer.Option(1, "--workers", "-j", min=1, help="Parallel worker processes."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing outputs."),
    no_lipids: bool = typer.Option(False, "--no-lipids", help="Fit without the simulated lipid components."),
    ppm_range: tuple[float, float] | None = typer.Option(None, "--ppm-range", help="Fit window LO HI, ppm."),
    no_report: bool = typer.Option(False, "--no-report", help="Skip report.html."),
    no_preprocess: bool = typer.Option(False, "--no-preprocess", help="Fit averaged spectra as they are (no eddy-current "
                                       "correction, water removal); raw data are still reduced."),
    voi: str | None = typer.Option(None, "--voi", help="Voxel type for QC: lesion or nawm."),
    config: Path | None = typer.Option(None, "--config", help="TOML file with option tables named fit, quant and qc."),
) -> None:
    """Fit spectra with a basis set and write summary.tsv, fit.json and report.html per spectrum.

    Exit status 1 when any input failed (its row in summary.tsv has the error; the others are written).
    """
    from pmlmrs.config import check_toml_tables
    from pmlmrs.fit import FitOptions
    from pmlmrs.qc import QCOptions
    from pmlmrs.quant import QuantOptions

    _check_usage(files, water or [], backend, voi, central_frequency, spectral_width, echo_time, ppm_range)
    doc = check_toml_tables(config, ("fit", "quant", "qc")) if config else {}
    fit_opts = FitOptions.from_document(doc, "fit", config) if config else FitOptions()
    quant_opts = QuantOptions.from_document(doc, "quant", config) if config else QuantOptions()
    qc_opts = QCOptions.from_document(doc, "qc", config) if config else QCOptions()
    changes: dict[str, Any] = {"backend": backend}
    if no_lipids:
        changes["lipids"] = False
    if ppm_range is not None and all(v is not None for v in ppm_range):
        changes["ppm_range"] = tuple(ppm_range)
    fit_opts = fit_opts.replace(**changes)
    if echo_time is not None and quant_opts.echo_time is None:
        quant_opts = quant_opts.replace(echo_time=echo_time)
    jobs = run_fit(files, basis, output, water=water or (), read_kwargs=_read_kwargs(central_frequency, spectral_width,
                   echo_time), fit_options=fit_opts, quant_options=quant_opts, qc_options=qc_opts, voi=voi,
                   workers=workers, force=force, report=not no_report,
                   preprocess=not no_preprocess)
    failed = [j for j in jobs if j.error]
    flagged = [j for j in jobs if not j.error and not j.row.get("qc_pass", False)]
    console.print(f"fitted {len(jobs) - len(failed)} of {len(jobs)} spectra -> {output / 'summary.tsv'}"
                  + (f"; {len(flagged)} failed QC" if flagged else ""), markup=False, highlight=False)
    if failed:
        err_console.print(f"warning: {len(failed)} of {len(jobs)} inputs could not be processed "
                          f"(see the error column of {output / 'summary.tsv'}): "
                          + "; ".join(f"{j.name}: {j.error}" for j in failed[:3])
                          + (" ..." if len(failed) > 3 else ""), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1)

