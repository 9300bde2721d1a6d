"""map_tasks / Executor: order, per-task errors, local Dask processes."""

from __future__ import annotations

import pytest

from pmlmrs.errors import ConfigError
from pmlmrs.parallel import Executor, TaskResult, map_tasks


def square_or_fail(x: int) -> int:
    if x == 3:
        raise ValueError("three is bad")
    return x * x


def test_local_map_keeps_order_and_errors():
    seen: list[int] = []
    res = map_tasks(square_or_fail, range(5), on_result=lambda r: seen.append(r.index))
    assert [r.value for r in res] == [0, 1, 4, None, 16]
    bad = res[3]
    assert isinstance(bad, TaskResult) and not bad.ok and bad.error == "ValueError: three is bad"
    assert "three is bad" in bad.traceback
    assert seen == [0, 1, 2, 3, 4]


def test_empty_and_invalid():
    assert map_tasks(square_or_fail, []) == []
    with pytest.raises(ConfigError, match="workers"):
        map_tasks(square_or_fail, [1], workers=0)


def test_dask_local_cluster_runs_tasks_in_processes():
    # The workers must be able to import the function: use a builtin (test modules are not importable there).
    pytest.importorskip("distributed")
    with Executor(workers=2) as ex:
        assert ex.parallel
        first = ex.map(int, ["0", "1", "x", "3"])
        second = ex.map(abs, [-7])  # reuses the running cluster
    assert [r.value for r in first] == [0, 1, None, 3]
    assert first[2].error.startswith("ValueError: invalid literal for int()")
    assert second[0].value == 7


def test_bad_scheduler_address_is_a_config_error():
    pytest.importorskip("distributed")
    with pytest.raises(ConfigError, match="scheduler"):
        map_tasks(abs, [1, 2], scheduler="tcp://127.0.0.1:1", connect_timeout=1)
