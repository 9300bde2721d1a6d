"""analyse_cohort runs everything with one set of options; write_tsv honours the group/*.tsv contract."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pmlmrs.errors import WriteError
from pmlmrs.stats import CORRELATION_COLUMNS, IRIS_COLUMNS, STAGE_STATS_COLUMNS, StatsOptions, analyse_cohort


def test_analyse_and_write(tmp_path, cohort):
    _, exams, vox = cohort
    a = analyse_cohort(vox, exams, StatsOptions(n_bootstrap=200))
    files = a.write_tsv(tmp_path)
    assert {f.name for f in files} >= {"stage_stats.tsv", "correlations.tsv", "iris.tsv", "iris_evaluation.json"}
    st = pd.read_csv(tmp_path / "stage_stats.tsv", sep="\t", keep_default_na=False)
    assert list(st.columns) == STAGE_STATS_COLUMNS
    assert list(pd.read_csv(tmp_path / "correlations.tsv", sep="\t").columns) == CORRELATION_COLUMNS
    iris = pd.read_csv(tmp_path / "iris.tsv", sep="\t", keep_default_na=False)
    assert list(iris.columns) == IRIS_COLUMNS
    text = (tmp_path / "iris.tsv").read_text()
    assert "\ttrue\t" in text and "\tfalse\t" in text and "True" not in text
    assert st["p_holm"].ne("").all()  # missing values are written as n/a, never empty
    ev = json.loads((tmp_path / "iris_evaluation.json").read_text())
    assert ev["fitted"] and ev["disclaimer"] == "decision support, not diagnosis"
    opts = json.loads((tmp_path / "stats_options.json").read_text())
    assert StatsOptions.from_dict(opts) == a.options
    with pytest.raises(WriteError, match="stage_stats.tsv"):
        a.write_tsv(tmp_path)
    a.write_tsv(tmp_path, force=True)


@pytest.mark.parametrize("n_patients", [1, 2, 3])
def test_tiny_and_sparse_cohorts_do_not_crash(tmp_path, n_patients):
    import warnings

    import numpy as np

    from pmlmrs.stats.synthetic import synthetic_cohort

    _, exams, vox = synthetic_cohort(n_patients, rng=9, exams_per_patient=(1, 2))
    # Strip optional columns and blank some values, as real tables come.
    vox = vox.drop(columns=[c for c in vox.columns if c.endswith("_crlb")] + ["Lip13_tCr"])
    vox.loc[vox.index[::3], "tCho_tCr"] = np.nan
    ex = exams.drop(columns=["acq_time", "lesion_enhancing"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = analyse_cohort(vox, ex, StatsOptions(n_bootstrap=50))
    assert list(a.stage_stats.columns) == STAGE_STATS_COLUMNS
    assert not a.iris_evaluation["fitted"] and "not fitted" in a.iris_evaluation["reason"]
    assert a.iris["reason"].str.contains("not evaluable").all()  # no Lip13 column, no enhancement
    if n_patients < 3:
        assert (~a.longitudinal.fixed_effects["fitted"]).all()
    a.write_tsv(tmp_path)
