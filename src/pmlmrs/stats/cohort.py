"""Everything :mod:`pmlmrs.stats` computes for a cohort, in one call, with TSV export."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from pmlmrs.errors import WriteError
from pmlmrs.stats._data import lesion_nawm_table, resolve_options
from pmlmrs.stats.correlation import correlations
from pmlmrs.stats.groups import describe, stage_counts, stage_stats
from pmlmrs.stats.iris import score_exams
from pmlmrs.stats.longitudinal import Longitudinal, longitudinal
from pmlmrs.stats.options import StatsOptions

__all__ = ["CohortAnalysis", "analyse_cohort"]


def _dump_json(obj: Any) -> str:
    """Strict JSON (``null`` for missing numbers, ``allow_nan=False``); other objects as text."""
    from pmlmrs.quant.outputs import to_jsonable

    return json.dumps(to_jsonable(obj), indent=2, allow_nan=False) + "\n"


@dataclass(frozen=True)
class CohortAnalysis:
    """Results of :func:`analyse_cohort` (each one a tidy DataFrame or dict)."""

    options: StatsOptions
    counts: pd.DataFrame
    lesion_nawm: pd.DataFrame
    describe: pd.DataFrame
    stage_stats: pd.DataFrame
    correlations: pd.DataFrame
    longitudinal: Longitudinal
    iris: pd.DataFrame
    iris_evaluation: dict[str, Any] = field(default_factory=dict)

    def write_tsv(self, directory: str | Path, *, force: bool = False) -> list[Path]:
        """Write the tables into *directory* (tab-separated, ``n/a`` for missing values).

        DESIGN contract files: ``stage_stats.tsv``, ``correlations.tsv``, ``iris.tsv``; extra:
        ``stage_counts.tsv``, ``describe.tsv``, ``lesion_nawm.tsv``, ``trajectories.tsv``,
        ``mixed_model.tsv``, ``iris_evaluation.json``, ``stats_options.json`` (strict JSON: a
        missing number such as an AUC that could not be computed is ``null``). Existing files are
        not overwritten without ``force`` (WriteError naming the file).
        """
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        tables = {
            "stage_stats.tsv": self.stage_stats, "correlations.tsv": self.correlations,
            "iris.tsv": self.iris, "stage_counts.tsv": self.counts, "describe.tsv": self.describe,
            "lesion_nawm.tsv": self.lesion_nawm, "trajectories.tsv": self.longitudinal.trajectories,
            "mixed_model.tsv": self.longitudinal.fixed_effects,
        }
        jsons = {"iris_evaluation.json": self.iris_evaluation, "stats_options.json": self.options.to_dict()}
        targets = [d / n for n in list(tables) + list(jsons)]
        if not force:
            for t in targets:
                if t.exists():
                    raise WriteError("exists; pass force=True (--force) to overwrite", t)
        for name, df in tables.items():
            out = df.copy()
            for c in out.columns:
                if pd.api.types.is_bool_dtype(out[c]) or str(out[c].dtype) == "boolean":
                    out[c] = out[c].map({True: "true", False: "false"})
            out.to_csv(d / name, sep="\t", index=False, na_rep="n/a", float_format="%.6g")
        for name, obj in jsons.items():
            (d / name).write_text(_dump_json(obj), encoding="utf-8")
        return targets


def analyse_cohort(voxels: pd.DataFrame, exams: pd.DataFrame,
                   options: StatsOptions | None = None) -> CohortAnalysis:
    """Run every cohort statistic: counts, describe, lesion vs NAWM, stage tests, correlations,
    longitudinal model and IRIS scores, with one set of options."""
    opts = resolve_options(options)
    iris, ev = score_exams(voxels, exams, opts)
    return CohortAnalysis(
        options=opts,
        counts=stage_counts(voxels, exams, opts),
        lesion_nawm=lesion_nawm_table(voxels, opts),
        describe=describe(voxels, opts),
        stage_stats=stage_stats(voxels, opts),
        correlations=correlations(voxels, exams, opts),
        longitudinal=longitudinal(voxels, exams, opts),
        iris=iris,
        iris_evaluation=ev,
    )
