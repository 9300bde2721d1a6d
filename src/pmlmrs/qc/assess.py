"""QC items and the study's QC rules (STUDY.md "Quality and reporting").

Every check returns a :class:`QCItem` (level, name, message, fix), like nibabel's battery-runner
reports: data quality is a result, never an exception. ``qc_pass`` is "no item at level fail";
flags are reported, exclusions are the caller's explicit choice.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pmlmrs.config import Options
from pmlmrs.errors import ConfigError, check_option
from pmlmrs.qc import measures

__all__ = ["QCItem", "QCOptions", "LEVELS", "assess", "with_qc", "qc_pass", "worst_level", "items_from",
           "NAWM_RANGES", "MAIN_METABOLITES", "LIPID_MEASURES"]

#: QC levels, from best to worst.
LEVELS: tuple[str, ...] = ("ok", "warn", "fail")

#: Plausible ratios in healthy NAWM at 3 T (STUDY.md): warn outside.
NAWM_RANGES: dict[str, tuple[float, float]] = {
    "tNAA_tCr": (1.3, 2.8),
    "tCho_tCr": (0.2, 1.1),
    "Ins_tCr": (0.5, 1.0),
}
#: Measures whose CRLB is checked everywhere.
MAIN_METABOLITES: tuple[str, ...] = ("tNAA", "tCr", "tCho", "Ins", "Glx")
#: Lipid measures: CRLB checked only in lesion voxels (``voi="lesion"``); never in NAWM, where lipids are
#: near zero and their CRLB is large by nature (STUDY.md), nor when the voxel type is unknown.
LIPID_MEASURES: tuple[str, ...] = ("Lip", "Lip09", "Lip13")


@dataclasses.dataclass(frozen=True)
class QCItem:
    """One QC finding.

    Attributes
    ----------
    level : {"ok", "warn", "fail"}
    name : str
        Short check id (``"snr"``, ``"linewidth"``, ``"crlb"``, ...).
    message : str
        What was found, with the numbers.
    fix : str
        What to do about it (empty for ``ok``).
    value : float or None
        The number the check judged, in its own unit (``linewidth``: ppm), when it has one.
    """

    level: str
    name: str
    message: str
    fix: str = ""
    value: float | None = None

    def __post_init__(self) -> None:
        check_option("level", self.level, LEVELS)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly (``value`` only when set)."""
        d = dataclasses.asdict(self)
        if d["value"] is None:
            del d["value"]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> QCItem:
        """Inverse of :meth:`to_dict`."""
        value = d.get("value")
        return cls(str(d["level"]), str(d["name"]), str(d.get("message", "")), str(d.get("fix", "")),
                   None if value is None else float(value))


@dataclasses.dataclass(frozen=True)
class QCOptions(Options):
    """Thresholds of the QC checks (STUDY.md defaults).

    Attributes
    ----------
    crlb_max : float
        %, flag a main metabolite (and lipids outside NAWM) above it.
    crlb_level : str
        Level of a CRLB flag ("warn" [default]; "fail" to exclude).
    fwhm_warn, fwhm_fail : float
        Linewidth, ppm.
    snr_warn : float
        NAA height / noise SD.
    fit_quality_warn : float
        Residual SD / noise SD [default 1.5].
    lipid_phase_warn : float
        |phase| of the lipid signal relative to the metabolites, degrees [default 30].
    lipid_snr_min : float
        Lipid signal (integral SNR) needed before its phase/lineshape is judged [default 10].
    lipid_residual_warn : float
        Residual SD over noise SD in the lipid region [default 2].
    lipid_shift_warn : float
        |lipid minus metabolite frequency shift|, ppm [default 0.08].
    plausibility : bool
        Check NAWM ratios against :data:`NAWM_RANGES`.
    """

    crlb_max: float = 20.0
    crlb_level: str = "warn"
    fwhm_warn: float = 0.07
    fwhm_fail: float = 0.1
    snr_warn: float = 10.0
    fit_quality_warn: float = 1.5
    lipid_phase_warn: float = 30.0
    lipid_snr_min: float = 10.0
    lipid_residual_warn: float = 2.0
    lipid_shift_warn: float = 0.08
    plausibility: bool = True

    def __post_init__(self) -> None:
        check_option("crlb_level", self.crlb_level, ("warn", "fail"))
        for name in ("crlb_max", "fwhm_warn", "fwhm_fail", "fit_quality_warn", "lipid_residual_warn",
                     "lipid_shift_warn", "lipid_phase_warn"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"QC option {name!r} must be > 0, got {getattr(self, name)!r}")
        for name in ("snr_warn", "lipid_snr_min"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"QC option {name!r} must be >= 0, got {getattr(self, name)!r}")
        if not self.fwhm_warn <= self.fwhm_fail:
            raise ConfigError(f"fwhm_warn ({self.fwhm_warn}) must not exceed fwhm_fail ({self.fwhm_fail})")


