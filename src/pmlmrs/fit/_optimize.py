"""A small bounded Levenberg-Marquardt optimiser for dense least-squares problems with few parameters.

Minimises ``cost(x) = 0.5 ||r(x)||^2`` for ``r: R^n -> R^m`` (n ~ 10, m ~ 1000s) subject to
``lower <= x <= upper`` (entries may be infinite), with a user Jacobian. Written for the
variable-projection fit (:mod:`pmlmrs.fit.model`), where one residual costs a few hundred
microseconds, so the per-iteration bookkeeping (n x n algebra only) must stay far below that.

Method (deterministic: no randomness, no threads): a trust-region Levenberg-Marquardt
(Moré 1978) with an active set for the bounds.

* Variables are scaled by ``D_j``, the largest norm of Jacobian column ``j`` seen so far (MINPACK's
  scaling, the counterpart of ``x_scale="jac"`` in :func:`scipy.optimize.least_squares`).
* Each step is the damped Gauss-Newton step ``(J'J + mu D^2) s = -J'r`` whose scaled length
  ``||D s||`` fits the trust radius (``mu = 0`` when the Gauss-Newton step does); ``mu`` comes from
  an eigen-decomposition of the small scaled ``J'J`` (one per Jacobian, n x n). The radius shrinks
  to a quarter of the step after a poor step (gain ratio ``rho`` < 0.25: actual over predicted cost
  reduction) and doubles after a good one that reached it (``rho`` > 0.75).
* Bounds: a variable on a bound whose gradient points out of the box is held there; a step that
  would leave the box is bent onto the face it hits (the variable that crosses first along the step
  is put on its bound and the damped system re-solved for the others, until the step stays inside;
  the plain clipped step is taken instead when its damped model is lower).
* The Jacobian is computed only after an accepted step (a rejected step reuses it and its
  decomposition), and not after the final one.

Termination as :func:`scipy.optimize.least_squares`: ``ftol`` (an accepted step lowered the cost by
less than ``ftol * cost`` with ``rho > 0.25``), ``xtol`` (a step ``||dx|| < xtol (xtol + ||x||)``,
accepted or not), and ``gtol`` in MINPACK's scale-free form (largest cosine between a free Jacobian
column and the residual). Status codes as SciPy: 0 = ``max_nfev`` reached, 1 = gtol, 2 = ftol,
3 = xtol, 4 = ftol and xtol.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.linalg.lapack import dpotrf, dpotrs, dsyevd

__all__ = ["LMResult", "least_squares_lm"]

_MESSAGES = {
    0: "The maximum number of function evaluations is exceeded.",
    1: "`gtol` termination condition is satisfied.",
    2: "`ftol` termination condition is satisfied.",
    3: "`xtol` termination condition is satisfied.",
    4: "Both `ftol` and `xtol` termination conditions are satisfied.",
}


@dataclass
class LMResult:
    """Outcome of :func:`least_squares_lm`.

    Attributes
    ----------
    x : ndarray (n,)
        Solution (inside the bounds).
    cost : float
        ``0.5 ||r(x)||^2``.
    fun : ndarray (m,)
        Residual at ``x``.
    nfev, njev : int
        Residual and Jacobian evaluations.
    status : int
        0: ``max_nfev`` reached; 1: gtol; 2: ftol; 3: xtol; 4: ftol and xtol (> 0: converged).
    message : str
    active_mask : ndarray of int (n,)
        -1 / +1: on the lower / upper bound at the end; 0: inside.
    """

    x: NDArray[np.float64]
    cost: float
    fun: NDArray[np.float64]
    nfev: int
    njev: int
    status: int
    message: str
    active_mask: NDArray[np.int64]

    @property
    def success(self) -> bool:
        return self.status > 0


def gradient_tolerance(tol: float) -> float:
    """The gradient test's tolerance for a cost/step tolerance *tol* (NumPy and JAX LM alike)."""
    return min(tol, 1e-8)


def _solve_spd(a: NDArray, b: NDArray) -> NDArray | None:
    """``a^-1 b`` for a small symmetric positive definite *a* (Cholesky); None if not SPD."""
    c, info = dpotrf(a, lower=0, clean=0)
    if info != 0:
        return None
    x, info = dpotrs(c, b, lower=0)
    return x if info == 0 else None


