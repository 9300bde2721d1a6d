"""Cohort statistics on tidy DataFrames: lesion vs NAWM, stages, correlations, follow-up, IRIS alerts.

All functions take the DESIGN.md group tables as pandas DataFrames (``voxels`` = group/voxels.tsv,
``exams`` = one row per session with stage and clinical scores) and a :class:`StatsOptions`.

=====================  ============================================================================
``lesion_nawm_table``  per exam: lesion, NAWM, quotient, difference (+ CRLB SDs) of each ratio
``describe``           median, IQR, range per ratio × compartment × stage
``stage_counts``       n exams / patients / voxels per stage
``stage_stats``        group/stage_stats.tsv: Wilcoxon / Mann–Whitney / Kruskal–Wallis, Holm, BH
``correlations``       group/correlations.tsv: Spearman ρ with delta_kps / delta_edss
``longitudinal``       trajectories and a random-intercept mixed model over time since PML onset
``score_exams``        group/iris.tsv: Gheuens 2012 rule + LOPO-validated logistic IRIS score
``analyse_cohort``     all of the above, with ``write_tsv``
=====================  ============================================================================

IRIS outputs are decision support, not diagnosis.
"""

from pmlmrs.stats._data import lesion_nawm_table, ratio_sd
from pmlmrs.stats.cohort import CohortAnalysis, analyse_cohort
from pmlmrs.stats.correlation import CORRELATION_COLUMNS, correlations
from pmlmrs.stats.groups import STAGE_STATS_COLUMNS, adjust_pvalues, describe, stage_counts, stage_stats
from pmlmrs.stats.iris import IRIS_COLUMNS, gheuens_rule, iris_features, score_exams
from pmlmrs.stats.longitudinal import Longitudinal, longitudinal
from pmlmrs.stats.options import ALL_STAGES, DISCLAIMER, RATIOS, STAGES, StatsOptions

__all__ = [
    "StatsOptions", "RATIOS", "STAGES", "ALL_STAGES", "DISCLAIMER",
    "lesion_nawm_table", "ratio_sd", "describe", "stage_counts", "stage_stats", "adjust_pvalues",
    "STAGE_STATS_COLUMNS", "correlations", "CORRELATION_COLUMNS", "longitudinal", "Longitudinal",
    "score_exams", "gheuens_rule", "iris_features", "IRIS_COLUMNS", "CohortAnalysis", "analyse_cohort",
]
