"""``run_study``: the whole study in one call (DESIGN.md ``pmlmrs run``).

ingest (MRS-BIDS + clinical tables) → stages → per exam, in parallel: load, preprocess (every voxel:
coil/dyn reduction, eddy currents, residual water; :meth:`PreprocessOptions.before_fit`), fit
(``--basis`` or the bundled basis matching field and TE), water
scaling (when an ``_mrsref`` exists), QC, per-voxel outputs → database → ``group/voxels.tsv`` →
statistics (:mod:`pmlmrs.stats`) → reports (exam, patient timeline, cohort).

Outputs (MRS-BIDS derivatives under OUT_DIR)::

    OUT_DIR/dataset_description.json            GeneratedBy pmlmrs, SourceDatasets
    OUT_DIR/pmlmrs.db                           SQLite database unless --db names another
    OUT_DIR/sub-*/ses-*/mrs/<stem>_desc-fit_svs.tsv    the summary.tsv row of the voxel
    OUT_DIR/sub-*/ses-*/mrs/<stem>_desc-fit_svs.json   fit.json of the voxel (parameters, CRLBs, QC, provenance)
    OUT_DIR/sub-*/ses-*/sub-*_ses-*_report.html  exam report (every voxel of the exam side by side)
    OUT_DIR/sub-*/sub-*_timeline.html            patient timeline
    OUT_DIR/group/voxels.tsv, exams.tsv, problems.tsv, review.tsv (unassigned/flagged exams)
    OUT_DIR/group/stage_stats.tsv, correlations.tsv, iris.tsv (+ the other pmlmrs.stats tables)
    OUT_DIR/group/report.html                    cohort report
    OUT_DIR/logs/run-<id>_<level>.json          provenance of each run (options, inputs, counts, problems)

A voxel is (participant, session, voi, acq label): an exam may have several lesion voxels
(``acq-frontal``, ``acq-parietal``), each fitted, stored, reused and removed on its own, each one
row of group/voxels.tsv (told apart by its ``spectrum``). The statistics and the quotients of the
exam page use per exam the mean of its lesion voxels (:func:`pmlmrs.stats.lesion_nawm_table`).

Re-running is idempotent: each voxel's inputs (the two files and every setting that changes a fit)
are SHA-256 hashed, unchanged voxels are not refitted, changed ones replace their database rows in
one transaction; voxels whose files left the dataset lose their rows and outputs.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import math
import os
import pickle
import time
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pmlmrs._logging import logger
from pmlmrs.errors import ConfigError, StudyError, WriteError, check_option
from pmlmrs.quant.outputs import input_record, remove_outputs, source_sha256, to_jsonable, tree_sha256
from pmlmrs.study.bids import ExamInput, Study, VoxelInput, acq_label, discover, voxel_id
from pmlmrs.study.clinical import Problem
from pmlmrs.study.stages import StageOptions, assign_stage

__all__ = ["LEVELS", "RunResult", "run_study", "VOXEL_KEY_COLUMNS", "EXAM_COLUMNS", "find_basis"]

LEVELS = ("participant", "group", "all")
#: The first columns of group/voxels.tsv (then every summary.tsv column, then ``water_scaled``:
#: true when the amplitudes are in mM, false when in basis units for want of a usable water reference).
VOXEL_KEY_COLUMNS = ["participant_id", "session_id", "voi", "stage", "days_since_pml_onset"]
#: Columns of the exams table handed to the statistics (and group/exams.tsv).
EXAM_COLUMNS = ["participant_id", "session_id", "acq_time", "stage", "stage_rule", "days_since_pml_onset",
                "kps", "edss", "delta_kps", "delta_edss", "lesion_enhancing"]
_CACHE = ".pmlmrs_cache"
ProgressCallback = Callable[[str, int, int], None]


@dataclasses.dataclass
class RunResult:
    """What :func:`run_study` did.

    Attributes
    ----------
    out_dir : Path
    db_url : str
        Password hidden.
    run_id : int
    level : str
    n_patients, n_exams, n_voxels : int
    n_fitted, n_reused, n_failed : int
        Voxels fitted now, taken unchanged from the database, and failed.
    refit_reasons : dict
        Why the voxels not reused were fitted: ``new``, ``input file changed``, ``fit settings or
        pmlmrs fitting code changed``, ``earlier fit failed``, ``outputs missing`` -> count.
    stage_counts : dict
        Exams per stage.
    problems : list of Problem
        Input problems and failures (each with its message).
    files : dict
        Name -> path of the main outputs written (``voxels``, ``stage_stats``, ``cohort_report``, ...).
    missing : list of str
        Outputs that could not be made, with the reason.
    seconds : float
    bids_dir : Path or None
        The dataset read; :meth:`problem_dicts` names files relative to it.
    """

    out_dir: Path
    db_url: str
    run_id: int
    level: str
    n_patients: int = 0
    n_exams: int = 0
    n_voxels: int = 0
    n_fitted: int = 0
    n_reused: int = 0
    n_failed: int = 0
    refit_reasons: dict[str, int] = dataclasses.field(default_factory=dict)
    stage_counts: dict[str, int] = dataclasses.field(default_factory=dict)
    problems: list[Problem] = dataclasses.field(default_factory=list)
    files: dict[str, Path] = dataclasses.field(default_factory=dict)
    missing: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0
    bids_dir: Path | None = None

    def problem_dicts(self) -> list[dict[str, Any]]:
        """The problems as written (problems.tsv, run log, database, cohort page): files named
        relative to the dataset (``sub-05/ses-01/mrs/...``), never by the folders above it, which can
        name a person."""
        from pmlmrs.quant.outputs import strip_folders

        rows = [p.to_dict() for p in self.problems]
        return rows if self.bids_dir is None else strip_folders(rows, [Path(self.bids_dir) / "_"])


# ------------------------------------------------------------------------------------------------
# settings and hashing
# ------------------------------------------------------------------------------------------------
#: Subpackages whose code decides a voxel's numbers (reading, preprocessing, the fit, quantification,
#: QC): their source is part of the settings digest, so that a changed fitting engine refits.
_ENGINE_PACKAGES = ("core", "io", "basis", "preprocess", "fit", "quant", "qc")


def engine_sha256() -> str:
    """SHA-256 of the source (and bundled data) of the subpackages that compute a voxel's results."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for pkg in _ENGINE_PACKAGES + ("data",):
        h.update(pkg.encode())
        h.update(tree_sha256(root / pkg).encode())
    return h.hexdigest()