def worst_level(items: Iterable[QCItem]) -> str:
    """The worst level among *items* ("ok" when empty)."""
    worst = 0
    for it in items:
        worst = max(worst, LEVELS.index(_level(it)))
    return LEVELS[worst]


def _level(item: Any) -> str:
    if isinstance(item, QCItem):
        return item.level
    if isinstance(item, Mapping):
        return str(item["level"])
    return str(item[0])


def qc_pass(items: Iterable[Any]) -> bool:
    """True when no item is at level "fail" (items may be QCItems, dicts or tuples)."""
    return all(_level(it) != "fail" for it in items)


def _fmt(v: float, spec: str = ".3g") -> str:
    if math.isnan(v):
        return "n/a"
    return "inf" if math.isinf(v) else format(v, spec)


def _check_convergence(result: Any) -> QCItem:
    if result.converged:
        return QCItem("ok", "convergence", f"optimiser converged ({result.n_iterations} iterations)")
    return QCItem("fail", "convergence", f"the fit did not converge: {result.message or 'no message'}",
                  "check the data (phase, frequency reference, SNR) and the fit window; refit with more iterations")


def _check_snr(value: float, o: QCOptions) -> QCItem:
    if not math.isfinite(value):
        return QCItem("warn", "snr", "SNR not measurable: the fit window does not cover NAA (1.9-2.1 ppm)",
                      "widen the fit window to include 2.0 ppm")
    if not value > 0:
        return QCItem("warn", "snr", f"SNR not measurable: no NAA peak above the fitted baseline ({value:.1f})",
                      "check the frequency reference, the phase and that this is a brain spectrum")
    if value < o.snr_warn:
        return QCItem("warn", "snr", f"SNR {value:.1f} < {o.snr_warn:g} (NAA height / noise SD)",
                      "average more transients or use a larger voxel; interpret low-concentration metabolites with care")
    return QCItem("ok", "snr", f"SNR {value:.1f}")


def _check_linewidth(data_ppm: float, fit_ppm: float, water_ppm: float | None, o: QCOptions,
                     mhz: float) -> QCItem:
    source = "NAA on the data"
    value = data_ppm
    if water_ppm is not None and math.isfinite(water_ppm):
        source, value = "water reference", water_ppm
    elif not math.isfinite(value):
        source, value = "fitted NAA", fit_ppm
    if not math.isfinite(value):
        return QCItem("warn", "linewidth", "linewidth not measurable (no NAA peak in the window)",
                      "check the fit window and the frequency reference")
    extra = f" (fitted NAA {_fmt(fit_ppm)} ppm)" if source != "fitted NAA" else ""
    msg = f"FWHM {value:.3f} ppm = {value * mhz:.1f} Hz, {source}{extra}"
    if value > o.fwhm_fail:
        return QCItem("fail", "linewidth", f"{msg} > {o.fwhm_fail:g} ppm",
                      "reshim and reacquire; check frequency drift correction and voxel position (air/bone)", value)
    if value > o.fwhm_warn:
        return QCItem("warn", "linewidth", f"{msg} > {o.fwhm_warn:g} ppm",
                      "poor shim: overlapping peaks (Glx, Ins, Cho/Cr) are less reliable; consider reshimming", value)
    return QCItem("ok", "linewidth", msg, value=value)


def _check_fit_quality(value: float, o: QCOptions) -> QCItem:
    if not math.isfinite(value):
        return QCItem("warn", "fit_quality", "fit quality not measurable (no noise estimate)",
                      "check that the spectrum has a signal-free region for the noise estimate")
    if value > o.fit_quality_warn:
        return QCItem("warn", "fit_quality",
                      f"residual SD / noise SD = {value:.2f} > {o.fit_quality_warn:g}: systematic residual",
                      "inspect the residual: artefacts, lipid contamination, unmodelled signals or a wrong basis")
    return QCItem("ok", "fit_quality", f"residual SD / noise SD = {value:.2f}")