def _damped_step(h: NDArray, g: NDArray, damp: NDArray, x: NDArray, lo: NDArray, hi: NDArray,
                 free: NDArray[np.bool_], s: NDArray) -> NDArray:
    """Bend the damped step *s* (n,) onto the face of the box it hits (see the module docstring).

    *s* minimises ``q(s) = g's + s'(H + diag(damp))s / 2`` over the *free* variables (zero on the
    others); *h*: (n, n) ``J'J``; *g*: (n,) ``J'r``; *damp*: (n,) ``mu D^2``. Returns a feasible
    step (n,).
    """
    n = x.size
    xt = x + s
    if np.all((xt >= lo) & (xt <= hi)):
        return s
    clipped = np.clip(xt, lo, hi) - x
    hd = h.copy()
    hd.flat[::n + 1] += damp
    face = s.copy()
    fixed = ~free
    for _ in range(n):
        xt = x + face
        out = ~fixed & ((xt < lo) | (xt > hi))
        if not out.any():
            break
        j = np.flatnonzero(out)
        room = np.where(xt[j] < lo[j], lo[j] - x[j], hi[j] - x[j])   # signed distance to the bound
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(face[j] != 0, room / face[j], 0.0)   # 0: already on/over its bound
        i = int(np.argmin(frac))                    # crosses first along the step
        fixed[j[i]] = True
        face[j[i]] = room[i]
        rest = np.flatnonzero(~fixed)
        if rest.size:
            q = _solve_spd(hd[np.ix_(rest, rest)], -(g[rest] + hd[np.ix_(rest, fixed)] @ face[fixed]))
            if q is None:
                break
            face[rest] = q
    face = np.clip(x + face, lo, hi) - x
    q_face = g @ face + 0.5 * face @ hd @ face
    q_clip = g @ clipped + 0.5 * clipped @ hd @ clipped
    return clipped if q_clip < q_face else face


