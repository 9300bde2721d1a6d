"""``StatsOptions``: every choice the cohort statistics make, recorded in the provenance.

Everything marked [default] in STUDY.md is one of these fields.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pmlmrs.config import Options
from pmlmrs.errors import ConfigError, check_option

__all__ = ["StatsOptions", "RATIOS", "STAGES", "ALL_STAGES", "DISCLAIMER"]

#: The summary.tsv ratio columns (DESIGN.md), in report order.
RATIOS: tuple[str, ...] = (
    "tNAA_tCr", "tCho_tCr", "tNAA_tCho", "Ins_tCr", "Glx_tCr", "Lip_tCr", "Lip09_tCr", "Lip13_tCr",
)
#: The stages that enter the statistics, in clinical order ("unassigned" is shown, never tested).
STAGES: tuple[str, ...] = ("pre_iris", "iris", "early_post_pml", "late_post_pml")
ALL_STAGES: tuple[str, ...] = STAGES + ("unassigned",)
#: Printed with every IRIS output.
DISCLAIMER = "decision support, not diagnosis"


@dataclasses.dataclass(frozen=True)
class StatsOptions(Options):
    """Options of :mod:`pmlmrs.stats` (STUDY.md "Statistics" and "IRIS detection").

    Attributes
    ----------
    ratios : tuple of str
        Ratio columns analysed (summary.tsv names).
    stages : tuple of str
        Stages compared, in order; ``unassigned`` exams are described but never tested.
    alpha : float
        Significance level (two-sided) used for flags and report highlighting.
    unit : {"exam", "patient"}
        Unit of analysis. ``"exam"`` [default]: each exam is one observation. ``"patient"``: values
        are averaged per patient (within a stage for the stage tests, within the subset for the
        correlations) first.
    exclude_failed_qc : bool
        Drop voxels with ``qc_pass`` false before any statistic [default False: flags are reported,
        exclusions are explicit]. Voxels with a non-empty ``error`` never carry ratios anyway.
    relative : {"quotient", "difference"}
        How the lesion is expressed relative to the NAWM of the same exam in tables and figures.
    lipid_rise : {"quotient", "difference"}
        "Lipid rise relative to NAWM": lesion Lip_tCr / NAWM Lip_tCr [default] or lesion − NAWM.
    pairing : {"auto", "paired", "unpaired"}
        Lesion vs NAWM test. ``"auto"``: Wilcoxon signed-rank on the exams that have both voxels
        when they are at least ``min_pair_fraction`` of the stage's exams or only one exam lacks
        its partner, so that one exam without a NAWM voxel does not turn a paired design into an
        unpaired one (the incomplete exams are left out of that test); Mann–Whitney U on all
        voxels otherwise. ``"paired"``: always Wilcoxon on the complete pairs. ``"unpaired"``:
        always Mann–Whitney U.
    min_pair_fraction : float
        See ``pairing="auto"`` (1.0: paired only when every exam has both voxels).
    exact_max_n : int
        Exact p-values when the larger sample has at most this many observations: scipy's exact
        null distribution without ties/zeros, the exact permutation p conditional on the ties
        with them; asymptotic (tie-corrected) above. Spearman p-values are exact (all n!
        orderings) for n ≤ 9 whatever this is.
    family : {"ratio", "comparison", "all"}
        Family for the Holm and Benjamini–Hochberg adjustments. ``"ratio"`` [default]: per ratio,
        its lesion-vs-NAWM tests (one per stage) form one family, its pairwise stage-vs-stage
        tests (both compartments) another and its Kruskal–Wallis tests a third — each ratio is a
        separate question of the study (STUDY.md findings 1–5). ``"comparison"``: the same split
        pooled over all ratios (stricter: with ~10 exams per stage an exact Wilcoxon p cannot
        survive Holm over 32 tests). ``"all"``: every test in the table is one family.
    correlation_measures : tuple of str
        Lesion measures correlated with the clinical change; ``lipid_rise`` is the lesion-to-NAWM
        measure above, every other name a lesion ratio column.
    clinical : tuple of str
        Clinical change columns of the exams table.
    correlation_subsets : tuple of (label, stages) pairs
        Exam subsets for the correlations; default ``post_pml`` = early + late post-PML.
    min_patients_mixed, min_exams_per_patient : int
        The mixed model is fitted when at least ``min_patients_mixed`` patients have at least
        ``min_exams_per_patient`` exams with a value.
    mixed_vois : tuple of str
        Compartments modelled longitudinally.
    gheuens_lipid : {"Lip13", "Lip"}
        Lipid measure for the Gheuens et al. 2012 rule (they used Lip1 ≈ 1.3 ppm → ``Lip13_tCr``).
    gheuens_threshold : float
        Lip/Cr threshold of the rule (1.5).
    iris_change : {"lesion", "quotient"}
        What the "change since the previous exam" feature is computed on: the lesion ratio
        [default; its CRLB-based uncertainty is well defined] or the lesion/NAWM quotient.
    iris_penalty : float
        L2 penalty (on standardised coefficients) of the logistic IRIS model.
    iris_threshold : float
        Model score at or above which an exam is flagged.
    quotient_clip : float
        Log-quotient features are clipped to ±log(quotient_clip) (a NAWM lipid amplitude of zero
        makes the quotient infinite).
    min_iris_exams, min_iris_patients : int
        Fewest IRIS and fewest non-IRIS exams, and fewest patients, with complete features to fit
        the model.
    iris_min_auc : float
        The model flags exams only when its LOPO AUC reaches this value; below it the score is
        reported but raises no flag (the reason says so).
    n_bootstrap : int
        Patient-level bootstrap resamples for the AUC interval.
    seed : int
        Seed of every random draw (bootstrap).
    ci_level : float
        Coverage of the bootstrap interval.
    """

    ratios: tuple[str, ...] = RATIOS
    stages: tuple[str, ...] = STAGES
    alpha: float = 0.05
    unit: str = "exam"
    exclude_failed_qc: bool = False
    relative: str = "quotient"
    lipid_rise: str = "quotient"
    pairing: str = "auto"
    min_pair_fraction: float = 0.75
    exact_max_n: int = 50
    family: str = "ratio"
    correlation_measures: tuple[str, ...] = ("tNAA_tCho", "tCho_tCr", "lipid_rise")
    clinical: tuple[str, ...] = ("delta_kps", "delta_edss")
    correlation_subsets: tuple[tuple[str, tuple[str, ...]], ...] = (
        ("post_pml", ("early_post_pml", "late_post_pml")),
    )
    min_patients_mixed: int = 3
    min_exams_per_patient: int = 2
    mixed_vois: tuple[str, ...] = ("lesion", "nawm")
    gheuens_lipid: str = "Lip13"
    gheuens_threshold: float = 1.5
    iris_change: str = "lesion"
    iris_penalty: float = 1.0
    iris_threshold: float = 0.5
    quotient_clip: float = 100.0
    min_iris_exams: int = 3
    min_iris_patients: int = 5
    iris_min_auc: float = 0.7
    n_bootstrap: int = 2000
    seed: int = 20170454
    ci_level: float = 0.95

    def __post_init__(self) -> None:
        # TOML/JSON give lists; store tuples so the options stay hashable and comparable.
        for name in ("ratios", "stages", "correlation_measures", "clinical", "mixed_vois"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        subsets = self.correlation_subsets
        if isinstance(subsets, dict):
            subsets = tuple(subsets.items())
        object.__setattr__(
            self, "correlation_subsets", tuple((str(k), tuple(v)) for k, v in subsets)
        )
        check_option("unit", self.unit, ("exam", "patient"))
        check_option("relative", self.relative, ("quotient", "difference"))
        check_option("lipid_rise", self.lipid_rise, ("quotient", "difference"))
        check_option("pairing", self.pairing, ("auto", "paired", "unpaired"))
        check_option("family", self.family, ("ratio", "comparison", "all"))
        check_option("gheuens_lipid", self.gheuens_lipid, ("Lip13", "Lip"))
        check_option("iris_change", self.iris_change, ("lesion", "quotient"))
        for v in self.mixed_vois:
            check_option("mixed_vois", v, ("lesion", "nawm"))
        for c in self.clinical:
            check_option("clinical", c, ("delta_kps", "delta_edss"))
        if not 0 < self.min_pair_fraction <= 1:
            raise ConfigError(
                f"'min_pair_fraction' must be in (0, 1], but got {self.min_pair_fraction!r} instead."
            )
        if not 0 < self.alpha < 1:
            raise ConfigError(f"'alpha' must be in (0, 1), but got {self.alpha!r} instead.")
        if not 0 < self.ci_level < 1:
            raise ConfigError(f"'ci_level' must be in (0, 1), but got {self.ci_level!r} instead.")
        if not 0 < self.iris_threshold < 1:
            raise ConfigError(
                f"'iris_threshold' must be in (0, 1), but got {self.iris_threshold!r} instead."
            )
        if self.iris_penalty < 0:
            raise ConfigError(f"'iris_penalty' must be ≥ 0, but got {self.iris_penalty!r} instead.")
        if self.quotient_clip <= 1:
            raise ConfigError(f"'quotient_clip' must be > 1, but got {self.quotient_clip!r} instead.")
        if self.n_bootstrap < 0:
            raise ConfigError(f"'n_bootstrap' must be ≥ 0, but got {self.n_bootstrap!r} instead.")
        unknown = [s for s in self.stages if s not in STAGES]
        if unknown:
            raise ConfigError(
                f"unknown stage(s) {unknown} in 'stages'; allowed stages are {list(STAGES)}"
            )

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["correlation_subsets"] = {k: list(v) for k, v in self.correlation_subsets}
        return d

    @property
    def gheuens_column(self) -> str:
        """The voxel column the Gheuens rule reads."""
        return f"{self.gheuens_lipid}_tCr"