def _check_crlbs(result: Any, combos: Mapping[str, Any], voi: str | None, o: QCOptions) -> list[QCItem]:
    names = list(MAIN_METABOLITES)
    if voi == "lesion":
        names += list(LIPID_MEASURES)
    values: dict[str, float] = {}
    absent: list[str] = []
    for n in names:
        if n in combos:
            val, pct = combos[n].value, combos[n].crlb_percent
        elif n in result.names:
            val, pct = result.amplitude(n), result.crlb_percent(n)
        else:
            continue
        if n in LIPID_MEASURES and not val > 0:
            absent.append(n)  # no lipid fitted: "not detected", not a poorly determined amplitude
            continue
        values[n] = pct
    bad = {n: v for n, v in values.items() if not v <= o.crlb_max}
    if not values:
        return [QCItem("warn", "crlb", "none of the main metabolites was fitted",
                       "use a basis with NAA, Cr, PCr, GPC/PCho, Ins, Glu/Gln")]
    if bad:
        txt = ", ".join(f"{n} {_fmt(v, '.0f')} %" for n, v in bad.items())
        return [QCItem(o.crlb_level, "crlb", f"CRLB above {o.crlb_max:g} %: {txt}",
                       "these amplitudes are poorly determined: report them flagged or leave them out of ratios")]
    txt = ", ".join(f"{n} {v:.0f} %" for n, v in values.items())
    note = "" if voi == "lesion" else " (lipid CRLBs judged only in lesion voxels)"
    if absent:
        note += f"; not detected: {', '.join(absent)}"
    return [QCItem("ok", "crlb", f"CRLB ≤ {o.crlb_max:g} %: {txt}{note}")]


def _check_reference(combos: Mapping[str, Any]) -> QCItem | None:
    """Fail when the ratio denominator tCr was not fitted (every study ratio is then undefined)."""
    if "tCr" not in combos:
        return None
    val = combos["tCr"].value
    if val > 0:
        return QCItem("ok", "reference", f"tCr fitted ({_fmt(val)})")
    return QCItem("fail", "reference", "no creatine fitted (tCr = 0): every ratio to tCr is undefined",
                  "check that the data are a brain spectrum at this field and TE, the basis and the fit window")


#: A fit fails the frequency-axis check when its spectrum matches the basis template at least this
#: well mirrored and at least twice as well as read (brain spectra: mirrored <= 0.44).
MIRRORED_MATCH_MIN = 0.5


def _check_frequency_axis(result: Any) -> QCItem | None:
    """Fail when the spectrum matches the basis far better with its frequency axis reversed: a
    conjugated FID (the other sign convention), whose fit is meaningless."""
    match = result.params.get("template_match")
    if not match:
        return None
    direct, mirrored = float(match["direct"]), float(match["mirrored"])
    if mirrored >= MIRRORED_MATCH_MIN and mirrored >= 2.0 * direct:
        return QCItem("fail", "frequency_axis",
                      f"the spectrum matches the basis with its frequency axis reversed (template correlation "
                      f"{mirrored:.2f} mirrored, {direct:.2f} as read): the FID is probably conjugated",
                      "convert the file again with the other conjugation setting (spec2nii writes NIfTI-MRS in "
                      "the standard's convention) and fit again",
                      mirrored)
    return QCItem("ok", "frequency_axis", f"template correlation {direct:.2f} as read ({mirrored:.2f} mirrored)",
                  value=mirrored)