def least_squares_lm(
    fun: Callable[[NDArray], ArrayLike],
    jac: Callable[[NDArray], ArrayLike],
    x0: ArrayLike,
    lower: ArrayLike | None = None,
    upper: ArrayLike | None = None,
    *,
    ftol: float = 1e-8,
    xtol: float = 1e-8,
    gtol: float = 1e-8,
    max_nfev: int | None = None,
    mu0: float = 1e-3,
) -> LMResult:
    """Bounded Levenberg-Marquardt: minimise ``0.5 ||fun(x)||^2`` with ``lower <= x <= upper``.

    Parameters
    ----------
    fun : callable
        ``fun(x) -> (m,)`` residual vector. A non-finite residual at a trial point counts as an
        infinite cost (the step is rejected); at *x0* it raises ValueError.
    jac : callable
        ``jac(x) -> (m, n)`` Jacobian of *fun*; always called right after ``fun`` at the same *x*
        (so a problem that caches its last evaluation can reuse it). Must be finite.
    x0 : array_like (n,)
        Start; clipped into the bounds.
    lower, upper : array_like (n,) or scalar, optional
        Bounds (``-inf`` / ``inf``: none; default unbounded).
    ftol, xtol, gtol : float
        Termination tolerances (module docstring; 0 disables one).
    max_nfev : int, optional
        Most residual evaluations, the first included (default ``100 n``).
    mu0 : float
        Sets the first trust radius: the scaled length of the step damped by ``mu0`` times the
        largest eigenvalue of the scaled ``J'J`` (small: start with a near Gauss-Newton step).

    Returns
    -------
    LMResult
    """
    x = np.array(x0, dtype=float).ravel()
    n = x.size
    lo = np.full(n, -np.inf) if lower is None else np.broadcast_to(np.asarray(lower, float), (n,)).copy()
    hi = np.full(n, np.inf) if upper is None else np.broadcast_to(np.asarray(upper, float), (n,)).copy()
    if np.any(lo > hi):
        raise ValueError("each lower bound must not exceed its upper bound")
    max_nfev = 100 * n if max_nfev is None else int(max_nfev)
    if max_nfev < 1:
        raise ValueError("max_nfev must be >= 1")
    x = np.clip(x, lo, hi)
    r = np.asarray(fun(x), dtype=float)
    nfev, njev = 1, 0
    cost = 0.5 * float(r @ r)
    if not math.isfinite(cost):
        raise ValueError("the residual is not finite at the start point")
    status = 1 if n == 0 else 0 if max_nfev == 1 else -1
    if status < 0:
        j = _checked_jac(jac, x, r.size, n)
        njev = 1
        d2 = np.zeros(n)                     # D^2: largest squared column norms so far
        delta = -1.0                         # trust radius for ||D s||
    while status < 0:
        h = j.T @ j
        g = j.T @ r
        hdiag = h.diagonal()
        d2 = np.maximum(d2, hdiag)
        d2[d2 <= 0] = 1.0
        free = ~(((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0)))
        cols = np.sqrt(hdiag[free])
        live = cols > 0
        rn = math.sqrt(2.0 * cost)
        if rn == 0.0 or not live.any() or float(np.max(np.abs(g[free][live]) / cols[live])) <= gtol * rn:
            status = 1
            break
        # scaled free system D^-1 H D^-1 = V diag(lam) V', scaled gradient in its eigenbasis: cg
        d = np.sqrt(d2)
        idx = np.flatnonzero(free)
        df = d[idx]
        hf = h if idx.size == n else h[np.ix_(idx, idx)]
        lam, vec, info = dsyevd(hf / np.outer(df, df))
        if info != 0:
            raise np.linalg.LinAlgError("eigen-decomposition of the scaled J'J failed")
        cg = vec.T @ (g[idx] / df)
        mu_min = max(0.0, -float(lam[0])) + 1e-10 * max(float(lam[-1]), 1e-300)
        if delta < 0:
            delta = _scaled_length(lam, cg, mu0 * float(lam[-1]))
        while True:                          # shrink the trust region until a step lowers the cost
            if nfev >= max_nfev:
                status = 0
                break
            mu = _mu_for_radius(lam, cg, delta, mu_min)
            s = np.zeros(n)
            s[idx] = -(vec @ (cg / (lam + mu))) / df
            s = _damped_step(h, g, mu * d2, x, lo, hi, free, s)
            pred = -float(g @ s + 0.5 * s @ h @ s)
            x_new = x + s
            r_new = np.asarray(fun(x_new), dtype=float)
            nfev += 1
            cost_new = 0.5 * float(r_new @ r_new)
            if not math.isfinite(cost_new):
                cost_new = math.inf
            actual = cost - cost_new
            step = math.sqrt(float(s @ s))
            ds = d * s
            zn = math.sqrt(float(ds @ ds))
            rho = actual / pred if pred > 0 else (0.0 if actual > 0 else -1.0)
            if rho < 0.25:
                delta = 0.25 * zn
            elif rho > 0.75 and zn > 0.95 * delta:
                delta *= 2.0
            if actual > 0:
                small_f = actual < ftol * cost and rho > 0.25
                small_x = step < xtol * (xtol + math.sqrt(float(x_new @ x_new)))
                x, r, cost = x_new, r_new, cost_new
                if small_f or small_x:
                    status = 4 if (small_f and small_x) else (2 if small_f else 3)
                else:
                    j = _checked_jac(jac, x, r.size, n)
                    njev += 1
                break
            if step < xtol * (xtol + math.sqrt(float(x @ x))):
                status = 3
                break
    mask = np.where(x <= lo, -1, np.where(x >= hi, 1, 0)).astype(np.int64)
    return LMResult(x=x, cost=cost, fun=r, nfev=nfev, njev=njev, status=status,
                    message=_MESSAGES[status], active_mask=mask)


def _checked_jac(jac: Callable[[NDArray], ArrayLike], x: NDArray, m: int, n: int) -> NDArray:
    j = np.asarray(jac(x), dtype=float)
    if j.shape != (m, n):
        raise ValueError(f"the Jacobian has shape {j.shape}, expected {(m, n)}")
    if not np.all(np.isfinite(j)):
        raise ValueError("the Jacobian is not finite")
    return j


def _scaled_length(lam: NDArray, cg: NDArray, mu: float) -> float:
    """``||D s||`` of the step damped by *mu* (eigenvalues *lam*, scaled gradient *cg* in their basis)."""
    w = cg / (lam + mu)
    return math.sqrt(float(w @ w))


def _mu_for_radius(lam: NDArray, cg: NDArray, delta: float, mu_min: float) -> float:
    """Smallest damping (at least *mu_min*) whose step has ``||D s|| <= 1.1 delta``: Newton's method on
    the secular equation ``1 / ||D s(mu)|| = 1 / delta`` (concave in mu, so it approaches from below)."""
    if not delta > 0:
        return math.inf
    mu = mu_min
    for _ in range(50):
        w = cg / (lam + mu)
        nz = math.sqrt(float(w @ w))
        if nz <= 1.1 * delta:
            break
        slope = float(np.sum(w * w / (lam + mu))) / nz ** 3        # d(1/||D s||)/dmu
        mu += (1.0 / delta - 1.0 / nz) / slope
    return mu