def _opts_dict(o: Any) -> dict[str, Any]:
    if o is None:
        return {}
    return o.to_dict() if hasattr(o, "to_dict") else dict(o)


@dataclasses.dataclass(frozen=True)
class _Settings:
    """Everything a worker needs to process a voxel (picklable)."""

    basis: str | None
    basis_sha256: str
    fit_options: Any
    preprocess_options: Any
    quant_options: Any
    qc_options: Any
    out_dir: str
    bids_dir: str
    water_scaling: bool
    #: The four options above as dicts, keyed ``fit``, ``preprocess``, ``quant``, ``qc``.
    options: dict[str, dict[str, Any]]

    def digest(self) -> str:
        from pmlmrs import __version__
        from pmlmrs.study.db import sha256_json

        return sha256_json({
            "version": __version__, "engine": engine_sha256(), "basis": self.basis, "basis_sha256": self.basis_sha256,
            **self.options, "water_scaling": self.water_scaling,
        })


# ------------------------------------------------------------------------------------------------
# the worker side: one exam
# ------------------------------------------------------------------------------------------------
_BASIS_CACHE: dict[tuple, Any] = {}
_MODEL_CACHE: dict[tuple, Any] = {}


def find_basis(spectrum: Any, basis: str | None = None) -> Any:
    """The basis for a spectrum: *basis* (a path, or the name of a bundled basis), else the bundled
    basis whose field and echo time match the spectrum's header, else a basis simulated for the
    spectrum's field, echo time, sequence and grid (:func:`pmlmrs.basis.simulate_basis`, ideal pulses;
    PRESS with TE1 = TE2 = TE/2 unless the header names STEAM or semi-LASER; a warning says so).

    Raises
    ------
    IncompatibleDataError
        When no bundled basis matches and the echo time is unknown (the message says to pass ``--basis``).
    """
    from pmlmrs.basis import bundled_basis, bundled_basis_names
    from pmlmrs.errors import IncompatibleDataError

    if basis is not None:
        key = ("path", basis)
        if key not in _BASIS_CACHE:
            from pmlmrs.basis import load_basis_or_bundled

            _BASIS_CACHE[key] = load_basis_or_bundled(basis)
        return _BASIS_CACHE[key]
    h = spectrum.header
    te = h.echo_time
    for name in bundled_basis_names():
        key = ("bundled", name)
        if key not in _BASIS_CACHE:
            _BASIS_CACHE[key] = bundled_basis(name)
        b = _BASIS_CACHE[key]
        same_field = abs(b.spectrometer_frequency - h.spectrometer_frequency) <= 0.01 * b.spectrometer_frequency
        same_te = te is None or b.echo_time is None or abs(b.echo_time - te) <= 0.0051
        if same_field and same_te:
            return b
    if te is None or h.nucleus != "1H":
        raise IncompatibleDataError(
            f"{spectrum.source or 'spectrum'}: no bundled basis matches {h.nucleus} at "
            f"{h.spectrometer_frequency:.2f} MHz with unknown TE (bundled: "
            f"{', '.join(bundled_basis_names()) or 'none'}); pass --basis PATH")
    return _simulated_basis(spectrum)


def _sequence_of(header: Any) -> str:
    """``press``, ``steam`` or ``slaser`` from the header's sequence/protocol names (PRESS by default)."""
    acq = dict(header.acquisition)
    text = " ".join(str(acq.get(k, "")) for k in ("SequenceName", "ProtocolName")).lower()
    if "steam" in text or "svs_st" in text:
        return "steam"
    if "slaser" in text or "semi-laser" in text or "semilaser" in text or "laser" in text:
        return "slaser"
    return "press"


def _simulated_key(spectrum: Any) -> tuple:
    h = spectrum.header
    return ("simulated", round(h.spectrometer_frequency, 2), round(h.echo_time or 0.0, 4), _sequence_of(h),
            spectrum.n_points, round(h.spectral_width, 3))


def _simulated_basis(spectrum: Any) -> Any:
    from pmlmrs.basis import simulate_basis

    h = spectrum.header
    seq = _sequence_of(h)
    key = _simulated_key(spectrum)
    if key not in _BASIS_CACHE:
        logger.warning("%s: no bundled basis for %.2f MHz, TE %g ms; simulating a %s basis (ideal pulses)",
                       spectrum.source or "spectrum", h.spectrometer_frequency, h.echo_time * 1e3, seq.upper())
        _BASIS_CACHE[key] = simulate_basis(
            seq, h.echo_time, spectrometer_frequency=h.spectrometer_frequency, n_points=spectrum.n_points,
            spectral_width=h.spectral_width)
    return _BASIS_CACHE[key]


def _model(basis: Any, s: _Settings) -> Any:
    from pmlmrs.fit import LinearCombinationModel
    from pmlmrs.study.db import sha256_json

    key = (id(basis), sha256_json(s.options["fit"]))
    if key not in _MODEL_CACHE:
        if len(_MODEL_CACHE) > 8:
            _MODEL_CACHE.clear()
        _MODEL_CACHE[key] = LinearCombinationModel(basis, s.fit_options)
    return _MODEL_CACHE[key]


def _header_info(spectrum: Any, voi: str) -> dict[str, Any]:
    """``Header.to_dict()`` of the file as read, with n_points, n_averages, dims and voi (JSON-friendly)."""
    from pmlmrs.quant import to_jsonable

    info = dict(spectrum.header.to_dict())
    info["n_points"] = spectrum.n_points
    info["dims"] = dict(spectrum.dim_sizes)
    for name in ("dyn", "average", "avg"):
        if name in spectrum.dim_sizes:
            info["n_averages"] = int(spectrum.dim_sizes[name])
    info["voi"] = voi
    return to_jsonable(info)


def _voxel_paths(out_dir: Path, v: VoxelInput) -> dict[str, Path]:
    stem = v.name[: -len("_svs")] if v.name.endswith("_svs") else v.name
    mrs = out_dir / v.participant_id / v.session_id / "mrs"
    return {"tsv": mrs / f"{stem}_desc-fit_svs.tsv", "json": mrs / f"{stem}_desc-fit_svs.json",
            "result": out_dir / _CACHE / "fits" / v.participant_id / v.session_id / f"{stem}_fit.pkl"}