def _check_lipids(result: Any, o: QCOptions) -> QCItem:
    info = measures.lipid_signal(result)
    if not math.isfinite(info["snr"]):
        return QCItem("ok", "lipid_contamination", "lipid region (0.7-1.6 ppm) outside the fit window: not checked")
    if info["snr"] < o.lipid_snr_min:
        return QCItem("ok", "lipid_contamination", f"little lipid signal (integral SNR {info['snr']:.1f})")
    problems = []
    if abs(info["phase_deg"]) > o.lipid_phase_warn:
        problems.append(f"lipid signal {info['phase_deg']:+.0f}° out of phase with the metabolites")
    if info["residual_ratio"] > o.lipid_residual_warn:
        problems.append(f"lipid lineshape not matched by the voxel lineshape (residual SD {info['residual_ratio']:.1f}× noise "
                        "in 0.7-1.6 ppm)")
    if math.isfinite(info["shift_ppm"]) and abs(info["shift_ppm"]) > o.lipid_shift_warn:
        problems.append(f"lipid frequency {info['shift_ppm']:+.3f} ppm off the metabolites")
    if problems:
        return QCItem("warn", "lipid_contamination",
                      "possible lipid contamination from outside the voxel: " + "; ".join(problems),
                      "check outer-volume suppression and voxel placement near the skull; "
                      "Lip/tCr of this spectrum may not reflect the lesion")
    return QCItem("ok", "lipid_contamination",
                  f"lipid signal in phase ({info['phase_deg']:+.0f}°) and consistent with the voxel lineshape")


def _check_plausibility(ratios: Mapping[str, Any], ranges: Mapping[str, tuple[float, float]]) -> QCItem:
    out = []
    for name, (lo, hi) in ranges.items():
        m = ratios.get(name)
        v = float("nan") if m is None else m.value
        if math.isfinite(v) and not lo <= v <= hi:
            out.append(f"{name} {v:.2f} outside {lo:g}-{hi:g}")
    if out:
        return QCItem("warn", "plausibility", "NAWM ratios outside the healthy 3 T range: " + "; ".join(out),
                      "check voxel placement (NAWM, away from lesions and CSF), the basis set and the fit")
    return QCItem("ok", "plausibility", "NAWM ratios within the healthy 3 T ranges")


def assess(result: Any, *, voi: str | None = None, water: Any = None,
           options: QCOptions | None = None,
           definitions: Mapping[str, Sequence[str]] | None = None) -> tuple[QCItem, ...]:
    """Run every QC check on one fit.

    Parameters
    ----------
    result : FitResult
    voi : {"lesion", "nawm"} or None
        Voxel type: lipid CRLBs are judged only for "lesion"; in "nawm" the ratios are checked
        against :data:`NAWM_RANGES`.
    water : Spectrum, optional
        Water reference; its FWHM is then the linewidth measure (else NAA on the data).
    options : QCOptions, optional
    definitions : mapping, optional
        Extra/replacement combinations (see :func:`pmlmrs.quant.combinations`).

    Returns
    -------
    tuple of QCItem
        One item per check, in a fixed order: convergence, snr, linewidth, fit_quality, crlb,
        reference (when the combinations include tCr), frequency_axis (when the fit measured its
        template match), lipid_contamination, plausibility (NAWM only).
    """
    from pmlmrs.quant.combine import combinations, ratios

    o = options or QCOptions()
    if voi is not None:
        check_option("voi", voi, ("lesion", "nawm"))
    mhz = float(result.spectrum.spectrometer_frequency)
    combos = combinations(result, definitions)
    rat = ratios(result, definitions=definitions)
    water_ppm = measures.water_fwhm_ppm(water) if water is not None else None
    items = [
        _check_convergence(result),
        _check_snr(measures.snr(result), o),
        _check_linewidth(measures.fwhm_ppm(result), measures.fwhm_fit_ppm(result), water_ppm, o, mhz),
        _check_fit_quality(measures.fit_quality(result), o),
        *_check_crlbs(result, combos, voi, o),
        _check_reference(combos),
        _check_frequency_axis(result),
        _check_lipids(result, o),
    ]
    items = [it for it in items if it is not None]
    if voi == "nawm" and o.plausibility:
        items.append(_check_plausibility(rat, NAWM_RANGES))
    return tuple(items)


def with_qc(result: Any, *, voi: str | None = None, water: Any = None,
            options: QCOptions | None = None,
            definitions: Mapping[str, Sequence[str]] | None = None) -> Any:
    """The FitResult with ``qc`` set to :func:`assess`'s items."""
    return result.replace(qc=assess(result, voi=voi, water=water, options=options, definitions=definitions))


def items_from(seq: Sequence[Any]) -> tuple[QCItem, ...]:
    """QCItems from items, dicts or (level, name, message, fix) tuples."""
    out = []
    for it in seq:
        if isinstance(it, QCItem):
            out.append(it)
        elif isinstance(it, Mapping):
            out.append(QCItem.from_dict(it))
        else:
            out.append(QCItem(*it))
    return tuple(out)
