"""The bounded Levenberg-Marquardt optimiser (pmlmrs.fit._optimize) and its use in the fit."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import least_squares

from pmlmrs.errors import ConfigError
from pmlmrs.fit import FitOptions, LinearCombinationModel
from pmlmrs.fit._optimize import least_squares_lm

T = np.linspace(0.0, 5.0, 200)
NU = np.linspace(-10.0, 10.0, 401)


# ---- test problems: (residual, jacobian) -------------------------------------------------------
def two_exp(y: np.ndarray):
    """y ~ a1 exp(-k1 t) + a2 exp(-k2 t); x = (a1, k1, a2, k2)."""

    def fun(p):
        return p[0] * np.exp(-p[1] * T) + p[2] * np.exp(-p[3] * T) - y

    def jac(p):
        e1, e2 = np.exp(-p[1] * T), np.exp(-p[3] * T)
        return np.column_stack([e1, -p[0] * T * e1, e2, -p[2] * T * e2])

    return fun, jac


def lorentz(y: np.ndarray):
    """y ~ a w^2 / ((nu - c)^2 + w^2) + b; x = (a, c, w, b)."""

    def fun(p):
        a, c, w, b = p
        return a * w ** 2 / ((NU - c) ** 2 + w ** 2) + b - y

    def jac(p):
        a, c, w, _ = p
        d = (NU - c) ** 2 + w ** 2
        return np.column_stack([w ** 2 / d, 2 * a * w ** 2 * (NU - c) / d ** 2,
                                2 * a * w * (NU - c) ** 2 / d ** 2, np.ones_like(NU)])

    return fun, jac


def rosenbrock():
    def fun(p):
        return np.array([10.0 * (p[1] - p[0] ** 2), 1.0 - p[0]])

    def jac(p):
        return np.array([[-20.0 * p[0], 10.0], [-1.0, 0.0]])

    return fun, jac


def lorentz_data(rng, w=1.5, noise=0.01):
    a, c, b = 3.0, 0.7, 0.2
    return a * w ** 2 / ((NU - c) ** 2 + w ** 2) + b + noise * rng.standard_normal(NU.size)


TIGHT = {"ftol": 1e-12, "xtol": 1e-12, "gtol": 1e-12}


# ---- recovery ------------------------------------------------------------------------------------
def test_recovers_two_exponentials_noiseless():
    truth = np.array([2.0, 1.3, 0.7, 0.25])
    fun, jac = two_exp(two_exp(np.zeros(T.size))[0](truth))
    res = least_squares_lm(fun, jac, [1.0, 2.0, 1.0, 0.5], **TIGHT)
    assert res.status > 0 and res.success
    np.testing.assert_allclose(res.x, truth, rtol=1e-7)
    assert res.cost < 1e-20
    assert np.all(res.active_mask == 0)


def test_recovers_lorentzian_with_noise(rng):
    fun, jac = lorentz(lorentz_data(rng))
    res = least_squares_lm(fun, jac, [1.0, 0.0, 3.0, 0.0], [0, -5, 0.1, -1], [10, 5, 10, 1], **TIGHT)
    np.testing.assert_allclose(res.x, [3.0, 0.7, 1.5, 0.2], atol=0.02)


def test_active_bound_at_solution(rng):
    # true width 0.6 below the lower bound 1.0: the width ends on its bound, the rest adapts
    fun, jac = lorentz(lorentz_data(rng, w=0.6))
    lo, hi = np.array([0.0, -5.0, 1.0, -1.0]), np.array([10.0, 5.0, 10.0, 1.0])
    res = least_squares_lm(fun, jac, [1.0, 0.0, 3.0, 0.0], lo, hi, **TIGHT)
    assert res.x[2] == 1.0
    assert list(res.active_mask) == [0, 0, -1, 0]
    # KKT: the gradient pushes the width out of the box, the free components vanish
    g = jac(res.x).T @ fun(res.x)
    assert g[2] > 0
    assert np.all(np.abs(g[[0, 1, 3]]) < 1e-6 * np.linalg.norm(jac(res.x), axis=0)[[0, 1, 3]] * np.linalg.norm(fun(res.x)))
    ref = least_squares(fun, [1.0, 0.0, 3.0, 0.0], jac=jac, bounds=(lo, hi), x_scale="jac", **TIGHT)
    np.testing.assert_allclose(res.x, ref.x, atol=1e-5)
    assert res.cost <= ref.cost * (1 + 1e-9)


# ---- agreement with scipy ------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["two_exp", "two_exp_bounded", "lorentz", "rosenbrock", "rosenbrock_bounded"])
def test_matches_scipy(case, rng):
    if case.startswith("two_exp"):
        truth = np.array([2.0, 1.3, 0.7, 0.25])
        y = two_exp(np.zeros(T.size))[0](truth) + 0.01 * rng.standard_normal(T.size)
        fun, jac = two_exp(y)
        x0 = [1.0, 2.0, 1.0, 0.5]
        bounds = ([0, 0, 0, 0.3], [10, 10, 10, 10]) if case.endswith("bounded") else (-np.inf, np.inf)
    elif case == "lorentz":
        fun, jac = lorentz(lorentz_data(rng))
        x0, bounds = [1.0, -1.0, 0.5, 0.0], (-np.inf, np.inf)
    else:
        fun, jac = rosenbrock()
        x0 = [-1.2, 2.0]
        bounds = ([-np.inf, 1.5], np.inf) if case.endswith("bounded") else (-np.inf, np.inf)
    res = least_squares_lm(fun, jac, x0, *bounds, **TIGHT)
    ref = least_squares(fun, x0, jac=jac, bounds=bounds, x_scale="jac", method="trf", **TIGHT)
    assert res.success
    assert res.cost == pytest.approx(ref.cost, rel=1e-7, abs=1e-14)
    np.testing.assert_allclose(res.x, ref.x, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(res.fun, fun(res.x))
    assert res.cost == pytest.approx(0.5 * float(res.fun @ res.fun))


def test_rosenbrock_bound_solution():
    # Rosenbrock with x1 >= 1.5: the minimum lies on that bound (near x0 = -sqrt(1.5) from this start)
    fun, jac = rosenbrock()
    res = least_squares_lm(fun, jac, [-1.2, 2.0], [-np.inf, 1.5], np.inf, **TIGHT)
    assert res.x[1] == 1.5 and res.active_mask[1] == -1
    # along x1 = 1.5, the cost 50 (1.5 - x0^2)^2 + (1 - x0)^2 / 2 is minimal where its derivative vanishes
    x0 = res.x[0]
    assert abs(-200 * x0 * (1.5 - x0 ** 2) - (1 - x0)) < 1e-6


# ---- bounds, budget, determinism -----------------------------------------------------------------
def test_every_evaluation_inside_the_bounds(rng):
    y = lorentz_data(rng, w=0.6)
    fun0, jac = lorentz(y)
    seen = []

    def fun(p):
        seen.append(np.array(p))
        return fun0(p)

    lo, hi = np.array([0.0, 0.5, 1.0, -0.1]), np.array([2.5, 5.0, 10.0, 0.1])
    res = least_squares_lm(fun, jac, [1.0, 2.0, 6.0, 0.0], lo, hi, **TIGHT)
    assert len(seen) == res.nfev > 1
    pts = np.array(seen)
    assert np.all(pts >= lo) and np.all(pts <= hi)
    # true width 0.6 and offset 0.2 lie outside: both end on their bounds
    assert res.x[2] == 1.0 and res.x[3] == 0.1
    assert list(res.active_mask) == [0, 0, -1, 1]
    ref = least_squares(fun0, [1.0, 2.0, 6.0, 0.0], jac=jac, bounds=(lo, hi),
                        x_scale="jac", **TIGHT)
    assert res.cost == pytest.approx(ref.cost, rel=1e-9)


def test_max_nfev_reports_non_convergence():
    truth = np.array([2.0, 1.3, 0.7, 0.25])
    fun, jac = two_exp(two_exp(np.zeros(T.size))[0](truth))
    calls = []
    res = least_squares_lm(lambda p: calls.append(1) or fun(p), jac, [1.0, 2.0, 1.0, 0.5], max_nfev=3, **TIGHT)
    assert res.status == 0 and not res.success
    assert "maximum number of function evaluations" in res.message
    assert res.nfev == len(calls) == 3
    assert res.njev <= res.nfev
    res1 = least_squares_lm(fun, jac, [1.0, 2.0, 1.0, 0.5], max_nfev=1)
    assert res1.status == 0 and res1.nfev == 1 and res1.njev == 0
    np.testing.assert_array_equal(res1.x, [1.0, 2.0, 1.0, 0.5])


def test_jacobian_reused_after_rejected_steps():
    fun, jac = rosenbrock()
    res = least_squares_lm(fun, jac, [-1.2, 1.0], **TIGHT)
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-8)
    assert res.njev < res.nfev


def test_deterministic(rng):
    fun, jac = lorentz(lorentz_data(rng))
    a = least_squares_lm(fun, jac, [1.0, 0.0, 3.0, 0.0], [0, -5, 0.1, -1], [10, 5, 10, 1])
    b = least_squares_lm(fun, jac, [1.0, 0.0, 3.0, 0.0], [0, -5, 0.1, -1], [10, 5, 10, 1])
    np.testing.assert_array_equal(a.x, b.x)
    assert (a.nfev, a.njev, a.status, a.cost) == (b.nfev, b.njev, b.status, b.cost)


def test_tolerances_and_status():
    truth = np.array([2.0, 1.3, 0.7, 0.25])
    y = two_exp(np.zeros(T.size))[0](truth) + 0.01 * np.random.default_rng(1).standard_normal(T.size)
    fun, jac = two_exp(y)
    loose = least_squares_lm(fun, jac, [1.0, 2.0, 1.0, 0.5], ftol=1e-3, xtol=0, gtol=0)
    tight = least_squares_lm(fun, jac, [1.0, 2.0, 1.0, 0.5], ftol=1e-12, xtol=0, gtol=0)
    assert loose.status == 2 and "ftol" in loose.message
    assert loose.nfev < tight.nfev and tight.cost <= loose.cost
    g = least_squares_lm(fun, jac, [1.0, 2.0, 1.0, 0.5], ftol=0, xtol=0, gtol=1e-6)
    assert g.status == 1
    # linear problem with an exact solution: gtol (zero residual) after one step
    a = np.random.default_rng(2).standard_normal((30, 3))
    lin = least_squares_lm(lambda p: a @ p - a @ [1.0, -2.0, 3.0], lambda p: a, np.zeros(3), **TIGHT)
    np.testing.assert_allclose(lin.x, [1.0, -2.0, 3.0], atol=1e-8)


def test_parameter_without_influence_stays_put():
    # the residual ignores x[1] (zero Jacobian column, singular J'J): x[1] keeps its start value
    y = 3.0 * T

    def fun(p):
        return p[0] * T - y

    def jac(p):
        return np.column_stack([T, np.zeros_like(T)])

    res = least_squares_lm(fun, jac, [1.0, 0.5], [-10, 0], [10, 1], **TIGHT)
    assert res.success
    np.testing.assert_allclose(res.x, [3.0, 0.5], atol=1e-10)


def test_bad_input():
    fun, jac = rosenbrock()
    with pytest.raises(ValueError, match="bound"):
        least_squares_lm(fun, jac, [0.0, 0.0], [1.0, 0.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="not finite"):
        least_squares_lm(lambda p: np.array([np.nan, 1.0]), jac, [0.0, 0.0])
    with pytest.raises(ValueError, match="max_nfev"):
        least_squares_lm(fun, jac, [0.0, 0.0], max_nfev=0)
    # x0 outside the box is clipped into it
    res = least_squares_lm(fun, jac, [5.0, 5.0], [-2, -2], [2, 2], **TIGHT)
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-8)


def test_non_finite_trial_is_rejected():
    # the residual is NaN for x > 2: the optimiser must back off and still find x = 1.5
    def fun(p):
        return np.array([np.nan]) if p[0] > 2.0 else np.array([p[0] - 1.5, 0.1 * (p[0] - 1.5) ** 2])

    def jac(p):
        return np.array([[1.0], [0.2 * (p[0] - 1.5)]])

    res = least_squares_lm(fun, jac, [-100.0], mu0=1e-12, **TIGHT)
    assert res.x[0] == pytest.approx(1.5, abs=1e-8)


# ---- in the fit ----------------------------------------------------------------------------------
def test_option_validation_and_round_trip():
    assert FitOptions().optimizer == "lm"
    o = FitOptions(optimizer="trf")
    assert FitOptions.from_dict(o.to_dict()) == o
    assert o.to_dict()["optimizer"] == "trf"
    with pytest.raises(ConfigError, match="optimizer"):
        FitOptions(optimizer="bfgs")


@pytest.fixture(scope="module")
def small_basis():
    from pmlmrs.basis import bundled_basis

    return bundled_basis()


def test_lm_and_trf_fits_agree(small_basis):
    from pmlmrs.fit.synthetic import synthesize

    truth = {"NAA": 10.0, "Cr": 4.5, "PCr": 3.5, "GPC": 1.2, "PCho": 0.6, "Ins": 6.0, "Glu": 9.0,
             "Gln": 3.0, "Mac": 1.0}
    s, _ = synthesize(small_basis, truth, lipids={"Lip13": 10.0, "Lip09": 3.0}, snr=40.0,
                      rng=np.random.default_rng(11))
    r_lm = LinearCombinationModel(small_basis, FitOptions(optimizer="lm")).fit(s)
    r_trf = LinearCombinationModel(small_basis, FitOptions(optimizer="trf")).fit(s)
    assert r_lm.converged and r_trf.converged
    assert r_lm.params["fit_quality"] <= r_trf.params["fit_quality"] * 1.002
    for name in ("NAA", "Cr", "PCr", "Ins", "Glu", "Lip13"):
        i = r_lm.names.index(name)
        assert abs(r_lm.amplitudes[i] - r_trf.amplitudes[i]) < 0.3 * r_trf.crlb[i] + 1e-3 * abs(r_trf.amplitudes[i]), name
    tcr = r_lm.amplitude("Cr") + r_lm.amplitude("PCr")
    assert (r_lm.amplitude("NAA") / tcr) == pytest.approx(10.0 / 8.0, rel=0.08)
    # fewer residual evaluations than trf on the same problem
    assert r_lm.n_iterations < 1.5 * r_trf.n_iterations