def _fit_voxel(v: VoxelInput, s: _Settings) -> dict[str, Any]:
    """Load, preprocess, fit, quantify and QC one voxel; write its outputs. Raises on failure."""
    from pmlmrs.basis import check_compatible
    from pmlmrs.io import load
    from pmlmrs.preprocess import preprocess
    from pmlmrs.qc import assess
    from pmlmrs.quant import scale_to_water, summary_row, write_fit_json, write_summary_tsv

    out_dir = Path(s.out_dir)
    metab = load(v.path)
    water = load(v.ref_path) if v.ref_path is not None else None
    header = _header_info(metab, v.voi)
    basis = find_basis(metab, s.basis)
    header["basis"] = input_record(basis.source)   # name and SHA-256, for the MRSinMRS table
    notes = check_compatible(metab, basis)  # before preprocessing: a wrong field fails clearly
    h = metab.header
    if s.basis is None and basis is _BASIS_CACHE.get(_simulated_key(metab)):
        notes.append(f"no bundled basis for {h.spectrometer_frequency:.2f} MHz, TE {h.echo_time * 1e3:g} ms: fitted "
                     f"with a simulated {_sequence_of(h).upper()} basis (ideal pulses); compare with the cohort's "
                     "other voxels with care")
    if water is None and s.water_scaling:
        notes.append("no water reference (_mrsref): amplitudes in basis units (ratios are unaffected; "
                     "voxels.tsv water_scaled=false)")
    # every voxel, averaged ones too: eddy currents, residual water (as `pmlmrs fit`; phase and shift: the fit)
    pr = preprocess(metab, water, s.preprocess_options)
    metab, water = pr.metab, pr.water
    pre_qc = {k: v_ for k, v_ in pr.qc.items() if isinstance(v_, (int, float, str, bool)) or v_ is None}
    metab = metab.squeeze()
    if water is not None:
        water = water.squeeze()
    result = _model(basis, s).fit(metab)
    water_scaled = False
    if water is not None and s.water_scaling:
        try:
            result = scale_to_water(result, water, s.quant_options)
            water_scaled = True
        except Exception as exc:  # noqa: BLE001 - an unusable reference leaves the fit unscaled
            notes.append(f"water scaling failed ({type(exc).__name__}: {exc}); amplitudes in basis units")
    result = result.replace(qc=assess(result, voi=v.voi, water=water, options=s.qc_options), model=None)
    row = summary_row(result, v.name, voi=v.voi)
    paths = _voxel_paths(out_dir, v)
    write_summary_tsv([row], paths["tsv"], force=True)
    write_fit_json(result, paths["json"], force=True, name=v.name, input_path=v.path, water_path=v.ref_path,
                   basis_path=basis.source, voi=v.voi,
                   options={**s.options, "preprocess_qc": pre_qc, "notes": notes})
    paths["result"].parent.mkdir(parents=True, exist_ok=True)
    with open(paths["result"], "wb") as fh:
        pickle.dump(result, fh, protocol=pickle.HIGHEST_PROTOCOL)
    qc_items = [it.to_dict() if hasattr(it, "to_dict") else list(it) for it in result.qc]
    return {"row": row, "qc_items": qc_items, "header": header,
            "water_scaled": water_scaled, "notes": notes,
            "outputs": {k: str(p.relative_to(out_dir)) for k, p in paths.items()}}


def _process_exam(task: tuple[ExamInput, tuple[str, ...], _Settings]) -> dict[str, Any]:
    """Worker entry point: fit the listed voxels (:attr:`VoxelInput.id`) of one exam; returns
    ``{voxel id: outcome}``, a failing voxel as such."""
    exam, ids, settings = task
    out: dict[str, Any] = {}
    for v in exam.voxels:
        if v.id not in ids:
            continue
        t0 = time.perf_counter()
        try:
            out[v.id] = {"status": "ok", **_fit_voxel(v, settings)}
        except Exception as exc:  # noqa: BLE001 - recorded per voxel, the run goes on
            from pmlmrs.quant.outputs import strip_folders

            # by file name: the folders above the dataset can name a person (outputs carry pseudonymous IDs)
            msg = strip_folders(" ".join(f"{type(exc).__name__}: {exc}".split()), [v.path, v.ref_path])
            out[v.id] = {"status": "error", "error": msg}
        out[v.id]["seconds"] = time.perf_counter() - t0
    return out


# ------------------------------------------------------------------------------------------------
# reports (worker side)
# ------------------------------------------------------------------------------------------------
def _load_result(path: Path) -> Any:
    with open(path, "rb") as fh:
        return pickle.load(fh)


def _write_exam_report(task: tuple[str, dict[str, Any], dict[str, str], Any, Any, dict[str, str], float,
                                  list[str]]) -> str:
    path, exam_row, fit_paths, quotients, iris_row, failures, crlb_max, produced_by = task
    from pmlmrs.report.exam import write_exam_report

    fits = {vid: _load_result(Path(p)) for vid, p in fit_paths.items() if Path(p).exists()}
    write_exam_report(path, exam_row, fits, quotients, iris_row, failures=failures, crlb_max=crlb_max,
                      produced_by=produced_by, force=True)
    return path


def _write_timeline(task: tuple[str, dict[str, Any], Any, Any, Any, dict[str, str], Any, list[str]]) -> str:
    path, patient, exams, voxels, iris, links, stage_options, produced_by = task
    from pmlmrs.report.patient import write_timeline

    write_timeline(path, patient, exams, voxels, iris, exam_links=links, stage_options=stage_options,
                   produced_by=produced_by, force=True)
    return path


# ------------------------------------------------------------------------------------------------
# tables
# ------------------------------------------------------------------------------------------------
# ------------------------------------------------------------------------------------------------
# the orchestration
# ------------------------------------------------------------------------------------------------
def _has_participant_outputs(out: Path) -> bool:
    return (out / "dataset_description.json").exists() or any(out.glob("sub-*/ses-*/mrs/*_desc-fit_*"))


def _check_out_dir(out: Path, bids: Path, level: str, force: bool) -> None:
    if out.resolve() == bids.resolve():
        raise StudyError("OUT_DIR must not be the BIDS folder itself (use e.g. BIDS_DIR/derivatives/pmlmrs)", out)
    if out.exists() and not out.is_dir():
        raise WriteError("exists and is not a folder", out)
    if force or not out.exists():
        return
    if level in ("participant", "all") and _has_participant_outputs(out):
        raise WriteError("already holds pmlmrs results; use --force to update them (unchanged voxels are "
                         "not refitted)", out)
    if level in ("group", "all") and (out / "group").exists():
        raise WriteError("already holds group results (group/); use --force to replace them", out)


