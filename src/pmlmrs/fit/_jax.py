"""JAX backend: the same variable-projection model as :mod:`pmlmrs.fit._forward`, jit-compiled and
vmapped over a batch of spectra on one grid.

Per spectrum: NNLS by Lawson-Hanson on the Gram matrix (``lax.while_loop``), Kaufman's Jacobian,
the lineshape prior rows, and the trust-region Levenberg-Marquardt of the NumPy path
(:mod:`pmlmrs.fit._optimize`; a step leaving the bounds is clipped onto them) in a
``lax.while_loop`` to convergence or ``max_iterations``. On a CPU one spectrum per kernel call (a
vmapped loop runs as long as its slowest member); on an accelerator the whole batch. Start values, the noise SD, the baseline smoothness choice and the final
quantities (amplitudes, CRLBs, arrays) come from the NumPy code at the JAX solution, so both
backends report the same quantities from the same formulas.

Importing this module imports jax; it is only imported when ``backend="jax"``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from pmlmrs._logging import logger
from pmlmrs.core import axes
from pmlmrs.errors import FitError

__all__ = ["fit_many_jax"]

_CACHE: dict = {}
#: Wall time of every call of the jitted kernel (diagnostics for benchmarks).
KERNEL_SECONDS: list[float] = []


def _jax(float64: bool):
    import jax

    if float64:
        jax.config.update("jax_enable_x64", True)
    return jax


def _build(n_groups: int, n_pen: int, n_prior: int, n_shape: int, max_iter: int, tol: float):
    """jit(vmap(fit)) for one problem shape (cached); *n_shape* lineshape prior rows."""
    key = (n_groups, n_pen, n_prior, n_shape, max_iter, tol)
    if key in _CACHE:
        return _CACHE[key]
    import jax
    import jax.numpy as jnp
    import jax.scipy.linalg
    from jax import lax

    from pmlmrs.fit._forward import voigt_fwhm_grad
    from pmlmrs.fit._optimize import gradient_tolerance

    gauss_c = np.pi ** 2 / (4.0 * np.log(2.0))
    ftol = xtol = tol
    gtol = gradient_tolerance(tol)

    n_extra = n_pen + n_prior

    def stack(z):
        if z.ndim == 1:
            return jnp.concatenate([z.real, z.imag, jnp.zeros(n_extra, z.real.dtype)])
        return jnp.concatenate([z.real, z.imag, jnp.zeros((n_extra,) + z.shape[1:], z.real.dtype)], axis=0)

    def proj(q, v):
        return v - q @ (q.T @ v)

    def nnls_gram(g, h, p_init):
        """Lawson-Hanson NNLS on the normal equations, warm-started from the passive set *p_init*."""
        k = h.shape[0]
        scale = jnp.maximum(jnp.max(jnp.abs(jnp.diag(g))), 1e-300)
        tol = 1e-12 * jnp.maximum(jnp.max(jnp.abs(h)), 1e-300)

        def solve_passive(p):
            # Cholesky: the passive block is positive definite (smallest eigenvalue / largest diagonal
            # ~2e-4 on lipid-rich lesions, Gram by subtraction exact to ~2e-15 in float64, ~1e-6 in
            # float32); the 1e-12 ridge only guards exact float64 ties. No fallback: a NaN step is
            # rejected by the trust region, and the amplitudes reported come from NumPy.
            gm = jnp.where(p[:, None] & p[None, :], g, 0.0) + jnp.diag(jnp.where(p, 1e-12 * scale, scale))
            hm = jnp.where(p, h, 0.0)
            return jnp.where(p, jax.scipy.linalg.cho_solve((jnp.linalg.cholesky(gm), True), hm), 0.0)

        def inner_cond(st):
            x, p, z, it = st
            return jnp.any(p & (z <= 0)) & (it < 3 * k)

        def inner_body(st):
            x, p, z, it = st
            neg = p & (z <= 0)
            ratio = jnp.where(neg, x / jnp.where(neg, x - z, 1.0), jnp.inf)
            alpha = jnp.clip(jnp.min(ratio), 0.0, 1.0)
            x = x + alpha * (z - x)
            p = p & (x > 0) & ~(neg & (ratio <= alpha))
            z = solve_passive(p)
            return x, p, z, it + 1

        def fix(x, p):
            z = solve_passive(p)
            x, p, z, _ = lax.while_loop(inner_cond, inner_body, (x, p, z, 0))
            return jnp.where(p, z, 0.0), p

        def outer_cond(st):
            x, p, w, it = st
            return jnp.any(~p & (w > tol)) & (it < 3 * k)

        def outer_body(st):
            x, p, w, it = st
            j = jnp.argmax(jnp.where(~p, w, -jnp.inf))
            p = p.at[j].set(True)
            x, p = fix(x, p)
            return x, p, h - g @ x, it + 1

        # warm start: the previous passive set, made feasible (x = 0 is feasible for the inner loop)
        x0 = jnp.zeros(k, h.dtype)
        z0 = solve_passive(p_init)
        feasible = jnp.all(jnp.where(p_init, z0 > 0, True))
        x1, p1 = lax.cond(feasible, lambda: (z0, p_init), lambda: (x0, jnp.zeros(k, bool)))
        x, p, w, _ = lax.while_loop(outer_cond, outer_body, (x1, p1, h - g @ x1, 0))
        return jnp.maximum(x, 0.0), p

    def make(fids, gm, t, idx, ppm_rel):
        fr, fi = fids.real, fids.imag

        def columns(theta):
            p = theta[2:].reshape(n_groups, 3)
            mag = jnp.exp(-jnp.pi * p[:, 1:2] * t - gauss_c * p[:, 2:3] * t ** 2)
            ph = 2.0 * jnp.pi * p[:, 0:1] * t
            # (K, N) envelopes of the components by a product with the group matrix: a gather
            # (env[group_index]) is fused into the product below and recomputes exp/cos/sin for every
            # component, 3x the cost of the whole column build on a CPU
            er, ei = gm.T @ (mag * jnp.cos(ph)), gm.T @ (mag * jnp.sin(ph))
            x = lax.complex(fr * er - fi * ei, fr * ei + fi * er)
            return x, jnp.fft.fft(x, axis=-1)[:, idx]

        def solve(theta, y, q, prior, p_init):
            """Amplitudes at *theta* (NNLS on the Gram matrix of the columns with the baseline
            projected out, formed as ``A'A - (Q'A)'(Q'A)`` without projecting A itself) and the
            projected residual."""
            x, cols = columns(theta)
            a_aug = stack(cols.T)
            if n_prior:
                a_aug = a_aug.at[-n_prior:].set(prior)
            yphi = y * jnp.exp(-1j * (theta[0] + theta[1] * ppm_rel))
            b_aug = stack(yphi)
            qa = q.T @ a_aug
            gram = a_aug.T @ a_aug - qa.T @ qa
            amps, p = nnls_gram(gram, a_aug.T @ b_aug - qa.T @ (q.T @ b_aug), p_init)
            return proj(q, b_aug - a_aug @ amps), amps, (a_aug, gram, qa), x, yphi, p

        def jac_from(sol, q, free):
            """Kaufman Jacobian at a solved point ``sol = solve(...)``: the derivatives of the
            phased data and of the model with the baseline and the active columns projected out,
            ``P (D - A_act z)`` with ``z = (A_act' P A_act)^-1 A_act' P D`` (P: the baseline
            projector; one projection of the (rows, P) result instead of the (rows, K) columns)."""
            r, amps, (a_aug, gram, qa), x, yphi, p = sol
            dy = -1j * yphi
            c0 = stack(dy)
            c1 = stack(dy * ppm_rel)
            sums = (gm * amps[None, :]) @ x
            # d/d(shift, Lorentz, Gauss^2) = (2 pi i, -pi, -gauss_c) x (F[t s], F[t s], F[t^2 s])
            f = jnp.fft.fft(sums[:, None, :] * jnp.stack([t, t ** 2])[None], axis=-1)[..., idx]
            d = jnp.stack([2j * jnp.pi * f[:, 0], -jnp.pi * f[:, 0], -gauss_c * f[:, 1]], axis=1)
            d = d.reshape(3 * n_groups, -1).T
            dm = jnp.concatenate([c0[:, None], c1[:, None], -stack(d)], axis=1)
            act = amps > 0
            af = jnp.where(act[None, :], a_aug, 0.0)
            qd = q.T @ dm
            both = act[:, None] & act[None, :]
            gf = jnp.where(both, gram, 0.0) + jnp.diag(jnp.where(act, 0.0, 1.0))
            rhs = af.T @ dm - jnp.where(act[None, :], qa, 0.0).T @ qd
            z = jnp.linalg.solve(gf, rhs)
            dm = proj(q, dm - af @ z)
            return jnp.where(free[None, :], dm, 0.0)

        def with_shape_prior(theta, sol, jac, sp, free):
            """Residual and Jacobian with the lineshape prior rows appended
            (:class:`pmlmrs.fit._forward.LineshapePrior`; *sp* = kind, a, b, mean, weight)."""
            if not n_shape:
                return sol[0], jac
            kind, a, b, mean, w = sp

            va, dla, dga = voigt_fwhm_grad(theta[a + 1], theta[a + 2], xp=jnp)
            vb, dlb, dgb = voigt_fwhm_grad(theta[b + 1], theta[b + 2], xp=jnp)
            shift = kind == 0
            r_p = w * jnp.where(shift, theta[a] - theta[b], va - vb) - w * mean
            rows = jnp.arange(n_shape)
            jp = jnp.zeros((n_shape, theta.shape[0]), theta.dtype)
            jp = jp.at[rows, a].add(jnp.where(shift, w, 0.0)).at[rows, b].add(jnp.where(shift, -w, 0.0))
            jp = jp.at[rows, a + 1].add(jnp.where(shift, 0.0, w * dla)).at[rows, a + 2].add(jnp.where(shift, 0.0, w * dga))
            jp = jp.at[rows, b + 1].add(jnp.where(shift, 0.0, -w * dlb)).at[rows, b + 2].add(jnp.where(shift, 0.0, -w * dgb))
            jp = jnp.where(free[None, :], jp, 0.0)
            return jnp.concatenate([sol[0], r_p]), jnp.concatenate([jac, jp], axis=0)

        def fit_one(theta0, y, q, prior, lo, hi, free, sp):
            """Trust-region Levenberg-Marquardt as :func:`pmlmrs.fit._optimize.least_squares_lm`
            (MINPACK scaling, damping from an eigen-decomposition of the scaled J'J for the trust
            radius, the same termination tests); a step leaving the box is clipped onto it."""
            k = fids.shape[0]
            dt = theta0.dtype
            sol0 = solve(theta0, y, q, prior, jnp.zeros(k, bool))
            r0, j0 = with_shape_prior(theta0, sol0, jac_from(sol0, q, free), sp, free)
            # state: theta, cost, trust radius, D^2, evaluations, done, residual, Jacobian, passive set
            st = (theta0, 0.5 * (r0 @ r0), jnp.asarray(-1.0, dt), jnp.zeros_like(theta0), 1, False, r0, j0,
                  sol0[5])

            def cond(st):
                return (~st[5]) & (st[4] < max_iter)

            def body(st):
                theta, cost, delta, d2, it, done, r, jac, pset = st
                h = jac.T @ jac
                g = jac.T @ r
                hdiag = jnp.diag(h)
                d2 = jnp.maximum(d2, hdiag)
                d2 = jnp.where(d2 <= 0, 1.0, d2)
                fv = free & ~(((theta <= lo) & (g > 0)) | ((theta >= hi) & (g < 0)))
                cols = jnp.sqrt(hdiag)
                live = fv & (cols > 0)
                gmax = jnp.max(jnp.where(live, jnp.abs(g) / jnp.where(live, cols, 1.0), 0.0))
                g_done = (~jnp.any(live)) | (gmax <= gtol * jnp.sqrt(2.0 * cost))
                d = jnp.sqrt(d2)
                both = fv[:, None] & fv[None, :]
                hs = jnp.where(both, h / (d[:, None] * d[None, :]), jnp.diag(jnp.where(fv, 0.0, 1.0)))
                lam, vec = jnp.linalg.eigh(hs)
                cg = vec.T @ jnp.where(fv, g / d, 0.0)
                lam_max = jnp.maximum(lam[-1], 1e-300)
                mu_min = jnp.maximum(0.0, -lam[0]) + 1e-10 * lam_max

                def length(mu):
                    w = cg / (lam + mu)
                    return jnp.sqrt(w @ w), w

                delta = jnp.where(delta < 0, length(1e-3 * lam_max)[0], delta)

                def newton_cond(nst):    # smallest mu >= mu_min with ||D s|| <= 1.1 delta
                    return (nst[1] > 1.1 * delta) & (nst[2] < 50)

                def newton(nst):
                    mu, nz, i = nst
                    w = cg / (lam + mu)
                    mu = mu + (1.0 / delta - 1.0 / nz) / (jnp.sum(w * w / (lam + mu)) / nz ** 3)
                    return mu, length(mu)[0], i + 1

                mu = lax.while_loop(newton_cond, newton, (mu_min, length(mu_min)[0], 0))[0]
                s = jnp.where(fv, -(vec @ (cg / (lam + mu))) / d, 0.0)
                s = jnp.clip(theta + s, lo, hi) - theta
                pred = -(g @ s + 0.5 * s @ (h @ s))
                new = theta + s
                sol = solve(new, y, q, prior, pset)
                r_new, jac_new = with_shape_prior(new, sol, jac_from(sol, q, free), sp, free)
                c_new = 0.5 * (r_new @ r_new)
                c_new = jnp.where(jnp.isfinite(c_new), c_new, jnp.inf)
                actual = cost - c_new
                rho = jnp.where(pred > 0, actual / jnp.where(pred > 0, pred, 1.0), jnp.where(actual > 0, 0.0, -1.0))
                zn = jnp.sqrt(jnp.sum((d * s) ** 2))
                delta = jnp.where(rho < 0.25, 0.25 * zn, jnp.where((rho > 0.75) & (zn > 0.95 * delta), 2.0 * delta, delta))
                accept = (actual > 0) & ~g_done
                step = jnp.sqrt(s @ s)
                small_f = accept & (actual < ftol * cost) & (rho > 0.25)
                small_x = step < xtol * (xtol + jnp.sqrt(jnp.where(accept, new @ new, theta @ theta)))
                theta = jnp.where(accept, new, theta)
                r = jnp.where(accept, r_new, r)
                jac = jnp.where(accept, jac_new, jac)
                pset = jnp.where(accept, sol[5], pset)
                cost = jnp.where(accept, c_new, cost)
                done = g_done | small_f | small_x
                return theta, cost, delta, d2, it + jnp.where(g_done, 0, 1), done, r, jac, pset

            theta, cost, _, _, it, done, _, _, _ = lax.while_loop(cond, body, st)
            return theta, cost, done, it

        return fit_one

    def batched(fids, gm, t, idx, ppm_rel, theta0, y, q, prior, lo, hi, free, sp):
        fit_one = make(fids, gm, t, idx, ppm_rel)
        return jax.vmap(fit_one)(theta0, y, q, prior, lo, hi, free, sp)

    fn = jax.jit(batched)
    _CACHE[key] = fn
    return fn


def fit_many_jax(model: Any, spectra: Sequence[Any]) -> list:
    """Fit checked spectra (see ``LinearCombinationModel._fit_many_jax``) with the JAX backend; a
    spectrum that cannot be fitted gives its FitError in its slot."""
    from pmlmrs.fit._forward import Problem
    from pmlmrs.fit.model import _grid_key, estimate_noise_sd

    opts = model.options
    jax = _jax(opts.jax_float64)
    import jax.numpy as jnp

    out: list[Any] = list(spectra)
    by_grid: dict[tuple, list[int]] = {}
    for i, s in enumerate(spectra):
        by_grid.setdefault(_grid_key(s), []).append(i)
    for key, members in by_grid.items():
        t_start = time.perf_counter()
        try:
            prep = model.prepare(spectra[members[0]])
        except Exception as exc:  # noqa: BLE001 - the whole grid fails
            for i in members:
                out[i] = exc if isinstance(exc, FitError) else FitError(str(exc))
            continue
        grid = prep.grid
        sl = axes.ppm_slice(spectra[members[0]].ppm_axis, *opts.ppm_range)
        lam0 = model._lam0()
        problems, thetas, los, his, sigmas, shape_priors, ok = [], [], [], [], [], [], []
        for i in members:
            s = spectra[i]
            try:
                y = axes.fid_to_spectrum(s.data)[sl]
                pr = Problem(grid, y, lam0)
                sigma, nrange = estimate_noise_sd(s, opts.noise_ppm_range)
                th0, direct = model._initial_theta(prep, s, pr)
                den_ref = model._apply_priors(pr, th0, sigma)
                lo, hi = model._bounds(prep, th0)
                span = np.where(np.isfinite(hi - lo), hi - lo, 1.0)
                th0 = np.clip(th0, lo + 1e-6 * span, hi - 1e-6 * span)
            except Exception as exc:  # noqa: BLE001
                out[i] = exc if isinstance(exc, FitError) else FitError(f"{s.source or 'spectrum'}: {exc}")
                continue
            problems.append(pr)
            thetas.append(th0)
            los.append(lo)
            his.append(hi)
            sigmas.append((sigma, nrange, den_ref, direct))
            shape_priors.append(model.lineshape_prior(prep, sigma))
            ok.append(i)
        if not ok:
            continue
        n_pen = grid.n_rows() - 2 * grid.n_window
        n_prior = int(problems[0].n_prior)
        n_shape = len(shape_priors[0])
        fn = _build(grid.n_groups, n_pen, n_prior, n_shape, int(opts.max_iterations), float(opts.tolerance))
        sp_arrays = tuple(np.array([getattr(sp, f) for sp in shape_priors]).reshape(len(ok), n_shape)
                          for f in ("kind", "a", "b", "mean", "weight"))
        priors = np.array([p.prior for p in problems]).reshape(len(ok), n_prior, grid.n_components)
        gm = np.zeros((grid.n_groups, grid.n_components))
        gm[grid.group_index, np.arange(grid.n_components)] = 1.0
        consts = (jnp.asarray(grid.fids), jnp.asarray(gm), jnp.asarray(grid.t),
                  jnp.asarray(grid.idx), jnp.asarray(grid.ppm - grid.pivot_ppm))
        free = np.tile(prep.free, (len(ok), 1))
        ys = np.array([p.y for p in problems])

        los_a, his_a = np.array(los), np.array(his)
        # a vmapped while_loop runs every spectrum of a call as long as its slowest one: on a CPU,
        # where the batch dimension buys no parallelism, one spectrum per call; on an accelerator
        # the whole batch
        chunk = 1 if jax.default_backend() == "cpu" else len(ok)

        def run(rows: np.ndarray, theta0: np.ndarray, lams: list[float]):
            """Fit the spectra *rows* of the batch from *theta0* with baseline weights *lams*."""
            qs = []
            for lam in lams:
                q = grid.q(lam)
                qs.append(np.vstack([q, np.zeros((n_prior, q.shape[1]))]) if n_prior else q)
            qs = np.array(qs)
            t0 = time.perf_counter()
            out = []
            for s0 in range(0, len(rows), chunk):
                sl, rs = slice(s0, s0 + chunk), rows[s0:s0 + chunk]
                # NumPy arguments: the jitted call transfers them (jnp.asarray first costs ~40 us each)
                out.append(fn(*consts, theta0[sl], ys[rs], qs[sl], priors[rs], los_a[rs], his_a[rs], free[rs],
                              tuple(a[rs] for a in sp_arrays)))
            th, _, done, it = (np.concatenate([np.asarray(o[k]) for o in out]) for k in range(4))
            KERNEL_SECONDS.append(time.perf_counter() - t0)
            logger.debug("jax kernel: %d spectra in %.3f s", len(rows), KERNEL_SECONDS[-1])
            return th, done, it

        every = np.arange(len(ok))
        lams = uncharged = [lam0] * len(ok)
        theta, done, iters = run(every, np.array(thetas), lams)
        if opts.baseline == "spline" and opts.baseline_smoothness == "auto" and grid.n_baseline:
            chosen = [model._choose_lam(prep, p, th, sg[0]) for p, th, sg in zip(problems, theta, sigmas)]
            lams, uncharged = [c[0] for c in chosen], [c[1] for c in chosen]
            redo = np.array([j for j in every if lams[j] != lam0], dtype=int)
            if redo.size:               # refit where the chosen smoothness differs from the start
                theta2, done2, iters2 = run(redo, theta[redo], [lams[j] for j in redo])
                theta[redo], done[redo], iters[redo] = theta2, done2, iters[redo] + iters2
        elapsed = (time.perf_counter() - t_start) / len(ok)
        for j, i in enumerate(ok):
            pr = problems[j]
            pr.set_lam(lams[j])
            converged = bool(done[j])
            msg = "LM converged (jax)" if converged else f"LM stopped after max_iterations={opts.max_iterations} (jax)"
            info = {"problem": pr, "status": 1 if converged else 0, "message": msg, "nfev": int(iters[j]),
                    "sigma": sigmas[j][0], "noise_range": sigmas[j][1], "den_ref": sigmas[j][2],
                    "lo": los[j], "hi": his[j], "lam_uncharged": uncharged[j],
                    "template_direct": sigmas[j][3]}
            try:
                res = model._finish(prep, spectra[i], theta[j], info, time.perf_counter() - elapsed)
            except Exception as exc:  # noqa: BLE001
                res = exc if isinstance(exc, FitError) else FitError(str(exc))
            if isinstance(res, Exception):
                logger.warning("%s", res)
            out[i] = res
    return out
