"""The default preprocessing pipeline: raw SVS data (+ water reference) -> one clean FID.

:func:`preprocess` chooses the steps from what the data have:

1. checks (finite data; a water reference with the same points and dwell time);
2. coil combination (``"coil"`` dim; weights from the water reference when it has the same
   coils, else from the data; the same weights combine both);
3. alignment of transients (``"dyn"``/``"average"``/``"meas"``), outlier rejection, averaging;
   the water reference's transients are aligned on the water peak and averaged;
4. eddy-current correction with the water reference (Klose);
5. residual water removal (HLSVD);
6. zero-order phase and frequency referencing on a known peak (Cr by default);
7. optional apodisation, truncation and zero-filling.

Steps whose dimension or input is missing are skipped with a logged reason (``result.qc["skipped"]``).
The fit command and the study pipeline call this function on every input, averaged spectra included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pmlmrs._logging import logger
from pmlmrs.config import Options
from pmlmrs.core import ProcessingStep, Spectrum
from pmlmrs.errors import ConfigError, IncompatibleDataError, PmlmrsError, check_option
from pmlmrs.preprocess import _qc
from pmlmrs.preprocess._util import TRANSIENT_DIMS, check_finite, check_water_compatible, skip, transient_dim
from pmlmrs.preprocess.align import AlignOptions, align
from pmlmrs.preprocess.apodize import apodize, truncate, zero_fill
from pmlmrs.preprocess.average import average
from pmlmrs.preprocess.coil_combine import COIL_DIM, CoilCombineOptions, coil_combine, coil_weights
from pmlmrs.preprocess.eddy_current import EddyCurrentOptions, eddy_current_correction
from pmlmrs.preprocess.phase import PEAKS, PhaseOptions, ReferenceOptions, frequency_reference, phase_correct
from pmlmrs.preprocess.reject import RejectOptions, reject_outliers
from pmlmrs.preprocess.water_removal import WaterRemovalOptions, remove_water

__all__ = ["PreprocessOptions", "PreprocessResult", "preprocess", "plot_alignment"]

_NESTED = {
    "coil": CoilCombineOptions,
    "alignment": AlignOptions,
    "rejection": RejectOptions,
    "eddy_current": EddyCurrentOptions,
    "water": WaterRemovalOptions,
}
#: Alignment of the water reference's transients: on the water peak.
WATER_ALIGN = AlignOptions(ppm_range=(4.0, 5.3), time_limit=0.2)


@dataclass(frozen=True)
class PreprocessOptions(Options):
    """Options of :func:`preprocess`: which steps run, and each step's own options.

    Attributes
    ----------
    coil_combine, align, reject, ecc, water_removal, phase : bool
        Switch steps on or off (a step also skips itself when its input is missing).
    reference : {"cr", "naa", "cho", "water"} or None
        Peak for frequency referencing (``"water"`` uses the water reference's peak, shifted to
        4.65 ppm; without a reference it falls back to ``"cr"``); None: no referencing.
    phase_peak : str or None
        Peak for the zero-order phase (default: the reference peak; ``"water"`` takes the phase
        from the water reference).
    apodize_hz : float
        Line broadening (Hz) applied at the end; 0 for none.
    apodize_kind : {"exponential", "gaussian"}
    truncate, zero_fill : int or None
        Points to truncate to / zero-fill to at the end.
    coil, alignment, rejection, eddy_current, water : step options
        :class:`CoilCombineOptions`, :class:`AlignOptions`, :class:`RejectOptions`,
        :class:`EddyCurrentOptions`, :class:`WaterRemovalOptions` (dicts in TOML).
    """

    coil_combine: bool = True
    align: bool = True
    reject: bool = True
    ecc: bool = True
    water_removal: bool = True
    phase: bool = True
    reference: str | None = "cr"
    phase_peak: str | None = None
    apodize_hz: float = 0.0
    apodize_kind: str = "exponential"
    truncate: int | None = None
    zero_fill: int | None = None
    coil: CoilCombineOptions = field(default_factory=CoilCombineOptions)
    alignment: AlignOptions = field(default_factory=AlignOptions)
    rejection: RejectOptions = field(default_factory=RejectOptions)
    eddy_current: EddyCurrentOptions = field(default_factory=EddyCurrentOptions)
    water: WaterRemovalOptions = field(default_factory=WaterRemovalOptions)

    @classmethod
    def before_fit(cls, **changes: Any) -> PreprocessOptions:
        """The steps ``pmlmrs fit`` and ``pmlmrs run`` apply before the linear-combination fit: all but
        the zero-order phase and frequency referencing of the metabolite spectrum, which the model
        estimates itself (its start is phase-invariant and it searches +-0.3 ppm; the referencing here
        searches +-0.1 ppm around one peak). A one-peak estimate goes wrong where a large line's tail
        crosses the peak window: ISMRM 2016 dataset 24 (a broad line at 4.15 ppm) was phased by 169
        deg and shifted 9.4 Hz onto the wrong peak, and its fit then failed (tNAA/tCr 1.66 -> n/a)."""
        return cls(**{"phase": False, "reference": None, **changes})

    def __post_init__(self) -> None:
        if self.reference is not None:
            object.__setattr__(self, "reference", str(self.reference).lower())
            if self.reference == "none":
                object.__setattr__(self, "reference", None)
            else:
                check_option("reference", self.reference, tuple(PEAKS))
        if self.phase_peak is not None:
            check_option("phase_peak", str(self.phase_peak).lower(), tuple(PEAKS))
            object.__setattr__(self, "phase_peak", str(self.phase_peak).lower())
        check_option("apodize_kind", self.apodize_kind, ("exponential", "gaussian"))
        if not self.apodize_hz >= 0:
            raise ConfigError(f"apodize_hz must be >= 0, got {self.apodize_hz!r}")
        for name, cls in _NESTED.items():
            val = getattr(self, name)
            if isinstance(val, dict):
                object.__setattr__(self, name, cls.from_dict(val))
            elif not isinstance(val, cls):
                raise ConfigError(f"{name!r} must be a {cls.__name__} or a dict, got {type(val).__name__}")


@dataclass
class PreprocessResult:
    """What :func:`preprocess` returns.

    Attributes
    ----------
    metab : Spectrum
        The preprocessed metabolite FID, dims ``()``, with the provenance of every step.
    water : Spectrum or None
        The preprocessed water reference (combined, averaged, ECC'd, referenced), dims ``()``.
    qc : dict
        ``snr_before``/``snr_after`` (NAA height over noise SD), ``fwhm_hz_before``/``_after``,
        ``fwhm_ppm_before``/``_after`` (NAA), ``water_fwhm_hz``, ``residual_water`` (fraction of the
        NAA height), ``n_transients``, ``n_used``, ``frequency_drift_hz`` and ``phase_drift_deg``
        (per transient, relative to the mean), ``rejected`` (index, reason, ...), ``steps`` (names
        applied), ``skipped`` (step, reason), and ``qc_errors`` (measures that could not be taken).
        "Before" is the plain mean of the coil-combined transients (no alignment, rejection,
        ECC, water removal, phasing or referencing).
    options : PreprocessOptions
    transients_before, transients_aligned : Spectrum or None
        Coil-combined transients before and after alignment (dims ``("dyn",)``), for figures.
    """

    metab: Spectrum
    water: Spectrum | None
    qc: dict[str, Any]
    options: PreprocessOptions
    transients_before: Spectrum | None = None
    transients_aligned: Spectrum | None = None

    def plot_alignment(self, path: str | Path | None = None, ppm_range: tuple[float, float] = (0.2, 4.3)):
        """Figure of the transients before/after alignment and the drift; see :func:`plot_alignment`."""
        return plot_alignment(self, path, ppm_range)


# ---- helpers ------------------------------------------------------------------------------------
def _normalise_dims(spectrum: Spectrum, role: str) -> Spectrum:
    """Squeeze singleton dims; merge several transient dims into ``"dyn"``; refuse other dims."""
    s = spectrum.squeeze()
    tdims = [d for d in s.dims if d in TRANSIENT_DIMS]
    if len(tdims) > 1:
        order = [d for d in s.dims if d not in tdims] + tdims
        data = np.moveaxis(np.asarray(s.data), [s.axis_of(d) for d in order], list(range(len(order))))
        lead = [d for d in s.dims if d not in tdims]
        data = data.reshape(tuple(s.dim_sizes[d] for d in lead) + (-1, s.n_points))
        step = ProcessingStep("merge_dims", params={"merged": tdims, "into": "dyn"},
                              details=f"merged transient dims {tdims} into 'dyn'")
        s = s.with_data(data, dims=tuple(lead) + ("dyn",), dim_info={}, step=step)
    other = [d for d in s.dims if d != COIL_DIM and d not in TRANSIENT_DIMS]
    if other:
        raise IncompatibleDataError(
            f"{role} {spectrum.source or ''}: preprocess handles single-voxel data with 'coil' and "
            f"transient ('dyn') dims; these dims are not supported: "
            f"{', '.join(f'{d}={s.dim_sizes[d]}' for d in other)} (dims {spectrum.dims}). Select one "
            "index first (Spectrum.take) or process the steps one by one."
        )
    return s


def _try(qc: dict, key: str, func, *args, **kwargs) -> Any:
    try:
        return func(*args, **kwargs)
    except PmlmrsError as exc:
        qc.setdefault("qc_errors", {})[key] = str(exc)
        logger.debug("QC %s not measured: %s", key, exc)
        return None


def _measure(qc: dict, spectrum: Spectrum, suffix: str) -> None:
    qc[f"snr_{suffix}"] = _try(qc, f"snr_{suffix}", _qc.snr, spectrum)
    lw = _try(qc, f"fwhm_{suffix}", _qc.linewidth, spectrum)
    qc[f"fwhm_hz_{suffix}"] = None if lw is None else lw["fwhm_hz"]
    qc[f"fwhm_ppm_{suffix}"] = None if lw is None else lw["fwhm_ppm"]


def _wrap_deg(deg: np.ndarray) -> np.ndarray:
    return (deg + 180.0) % 360.0 - 180.0


# ---- the pipeline -------------------------------------------------------------------------------
def preprocess(metab: Spectrum, water: Spectrum | None = None,
               options: PreprocessOptions | None = None) -> PreprocessResult:
    """Preprocess raw single-voxel data into one FID (see the module docstring for the steps).

    Parameters
    ----------
    metab : Spectrum
        Water-suppressed data: dims any of ``"coil"``, ``"dyn"`` (or ``"average"``/``"meas"``),
        in any order, or already combined (dims ``()``).
    water : Spectrum, optional
        Unsuppressed water reference with the same points and dwell time (any of the same dims).
    options : PreprocessOptions, optional

    Returns
    -------
    PreprocessResult
        ``.metab`` (dims ``()``), ``.water``, ``.qc``, and :meth:`PreprocessResult.plot_alignment`.

    Raises
    ------
    IncompatibleDataError
        NaN/infinite data, a water reference that does not match, or unsupported dims.
    """
    options = options or PreprocessOptions()
    skipped: list[dict] = []
    qc: dict[str, Any] = {"skipped": skipped, "rejected": [], "frequency_drift_hz": [], "phase_drift_deg": []}
    check_finite(metab, "metabolite data")
    n_prov = len(metab.provenance)
    if water is not None:
        check_finite(water, "water reference")
        check_water_compatible(metab, water)
    metab = _normalise_dims(metab, "metabolite data")
    water = None if water is None else _normalise_dims(water, "water reference")

    # 1. coil combination
    if metab.has_dim(COIL_DIM):
        if not options.coil_combine:
            raise ConfigError(
                f"the data have {metab.dim_sizes[COIL_DIM]} uncombined coils and coil combination is off; "
                "a single spectrum needs combined coils"
            )
        use_water = water is not None and water.has_dim(COIL_DIM)
        weights = coil_weights(metab, water if use_water else None, options.coil)
        source = "water reference" if use_water else "data"
        metab = coil_combine(metab, options=options.coil, weights=weights, weights_from=source)
        if use_water:
            water = coil_combine(water, options=options.coil, weights=weights, weights_from=source)
    else:
        skip("coil_combine", f"no 'coil' dim in the metabolite data (dims {metab.dims})", skipped)
    if water is not None and water.has_dim(COIL_DIM):
        water = coil_combine(water, options=options.coil)

    # 2. transients: align, reject, average
    tdim = transient_dim(metab)
    n_transients = 1 if tdim is None else metab.dim_sizes[tdim]
    qc["n_transients"] = n_transients
    transients_before = transients_aligned = None
    if tdim is not None:
        transients_before = metab
        _measure(qc, average(metab), "before")
        if options.align:
            metab = align(metab, options.alignment)
            corr_f = np.asarray(metab.provenance[-1].params["frequency_shift_hz"], dtype=float)
            corr_p = np.asarray(metab.provenance[-1].params["phase_shift_deg"], dtype=float)
            qc["frequency_drift_hz"] = np.round(-(corr_f - corr_f.mean()), 4).tolist()
            qc["phase_drift_deg"] = np.round(_wrap_deg(-(corr_p - corr_p.mean())), 3).tolist()
            transients_aligned = metab
        else:
            skip("align", "switched off (align=False)", skipped)
        if options.reject:
            metab = reject_outliers(metab, options.rejection)
            if metab.provenance[-1].name == "reject_outliers":
                qc["rejected"] = metab.provenance[-1].params["rejected"]
            else:
                skip("reject_outliers", f"only {n_transients} transients", skipped)
        else:
            skip("reject_outliers", "switched off (reject=False)", skipped)
        qc["n_used"] = metab.dim_sizes[tdim]
        metab = average(metab, tdim)
    else:
        for step in ("align", "reject_outliers", "average"):
            skip(step, f"no transient dim in the metabolite data (dims {metab.dims})", skipped)
        qc["n_used"] = 1
        _measure(qc, metab, "before")
    if water is not None:
        wdim = transient_dim(water)
        if wdim is not None:
            if water.dim_sizes[wdim] > 1 and options.align:
                water = align(water, WATER_ALIGN)
            water = average(water, wdim)

    # 3. eddy-current correction
    if water is None:
        skip("eddy_current_correction", "no water reference", skipped)
    elif not options.ecc:
        skip("eddy_current_correction", "switched off (ecc=False)", skipped)
    else:
        metab = eddy_current_correction(metab, water, options.eddy_current)
        water = eddy_current_correction(water, water, options.eddy_current)

    # 4. residual water removal
    if options.water_removal:
        metab = remove_water(metab, options.water)
    else:
        skip("water_removal", "switched off (water_removal=False)", skipped)

    # 5. zero-order phase and frequency referencing
    ref = options.reference
    if ref == "water" and water is None:
        skip("frequency_reference on water", "no water reference; referencing on Cr instead", skipped,
             level="warning")
        ref = "cr"
    phase_peak = options.phase_peak or ref or "cr"
    if phase_peak == "water" and water is None:
        phase_peak = "cr"
    if options.phase:
        if phase_peak == "water":
            metab = phase_correct(metab, PhaseOptions(peak="water", search=0.3), reference=water)
        else:
            metab = phase_correct(metab, PhaseOptions(peak=phase_peak))
    else:
        skip("phase_correct", "switched off (phase=False)", skipped)
    if water is not None:
        water = phase_correct(water, PhaseOptions(peak="water", search=0.3))
        water = frequency_reference(water, ReferenceOptions(peak="water", search=0.3))
    if ref is None:
        skip("frequency_reference", "reference=None", skipped)
    elif ref == "water":
        metab = frequency_reference(metab, ReferenceOptions(peak="water", search=0.3), reference=water)
    else:
        metab = frequency_reference(metab, ReferenceOptions(peak=ref))

    # 6. optional filtering and resizing
    if options.apodize_hz > 0:
        metab = apodize(metab, options.apodize_hz, options.apodize_kind)
    if options.truncate is not None:
        metab = truncate(metab, options.truncate)
        water = None if water is None else truncate(water, options.truncate)
    if options.zero_fill is not None:
        metab = zero_fill(metab, options.zero_fill)
        water = None if water is None else zero_fill(water, options.zero_fill)

    # QC after
    _measure(qc, metab, "after")
    qc["residual_water"] = _try(qc, "residual_water", _qc.residual_water, metab)
    if options.water_removal and (qc["residual_water"] or 0.0) > 1.0:
        logger.warning("%s: %.0f %% of the NAA peak is still water after water removal: is this an "
                       "unsuppressed water reference, or is the water outside %s ppm?", metab.source or "data",
                       100 * qc["residual_water"], "-".join(f"{v:g}" for v in options.water.ppm_range))
    if water is not None:
        lw = _try(qc, "water_fwhm", _qc.linewidth, water, (4.35, 4.95))
        qc["water_fwhm_hz"] = None if lw is None else lw["fwhm_hz"]
    qc["steps"] = [s.name for s in metab.provenance[n_prov:]]
    logger.info("preprocess: %s -> SNR %s, NAA FWHM %s Hz, %d/%d transients used",
                metab.source or "data", qc.get("snr_after"), qc.get("fwhm_hz_after"), qc["n_used"], n_transients)
    if metab.data.ndim != 1:  # pragma: no cover - guarded by _normalise_dims
        raise IncompatibleDataError(f"preprocessing left dims {metab.dims}; expected one FID")
    return PreprocessResult(metab=metab, water=water, qc=qc, options=options,
                            transients_before=transients_before, transients_aligned=transients_aligned)


def plot_alignment(result: PreprocessResult, path: str | Path | None = None,
                   ppm_range: tuple[float, float] = (0.2, 4.3)):
    """Matplotlib figure: transients before and after alignment, and the per-transient drift.

    Parameters
    ----------
    result : PreprocessResult
    path : str or Path, optional
        Also save the figure there (format from the extension).
    ppm_range : (float, float)
        Chemical-shift range shown.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # an Agg canvas attached to a bare Figure: no pyplot, no global backend switch
    fig = Figure(figsize=(10, 6.5), constrained_layout=True)
    FigureCanvasAgg(fig)
    axs = fig.subplots(2, 2)
    panels = [(result.transients_before, "before alignment"), (result.transients_aligned, "after alignment")]
    rejected = {r["index"] for r in result.qc.get("rejected", [])}
    for ax, (s, title) in zip(axs[0], panels):
        if s is None:
            ax.text(0.5, 0.5, "no transients", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
            continue
        spec = s.spectrum()
        ppm = s.ppm_axis
        sel = (ppm >= min(ppm_range)) & (ppm <= max(ppm_range))
        mean = spec.mean(axis=0)
        phase = np.exp(-1j * np.angle(mean[sel][np.argmax(np.abs(mean[sel]))]))
        for i, row in enumerate(spec):
            bad = i in rejected
            ax.plot(ppm[sel], np.real(row[sel] * phase), lw=0.8 if bad else 0.4,
                    color="tab:red" if bad else "0.3", alpha=0.9 if bad else 0.35)
        ax.plot(ppm[sel], np.real(mean[sel] * phase), color="tab:blue", lw=1.2, label="mean")
        ax.set_xlim(max(ppm_range), min(ppm_range))
        ax.set_xlabel("chemical shift (ppm)")
        ax.set_title(f"{s.dim_sizes.get('dyn', len(spec))} transients {title}")
        ax.set_yticks([])
    f = np.asarray(result.qc.get("frequency_drift_hz") or [])
    p = np.asarray(result.qc.get("phase_drift_deg") or [])
    for ax, values, label in ((axs[1][0], f, "frequency drift (Hz)"), (axs[1][1], p, "phase drift (deg)")):
        if values.size:
            idx = np.arange(values.size)
            ax.plot(idx, values, "o-", ms=3, lw=0.8, color="tab:blue")
            if rejected:
                r = np.array(sorted(rejected))
                ax.plot(r, values[r], "x", color="tab:red", ms=8, label="rejected")
                ax.legend(loc="best", fontsize=8)
        ax.set_xlabel("transient")
        ax.set_ylabel(label)
    if path is not None:
        fig.savefig(str(path), dpi=100)
    return fig