def _date(v: Any) -> _dt.date | None:
    return v if isinstance(v, _dt.date) else None


def _stage_exams(study: Study, options: StageOptions) -> list[dict[str, Any]]:
    """One dict per exam: EXAM_COLUMNS + review, stage_inputs, flags."""
    rows = []
    for e in study.exams:
        p = study.patient(e.participant_id)
        a = assign_stage(e.acq_time, p, e.explicit_stage, options)
        kps_pre, edss_pre = p.get("kps_pre"), p.get("edss_pre")
        rows.append({
            "participant_id": e.participant_id, "session_id": e.session_id, "acq_time": _date(e.acq_time),
            "stage": a.stage, "stage_rule": a.rule, "days_since_pml_onset": a.inputs.get("days_since_pml_onset"),
            "kps": e.kps, "edss": e.edss,
            "delta_kps": None if e.kps is None or kps_pre is None or _isnan(kps_pre) else e.kps - kps_pre,
            "delta_edss": None if e.edss is None or edss_pre is None or _isnan(edss_pre) else e.edss - edss_pre,
            "lesion_enhancing": e.lesion_enhancing, "review": a.review, "stage_inputs": a.inputs,
            "flags": list(e.flags) + list(p.get("_date_flags") or []), "explicit_stage": e.explicit_stage,
        })
    return rows


def _isnan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def _clean(v: Any) -> Any:
    if v is None or _isnan(v):
        return None
    try:
        import pandas as pd

        if v is pd.NA or v is pd.NaT:
            return None
    except ImportError:  # pragma: no cover
        pass
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        return v.item()
    return v


def _patients_frame(study: Study) -> Any:
    import pandas as pd

    from pmlmrs.study.clinical import DATE_COLUMNS, PARTICIPANT_COLUMNS

    p = study.patients.copy()
    for c in PARTICIPANT_COLUMNS:
        if c not in p.columns:
            p[c] = None
    for c in DATE_COLUMNS:
        p[c] = pd.to_datetime(p[c], errors="coerce")
    for c in ("age", "kps_pre", "edss_pre"):
        p[c] = pd.to_numeric(p[c], errors="coerce")
    keep = list(PARTICIPANT_COLUMNS) + [c for c in p.columns if c not in PARTICIPANT_COLUMNS
                                        and not str(c).startswith("_")]
    return p[keep].reset_index(drop=True)


