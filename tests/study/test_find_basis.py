"""Basis choice for `pmlmrs run`: bundled when field and TE match, simulated otherwise."""

from __future__ import annotations

import numpy as np
import pytest

from pmlmrs.core import Header, Spectrum
from pmlmrs.errors import IncompatibleDataError
from pmlmrs.study.pipeline import find_basis


def _spectrum(mhz: float, te: float | None, sequence: str = "PRESS", n: int = 1024, sw: float = 2000.0) -> Spectrum:
    header = Header(mhz, 1.0 / sw, echo_time=te, acquisition={"SequenceName": sequence})
    return Spectrum(np.zeros(n, complex) + 1.0, header)


def test_bundled_basis_when_field_and_te_match() -> None:
    b = find_basis(_spectrum(123.2, 0.030))
    assert "ismrm2016" in (b.source or "") or abs(b.spectrometer_frequency - 123.2) < 0.1
    assert b.echo_time == pytest.approx(0.030)
    assert "Mac" in b.names


def test_simulated_basis_for_another_field_and_te() -> None:
    b = find_basis(_spectrum(127.75, 0.035, "PRESS"))
    assert b.spectrometer_frequency == pytest.approx(127.75)
    assert b.echo_time == pytest.approx(0.035)
    assert b.n_points == 1024 and b.dwell_time == pytest.approx(1 / 2000.0)
    assert {"NAA", "Cr", "PCr", "GPC", "PCho", "Ins", "Glu", "Gln"} <= set(b.names)
    # the NAA singlet sits at 2.008 ppm on the simulated basis
    assert b.peak_ppm("NAA", 1.9, 2.1) == pytest.approx(2.008, abs=0.01)
    assert find_basis(_spectrum(127.75, 0.035, "PRESS")) is b  # cached


def test_steam_header_gives_a_steam_basis() -> None:
    b = find_basis(_spectrum(297.2, 0.011, "svs_st"))
    assert str(b.meta.get("sequence", "")).lower() == "steam"


def test_unknown_te_without_matching_basis_is_a_clear_error() -> None:
    with pytest.raises(IncompatibleDataError, match="--basis"):
        find_basis(_spectrum(127.75, None))