def _exams_frame(exam_rows: list[dict[str, Any]]) -> Any:
    import pandas as pd

    df = pd.DataFrame([{c: r.get(c) for c in EXAM_COLUMNS} for r in exam_rows], columns=EXAM_COLUMNS)
    df["acq_time"] = pd.to_datetime(df["acq_time"], errors="coerce")
    for c in ("days_since_pml_onset", "kps", "edss", "delta_kps", "delta_edss"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    df["lesion_enhancing"] = df["lesion_enhancing"].astype("boolean")
    return df


def run_study(bids_dir: str | os.PathLike, out_dir: str | os.PathLike, level: str = "all", *,
              db_url: str | None = None, workers: int = 1, scheduler: str | None = None,
              basis: str | os.PathLike | None = None, fit_options: Any = None, preprocess_options: Any = None,
              quant_options: Any = None, qc_options: Any = None, stage_options: StageOptions | None = None,
              stats_options: Any = None, water_scaling: bool = True, reports: bool = True,
              force: bool = False, progress: ProgressCallback | None = None) -> RunResult:
    """Run the study: ingest → stages → fits (parallel) → database → group tables → statistics → reports.

    Parameters
    ----------
    bids_dir : path
        MRS-BIDS dataset (DESIGN.md "Study input").
    out_dir : path
        Derivatives folder (created).
    level : {"participant", "group", "all"}
        ``participant``: per-voxel fits, per-voxel outputs, database, exam reports (without IRIS
        flags). ``group``: from the database: group tables, statistics, exam/patient/cohort
        reports. ``all``: both.
    db_url : str, optional
        SQLAlchemy URL; default ``sqlite:///OUT_DIR/pmlmrs.db``.
    workers : int
        Local worker processes (Dask ``LocalCluster``); 1 runs in this process.
    scheduler : str, optional
        ``dask.distributed`` scheduler address (workers must see OUT_DIR and BIDS_DIR).
    basis : path or str, optional
        Basis set file/folder or bundled basis name; default: the bundled basis matching the field
        and echo time of each spectrum.
    fit_options, preprocess_options, quant_options, qc_options, stage_options, stats_options : optional
        Option objects of each step (defaults otherwise; preprocessing:
        ``PreprocessOptions.before_fit()``); all recorded in the database and run.json.
    water_scaling : bool
        Scale to mM with the ``_mrsref`` water reference when present.
    reports : bool
        Write the HTML reports.
    force : bool
        Update existing results (WriteError otherwise); unchanged voxels are still not refitted.
    progress : callable, optional
        ``progress(step, done, total)`` after each exam and report.

    Returns
    -------
    RunResult
    """
    from pmlmrs import __version__
    from pmlmrs.fit import FitOptions
    from pmlmrs.parallel import Executor
    from pmlmrs.preprocess import PreprocessOptions
    from pmlmrs.qc import QCOptions
    from pmlmrs.quant import QuantOptions
    from pmlmrs.study.db import open_database, sha256_json

    t_start = time.perf_counter()
    check_option("level", level, LEVELS)
    bids = Path(bids_dir)
    out = Path(out_dir)
    _check_out_dir(out, bids, level, force)
    study = discover(bids)
    so = stage_options or StageOptions()
    fo = fit_options or FitOptions()
    po = preprocess_options or PreprocessOptions.before_fit()
    qo = quant_options or QuantOptions()
    co = qc_options or QCOptions()
    basis_str = None if basis is None else str(basis)
    basis_sha = ""
    if basis_str is not None:
        from pmlmrs.basis import bundled_basis_names

        if Path(basis_str).exists():
            basis_sha = tree_sha256(Path(basis_str))
            find_basis(None, basis_str)  # read once here: an unreadable basis stops the run, not every voxel
        elif basis_str not in bundled_basis_names():
            raise ConfigError(f"--basis {basis_str}: no such file or folder, and not a bundled basis "
                              f"({', '.join(bundled_basis_names())})")
    settings = _Settings(basis_str, basis_sha, fo, po, qo, co, str(out.resolve()), str(bids.resolve()),
                         water_scaling, {"fit": _opts_dict(fo), "preprocess": _opts_dict(po),
                                         "quant": _opts_dict(qo), "qc": _opts_dict(co)})
    settings_sha = settings.digest()
    options_record = {"level": level, "workers": workers, "scheduler": scheduler, "basis": basis_str,
                      **settings.options, "stage": _opts_dict(so), "stats": _opts_dict(stats_options),
                      "water_scaling": water_scaling, "reports": reports}
    executor = Executor(workers, scheduler)
    executor.connect()  # an unreachable scheduler stops the run before anything is written
    with executor:
        out.mkdir(parents=True, exist_ok=True)
        db = open_database(db_url, out_dir=out)
        res = RunResult(out_dir=out, db_url=db.url, run_id=0, level=level, problems=list(study.problems),
                        bids_dir=study.bids_dir)
        hashes: dict[str, tuple[str, str | None]] = {}
        for v in study.voxels:
            hashes[v.key] = (source_sha256(v.path), None if v.ref_path is None else source_sha256(v.ref_path))
        inputs = {"bids_dir": str(bids.resolve()), "n_exams": len(study.exams),
                  "files": {k: {"svs": a, "ref": b} for k, (a, b) in hashes.items()}}
        run_id = db.start_run(level=level, bids_dir=str(bids.resolve()), out_dir=str(out.resolve()),
                              options=to_jsonable(options_record),
                              inputs=inputs, inputs_sha256=sha256_json(inputs), status="running",
                              problems=[p.to_dict() for p in study.problems])
        res.run_id = run_id
        status = "failed"
        try:
            # shown on the pages: the dataset and database by name only (the folders above them can
            # name a person; the run log and the database keep the full paths)
            provenance = {"software": "pmlmrs", "version": __version__, "run_id": run_id,
                          "database": _database_name(db.url), "bids_dir": bids.resolve().name,
                          "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                          "settings_sha256": settings_sha,
                          **to_jsonable(options_record)}
            _run(study, out, level, db, run_id, settings, settings_sha, hashes, so, stats_options, executor,
                 reports, progress, res, provenance)
            status = "ok" if res.n_failed == 0 else "partial"
        finally:
            res.seconds = time.perf_counter() - t_start
            try:
                db.finish_run(run_id, status=status, n_fitted=res.n_fitted, n_reused=res.n_reused,
                              n_failed=res.n_failed, problems=res.problem_dicts())
            finally:
                db.dispose()
    _write_run_json(out, res, options_record, study, __version__)
    logger.info("run %d: %d exams, %d voxels (%d fitted, %d reused, %d failed) in %.1f s", run_id, res.n_exams,
                res.n_voxels, res.n_fitted, res.n_reused, res.n_failed, res.seconds)
    return res


def _database_name(url: str) -> str:
    """A database URL for the pages: an SQLite file by its name, a server URL as it is (password hidden)."""
    if url.startswith("sqlite") and "///" in url:
        return f"{url.split('///', 1)[0]}///{Path(url.split('///', 1)[1]).name}"
    return url


def _write_run_json(out: Path, res: RunResult, options: dict[str, Any], study: Study, version: str) -> None:
    doc = {
        "software": "pmlmrs", "version": version, "run_id": res.run_id, "level": res.level,
        "database": res.db_url, "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(res.seconds, 2), "bids_dir": str(study.bids_dir.resolve()),
        "counts": {"patients": res.n_patients, "exams": res.n_exams, "voxels": res.n_voxels,
                   "fitted": res.n_fitted, "reused": res.n_reused, "failed": res.n_failed},
        "refit_reasons": res.refit_reasons,
        "stage_counts": res.stage_counts, "options": options,
        "files": {k: str(v) for k, v in res.files.items()}, "missing": res.missing,
        "problems": res.problem_dicts(),
    }
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    path = logs / f"run-{res.run_id:04d}_{res.level}.json"
    path.write_text(json.dumps(to_jsonable(doc), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    res.files["run_log"] = path


def _write_description(out: Path, study: Study, version: str) -> None:
    # the dataset relative to the derivatives (BIDS allows it), only where that names no folder above
    # the dataset's own (those can name a person); the run log keeps the full path
    rel = Path(os.path.relpath(study.bids_dir.resolve(), out.resolve()))
    parts = rel.parts[:-1]
    source = ([{"URL": "file://" + rel.as_posix()}] if all(p == ".." for p in parts) else [])
    doc = {
        "Name": f"pmlmrs fits of {study.description.get('Name', study.bids_dir.name)}",
        "BIDSVersion": str(study.description.get("BIDSVersion", "1.9.0")),
        "DatasetType": "derivative",
        "GeneratedBy": [{"Name": "pmlmrs", "Version": version,
                         "Description": "1H MRS of PML lesions: preprocessing, linear-combination fit, "
                                        "quantification, QC, stages, cohort statistics"}],
        **({"SourceDatasets": source} if source else {}),
    }
    (out / "dataset_description.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


def _run(study: Study, out: Path, level: str, db: Any, run_id: int, settings: _Settings, settings_sha: str,
         hashes: dict[str, tuple[str, str | None]], so: StageOptions, stats_options: Any, executor: Any,
         reports: bool, progress: ProgressCallback | None, res: RunResult, provenance: dict[str, Any]) -> None:
    from pmlmrs import __version__
    from pmlmrs.study.db import sha256_json

    exam_rows = _stage_exams(study, so)
    res.n_patients = len({e.participant_id for e in study.exams})
    res.n_exams = len(study.exams)
    res.n_voxels = len(study.voxels)
    for r in exam_rows:
        res.stage_counts[r["stage"]] = res.stage_counts.get(r["stage"], 0) + 1

    # ---- patients, exams, stages: one transaction ------------------------------------------
    exam_ids: dict[str, int] = {}
    with db.session() as s:
        patients = {}
        for p in study.patients.to_dict("records"):
            pid = p["participant_id"]
            vals = {k: _clean(p.get(k)) for k in ("sex", "age", "natalizumab_stop", "pml_onset", "pml_diagnosis",
                                                  "iris_onset", "iris_end", "csf_jcv", "kps_pre", "edss_pre")}
            vals["participant_id"] = pid
            vals["flags"] = list(p.get("_flags") or [])
            patients[pid] = db.upsert_patient(s, vals)
        for e, r in zip(study.exams, exam_rows):
            ex = db.upsert_exam(s, patients[e.participant_id], {
                "session_id": e.session_id, "acq_time": r["acq_time"], "kps": r["kps"], "edss": r["edss"],
                "lesion_enhancing": r["lesion_enhancing"], "explicit_stage": r["explicit_stage"],
                "days_since_pml_onset": r["days_since_pml_onset"], "delta_kps": r["delta_kps"],
                "delta_edss": r["delta_edss"], "flags": r["flags"]})
            db.set_stage(s, ex, stage=r["stage"], rule=r["stage_rule"], inputs=r["stage_inputs"],
                         options=so.to_dict(), review=r["review"], run_id=run_id)
            exam_ids[f"{e.participant_id}/{e.session_id}"] = ex.id
        keep = {(v.participant_id, v.session_id, v.voi, v.acq) for v in study.voxels}
        gone = db.delete_missing(s, keep)
    _remove_outputs_of_removed(out, gone)

    # ---- participant level: fit what changed ------------------------------------------------
    if level in ("participant", "all"):
        digests = {k: sha256_json({"svs": svs, "ref": ref, "settings": settings_sha})
                   for k, (svs, ref) in hashes.items()}
        tasks = []
        with db.session() as s:
            stored = db.voxels_by_key(s)
            for e in study.exams:
                todo = []
                for v in e.voxels:
                    old = stored.get((v.participant_id, v.session_id, v.voi, v.acq))
                    why = _refit_reason(old, hashes[v.key], digests[v.key], settings_sha, out)
                    if why is None:
                        res.n_reused += 1
                        continue
                    res.refit_reasons[why] = res.refit_reasons.get(why, 0) + 1
                    todo.append(v.id)
                if todo:
                    tasks.append((e, tuple(todo), settings))
        logger.info("fitting %d voxel(s) in %d exam(s); %d unchanged voxel(s) reused",
                    sum(len(t[1]) for t in tasks), len(tasks), res.n_reused)
        done = [0]

        def on_result(tr: Any) -> None:
            exam, ids, _ = tasks[tr.index]
            outcome = tr.value if tr.ok else {vid: {"status": "error", "error": tr.error} for vid in ids}
            _store_exam(db, exam, outcome, exam_ids[exam.key], hashes, digests, settings_sha, run_id, res)
            done[0] += 1
            if progress is not None:
                progress("fit", done[0], len(tasks))

        if progress is not None:
            progress("fit", 0, len(tasks))
        executor.map(_process_exam, tasks, on_result=on_result)
        _write_description(out, study, __version__)

    # ---- group tables from the database -----------------------------------------------------
    voxels_rows, fit_paths, headers = _voxel_rows(db, study, exam_rows, out, res)
    if level == "group" and study.voxels and not voxels_rows:
        raise StudyError(f"no fits of this dataset's {len(study.voxels)} voxels in the database {db.url}: run the "
                         "participant level first, with the same --db (group tables left as they were)")
    import pandas as pd

    from pmlmrs.quant import summary_columns
    from pmlmrs.quant.outputs import write_tsv

    # water_scaled (last): amplitudes in mM (true) or basis units (false, no usable _mrsref); never mix them.
    vcols = VOXEL_KEY_COLUMNS + [c for c in summary_columns(voxels_rows)
                                 if c not in VOXEL_KEY_COLUMNS and c != "water_scaled"] + ["water_scaled"]
    group = out / "group"
    if level in ("group", "all"):
        group.mkdir(parents=True, exist_ok=True)
        res.files["voxels"] = write_tsv(group / "voxels.tsv", voxels_rows, vcols)  # error: empty when fitted
        res.files["exams"] = write_tsv(group / "exams.tsv", exam_rows, EXAM_COLUMNS + ["review"], empty="n/a")
        review = [r for r in exam_rows if r["review"] or r["stage"] == "unassigned"]
        res.files["review"] = write_tsv(group / "review.tsv", review,
                                        ["participant_id", "session_id", "acq_time", "stage", "stage_rule"],
                                        empty="n/a")
        res.files["problems"] = write_tsv(group / "problems.tsv", res.problem_dicts(),
                                          ["level", "participant_id", "session_id", "voi", "acq", "message", "path",
                                           "row", "column", "action"], empty="n/a")
    patients_df = _patients_frame(study)
    exams_df = _exams_frame(exam_rows)
    voxels_df = pd.DataFrame(voxels_rows, columns=vcols) if voxels_rows else pd.DataFrame(columns=vcols)

    analysis = None
    if level in ("group", "all"):
        analysis = _statistics(voxels_df, exams_df, stats_options, group, res)

    # ---- reports --------------------------------------------------------------------------
    if reports:
        _reports(study, out, level, exam_rows, patients_df, exams_df, voxels_df, fit_paths, analysis,
                 executor, progress, res, headers, provenance, so)
    else:
        _remove_stale_reports(out, level)


def _refit_reason(old: Any, files: tuple[str, str | None], digest: str, settings_sha: str, out: Path) -> str | None:
    """Why a voxel must be fitted (None: its stored fit is reused)."""
    if old is None:
        return "new"
    if (old.svs_sha256, old.ref_sha256) != files:
        return "input file changed"
    if old.settings_sha256 != settings_sha:   # the settings digest includes the fitting code (engine_sha256)
        return "fit settings or pmlmrs fitting code changed"
    if old.status != "ok" or old.summary is None or old.input_sha256 != digest:
        return "earlier fit failed"
    if not old.outputs or not all((out / p).exists() for p in old.outputs.values()):
        return "outputs missing"
    return None


def _remove_outputs_of_removed(out: Path, gone: Mapping[str, Any]) -> None:
    """Delete what earlier runs wrote for voxels, exams and patients no longer in the dataset (their
    fit files, exam reports and timelines; folders left empty go too), so the derivatives match it."""
    files = [out / p for p in gone["outputs"]]
    files += [_exam_report_path(out, pid, sid) for pid, sid in gone["exams"]]
    files += [out / pid / f"{pid}_timeline.html" for pid in gone["patients"]]
    remove_outputs(files, out)
    if gone["voxels"] or gone["exams"] or gone["patients"]:
        logger.info("removed from the database and the outputs: %d voxel(s), %d exam(s), %d patient(s) no longer "
                    "in the dataset", gone["voxels"], len(gone["exams"]), len(gone["patients"]))


def _store_exam(db: Any, exam: ExamInput, outcome: Mapping[str, Any], exam_id: int,
                hashes: dict[str, tuple[str, str | None]], digests: dict[str, str], settings_sha: str, run_id: int,
                res: RunResult) -> None:
    """Replace the rows of every fitted voxel of one exam (*outcome*: by voxel id), in one transaction."""
    from pmlmrs.quant import error_row, summary_columns
    from pmlmrs.study.db import Exam

    per_voi = Counter(x.voi for x in exam.voxels)
    with db.session() as s:
        ex = s.get(Exam, exam_id)
        scanner = None
        for v in exam.voxels:
            if v.id not in outcome:
                continue
            o = outcome[v.id]
            acq = v.acq if per_voi[v.voi] > 1 else None   # problems name the acq label where it tells voxels apart
            svs, ref = hashes[v.key]
            ok = o.get("status") == "ok"
            row = o["row"] if ok else error_row(v.name, o.get("error", "unknown error"))
            if not ok:   # an earlier fit's files would contradict the failure now recorded
                remove_outputs(_voxel_paths(res.out_dir, v).values(), res.out_dir)
            db.replace_voxel(
                s, ex, voi=v.voi, acq=v.acq, spectrum=v.name, path=str(v.path), ref_path=None if v.ref_path is None
                else str(v.ref_path), svs_sha256=svs, ref_sha256=ref, settings_sha256=settings_sha,
                input_sha256=digests[v.key], status="ok" if ok else "error", error=None if ok else o.get("error"),
                header=o.get("header", {}), outputs=o.get("outputs", {}) if ok else {}, row=row,
                columns=summary_columns([row]), qc_items=o.get("qc_items", []),
                water_scaled=bool(o.get("water_scaled")), run_id=run_id)
            if ok:
                res.n_fitted += 1
                scanner = scanner or o.get("header")
                for note in o.get("notes", []):
                    res.problems.append(Problem("warning", StudyError(note, v.path), v.participant_id,
                                                v.session_id, v.voi, acq=acq))
            else:
                res.n_failed += 1
                res.problems.append(Problem("error", StudyError(f"processing failed: {o.get('error')}", v.path),
                                            v.participant_id, v.session_id, v.voi, action="voxel recorded as failed",
                                            acq=acq))
                logger.warning("%s: %s", v.path, o.get("error"))
        if scanner and ex is not None:
            ex.scanner = dict(scanner)


def _voxel_rows(db: Any, study: Study, exam_rows: list[dict[str, Any]], out: Path,
                res: RunResult) -> tuple[list[dict[str, Any]], dict[str, dict[str, str]], list[dict[str, Any]]]:
    """group/voxels.tsv rows from the database, for the voxels of the current study (one row per
    voxel: several lesion voxels of an exam are told apart by ``spectrum``); the FitResult pickle of
    each fitted voxel by exam key and voxel id; the stored headers (each with its ``basis`` record)."""
    stage = {(r["participant_id"], r["session_id"]): r for r in exam_rows}
    rows: list[dict[str, Any]] = []
    fit_paths: dict[str, dict[str, str]] = {}
    headers: list[dict[str, Any]] = []
    with db.session() as s:
        by_key = db.voxels_by_key(s)
        for e in study.exams:
            r = stage[(e.participant_id, e.session_id)]
            for v in e.voxels:
                stored = by_key.get((v.participant_id, v.session_id, v.voi, v.acq))
                if stored is None or stored.summary is None:
                    res.missing.append(f"{v.key}: no fit in the database (run the participant level first)")
                    continue
                row = db.summary_row(stored)
                rows.append({"participant_id": v.participant_id, "session_id": v.session_id, "voi": v.voi,
                             "stage": r["stage"], "days_since_pml_onset": r["days_since_pml_onset"], **row,
                             "water_scaled": bool(stored.summary.water_scaled) if stored.status == "ok" else None})
                if stored.header:
                    headers.append({**stored.header, "_exam": e.key})
                if stored.status == "ok" and stored.outputs.get("result"):
                    fit_paths.setdefault(e.key, {})[v.id] = str(out / stored.outputs["result"])
    return rows, fit_paths, headers


def _statistics(voxels: Any, exams: Any, stats_options: Any, group: Path, res: RunResult) -> Any:
    """pmlmrs.stats on the cohort; a failure is recorded, never fatal."""
    try:
        from pmlmrs.stats import analyse_cohort
    except ImportError as exc:
        res.missing.append(f"statistics: pmlmrs.stats unavailable ({exc})")
        return None
    try:
        analysis = analyse_cohort(voxels, exams, stats_options)
        for p in analysis.write_tsv(group, force=True):
            res.files[p.stem] = p
        return analysis
    except Exception as exc:  # noqa: BLE001 - the run completes without the statistics
        msg = f"statistics failed: {type(exc).__name__}: {exc}"
        logger.warning("%s", msg)
        res.missing.append(msg)
        res.problems.append(Problem("error", StudyError(msg), action="group statistics not written"))
        return None


def _exam_report_path(out: Path, pid: str, sid: str) -> Path:
    return out / pid / sid / f"{pid}_{sid}_report.html"


def _reports(study: Study, out: Path, level: str, exam_rows: list[dict[str, Any]], patients: Any, exams: Any,
             voxels: Any, fit_paths: dict[str, dict[str, str]], analysis: Any, executor: Any,
             progress: ProgressCallback | None, res: RunResult, headers: list[dict[str, Any]],
             provenance: dict[str, Any], stage_options: StageOptions) -> None:
    iris = analysis.iris if analysis is not None else None
    ln = analysis.lesion_nawm if analysis is not None else None

    def row_of(df: Any, pid: str, sid: str) -> dict[str, Any] | None:
        if df is None or len(df) == 0:
            return None
        m = df[(df["participant_id"].astype(str) == pid) & (df["session_id"].astype(str) == sid)]
        return None if m.empty else m.iloc[0].to_dict()

    failures: dict[str, dict[str, str]] = {}  # exam key -> {voxel id: error} of voxels that could not be processed
    if len(voxels) and "error" in voxels.columns:
        for r in voxels[voxels["error"].fillna("").astype(str).str.strip().ne("")].to_dict("records"):
            vid = voxel_id(r["voi"], acq_label(r.get("spectrum")))
            failures.setdefault(f"{r['participant_id']}/{r['session_id']}", {})[vid] = str(r["error"])
    from pmlmrs.report.fit_report import key_options

    crlb_max = float(provenance["qc"].get("crlb_max", 20.0))
    bases: dict[str, Any] = {}
    for h in headers:
        if h.get("basis"):
            bases.setdefault(h["_exam"], h["basis"])

    def produced_by(basis: Any) -> list[str]:
        return key_options({"version": provenance["version"], "inputs": {"basis": basis},
                            "options": {"fit": provenance["fit"], "qc": provenance["qc"]}}, crlb_max)

    tasks = []  # every exam gets a page, also one whose voxels all failed or are missing
    for r in exam_rows:
        key = f"{r['participant_id']}/{r['session_id']}"
        exam_row = {c: r.get(c) for c in EXAM_COLUMNS}
        tasks.append((str(_exam_report_path(out, r["participant_id"], r["session_id"])), exam_row,
                      fit_paths.get(key, {}), row_of(ln, r["participant_id"], r["session_id"]),
                      row_of(iris, r["participant_id"], r["session_id"]), failures.get(key, {}),
                      crlb_max, produced_by(bases.get(key))))
    p_tasks = []
    if level in ("group", "all"):
        links = {}
        for t in tasks:
            p = Path(t[0])
            links.setdefault(p.parts[-3], {})[p.parts[-2]] = f"{p.parts[-2]}/{p.name}"
        for prow in patients.to_dict("records"):
            pid = prow["participant_id"]
            if not (exams["participant_id"] == pid).any():
                continue
            prow["_date_flags"] = study.patient(pid).get("_date_flags")  # the stage rules are not applied then
            p_tasks.append((str(out / pid / f"{pid}_timeline.html"), prow, exams[exams["participant_id"] == pid],
                            voxels[voxels["participant_id"] == pid], iris, links.get(pid, {}), stage_options,
                            produced_by(next((b for k, b in bases.items() if k.startswith(f"{pid}/")), None))))
    all_tasks = [("exam", t) for t in tasks] + [("timeline", t) for t in p_tasks]
    if all_tasks:
        done = [0]

        def on_result(tr: Any) -> None:
            done[0] += 1
            kind, t = all_tasks[tr.index]
            if not tr.ok:
                msg = f"{kind} report {t[0]} failed: {tr.error}"
                logger.warning("%s", msg)
                res.missing.append(msg)
            if progress is not None:
                progress("reports", done[0], len(all_tasks))

        if progress is not None:
            progress("reports", 0, len(all_tasks))
        executor.map(_report_task, all_tasks, on_result=on_result)
        res.files["exam_reports"] = out
    if level in ("group", "all"):
        _cohort_report(out, patients, exams, voxels, analysis, headers, provenance, res, stage_options)


def _remove_stale_reports(out: Path, level: str) -> None:
    """With reports off, delete the pages earlier runs wrote at this level (exam reports; at the group
    level also timelines, the cohort report and group/mrsinmrs.tsv): they would describe other results.
    Only files pmlmrs wrote (its generator tag, or the checklist's header) inside OUT_DIR go."""
    pages = list(out.glob("sub-*/ses-*/sub-*_ses-*_report.html"))
    if level in ("group", "all"):
        pages += list(out.glob("sub-*/sub-*_timeline.html")) + [out / "group" / "report.html"]

    def head(p: Path) -> str:
        try:
            with open(p, encoding="utf-8", errors="replace") as fh:
                return fh.read(2000)
        except OSError:
            return ""

    files = [p for p in pages if p.is_file() and '<meta name="generator" content="pmlmrs' in head(p)]
    mrs = out / "group" / "mrsinmrs.tsv"
    if level in ("group", "all") and mrs.is_file() and head(mrs).startswith("section\titem\tvalue\tsource"):
        files.append(mrs)
    n = remove_outputs(files, out)
    if n:
        shown = ", ".join(str(f.relative_to(out)) for f in files[:3]) + (", ..." if n > 3 else "")
        logger.info("reports off (--no-reports): removed %d report file(s) of an earlier run, which may "
                    "describe other results than the tables now written (%s)", n, shown)


def _cohort_report(out: Path, patients: Any, exams: Any, voxels: Any, analysis: Any,
                   headers: list[dict[str, Any]], provenance: dict[str, Any], res: RunResult,
                   stage_options: StageOptions) -> None:
    path = out / "group" / "report.html"
    try:
        from pmlmrs.report.cohort import write_cohort_report
        from pmlmrs.report.mrsinmrs import analysis_settings, checklist
    except ImportError as exc:
        res.missing.append(f"cohort report: pmlmrs.report.cohort unavailable ({exc})")
        return
    if analysis is None:
        res.missing.append("cohort report: no statistics (see the statistics error)")
        return
    try:
        bases = list({json.dumps(h["basis"], sort_keys=True): h["basis"] for h in headers if h.get("basis")}.values())
        ws = voxels["water_scaled"].map(lambda v: str(v).lower() == "true") if "water_scaled" in voxels else None
        settings = analysis_settings({**provenance, "stats": analysis.options}, version=provenance.get("version"),
                                     basis=bases or provenance.get("basis"),
                                     water_scaled=None if ws is None or 0 < ws.sum() < len(ws) else bool(ws.all()))
        mrs = checklist(headers, settings, voxels=voxels)
        if bases:   # the basis each voxel was fitted with (without --basis: bundled, matched per voxel)
            provenance = {**provenance, "basis": ", ".join(f"{b['path']} (SHA-256 {b.get('sha256') or 'n/a'})"
                                                           for b in bases)}
        write_cohort_report(path, voxels, exams, patients, analysis.stage_stats, analysis.correlations,
                            analysis.iris, analysis.iris_evaluation, analysis.longitudinal, mrs, provenance,
                            options=analysis.options, problems=res.problem_dicts(),
                            stage_options=stage_options, force=True)
        res.files["cohort_report"] = path
        mrs_path = out / "group" / "mrsinmrs.tsv"
        mrs.to_csv(mrs_path, sep="\t", index=False, na_rep="n/a")
        res.files["mrsinmrs"] = mrs_path
    except Exception as exc:  # noqa: BLE001 - recorded, the run completes
        msg = f"cohort report failed: {type(exc).__name__}: {exc}"
        logger.warning("%s", msg)
        res.missing.append(msg)


def _report_task(item: tuple[str, tuple]) -> str:
    kind, task = item
    if kind == "exam":
        return _write_exam_report(task)
    return _write_timeline(task)
