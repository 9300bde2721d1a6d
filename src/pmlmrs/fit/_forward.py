"""The forward model on one data grid (NumPy): broadened basis spectra in the fit window, the
variable-projection residual with non-negative amplitudes, its Jacobian and the full-model Fisher
information.

Parameters ``theta`` (internal units): ``[phi0 (rad), phi1 (rad/ppm), then per group: shift (Hz),
lorentz (Hz, FWHM), gauss2 (Hz^2, squared Gaussian FWHM)]``. Component ``k`` of group ``g``::

    x_k(t) = basis_k(t) * exp(2 pi i s_g t - pi l_g t - C g2_g t^2),   C = pi^2 / (4 ln 2)
    M_k(nu) = window(fftshift(fft(x_k)))

and the phase is applied to the data: ``y_phi = y * exp(-i (phi0 + phi1 (ppm - pivot)))``. The
real-stacked problem ``[Re; Im] y_phi = [Re; Im] M a + blockdiag(S, S) c`` with the penalty rows
``sqrt(lam) blockdiag(P, P) c = 0`` is solved for the baseline ``c`` by projection (the baseline
block does not depend on ``theta``, so its QR is computed once) and for ``a >= 0`` by NNLS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import solve_triangular
from scipy.linalg.lapack import dpotrf, dpotrs, dtrtrs
from scipy.optimize import nnls

__all__ = ["Grid", "Problem", "GAUSS_C", "LineshapePrior", "n_theta", "voigt_fwhm_grad"]

GAUSS_C = np.pi ** 2 / (4.0 * np.log(2.0))


def n_theta(n_groups: int) -> int:
    """Length of the internal parameter vector."""
    return 2 + 3 * n_groups


def voigt_fwhm_grad(lorentz_hz: Any, gauss2_hz2: Any, xp: Any = np) -> tuple[Any, Any, Any]:
    """Voigt FWHM ``0.5346 L + sqrt(0.2166 L^2 + G^2)`` (Hz; Olivero & Longbothum 1977, 0.02 %
    accurate) from the internal parameters ``L`` and ``G^2``, and its derivatives by them (the one
    by ``G^2`` taken at a FWHM of at least 1 Hz, so that it stays finite at zero width). *xp*: the
    array module (``numpy``, or ``jax.numpy`` in the JAX backend)."""
    s = xp.sqrt(0.2166 * lorentz_hz ** 2 + xp.maximum(gauss2_hz2, 0.0))
    return 0.5346 * lorentz_hz + s, 0.5346 + 0.2166 * lorentz_hz / xp.maximum(s, 1e-12), 0.5 / xp.maximum(s, 1.0)


@dataclass(frozen=True)
class LineshapePrior:
    """Gaussian priors on the lineshape of groups relative to a reference group, as residual rows.

    Row ``i`` is ``weight[i] * (f(a[i]) - f(b[i]) - mean[i])``, where ``a``/``b`` index the shift
    of a group's block in theta and ``f`` is that shift (``kind`` 0, Hz) or the group's Voigt FWHM
    (``kind`` 1, Hz). All arrays ``(n_rows,)``.
    """

    kind: NDArray[np.int64]
    a: NDArray[np.int64]
    b: NDArray[np.int64]
    mean: NDArray[np.float64]
    weight: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.kind.size)

    def residual_jacobian(self, theta: NDArray) -> tuple[NDArray, NDArray]:
        """Rows ``(n_rows,)`` and their Jacobian by theta ``(n_rows, n_theta)``."""
        th = np.asarray(theta, dtype=float)
        r = np.empty(len(self))
        jac = np.zeros((len(self), th.size))
        for i, (kd, a, b, mu, w) in enumerate(zip(self.kind, self.a, self.b, self.mean, self.weight)):
            if kd == 0:
                r[i] = w * (th[a] - th[b] - mu)
                jac[i, a], jac[i, b] = w, -w
                continue
            va, dla, dga = voigt_fwhm_grad(th[a + 1], th[a + 2])
            vb, dlb, dgb = voigt_fwhm_grad(th[b + 1], th[b + 2])
            r[i] = w * (va - vb - mu)
            jac[i, a + 1], jac[i, a + 2], jac[i, b + 1], jac[i, b + 2] = w * dla, w * dga, -w * dlb, -w * dgb
        return r, jac


@dataclass
class Grid:
    """Everything data-independent on one (n_points, dwell, MHz, reference, window) grid."""

    fids: NDArray[np.complex128]          # (K, N) basis FIDs on the data grid
    group_index: NDArray[np.int64]        # (K,)
    n_groups: int
    t: NDArray[np.float64]                # (N,)
    idx: NDArray[np.int64]                # (n_w,) FFT bins of the window, ascending ppm
    ppm: NDArray[np.float64]              # (n_w,)
    pivot_ppm: float
    bl_matrix: NDArray[np.float64]        # (n_w, m)
    bl_penalty: NDArray[np.float64]       # (p, m)
    #: penalty stiffened in the lipid region (same shape), used for a negative ``lam`` (see
    #: :meth:`penalty`); None: the uniform penalty for every ``lam``
    bl_penalty_stiff: NDArray[np.float64] | None = None
    #: (n_w,) rows of the window inside the lipid region (for the information criterion)
    lipid_rows: NDArray[np.bool_] | None = None
    _q_cache: dict = field(default_factory=dict)

    @property
    def n_components(self) -> int:
        return int(self.fids.shape[0])

    @property
    def n_window(self) -> int:
        return int(self.idx.size)

    @property
    def n_baseline(self) -> int:
        """Real baseline coefficients (real + imaginary parts)."""
        return 2 * int(self.bl_matrix.shape[1])

    def penalty(self, lam: float) -> NDArray[np.float64]:
        """Penalty root for baseline weight *lam*: ``sqrt(lam) P``; a negative *lam* codes the
        penalty stiffened in the lipid region, ``sqrt(-lam) P_stiff`` (when the grid has one)."""
        if lam < 0 and self.bl_penalty_stiff is not None:
            return self.bl_penalty_stiff * np.sqrt(-lam)
        return self.bl_penalty * np.sqrt(max(lam, 0.0))

    def baseline_block(self, lam: float) -> NDArray[np.float64]:
        """``S~`` (2 n_w + 2 p, 2 m): the baseline columns of the augmented real system (cached per
        lam, read-only)."""
        key = ("block", round(float(lam), 12))
        out = self._q_cache.get(key)
        if out is None:
            out = self._q_cache[key] = self._baseline_block(lam)
            out.setflags(write=False)
        return out

    def _baseline_block(self, lam: float) -> NDArray[np.float64]:
        s, p = self.bl_matrix, self.penalty(lam)
        n_w, m = s.shape
        n_p = p.shape[0]
        out = np.zeros((2 * n_w + 2 * n_p, 2 * m))
        out[:n_w, :m] = s
        out[n_w:2 * n_w, m:] = s
        out[2 * n_w:2 * n_w + n_p, :m] = p
        out[2 * n_w + n_p:, m:] = p
        return out

    def qr(self, lam: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """QR factors of the baseline block (cached per lam)."""
        key = round(float(lam), 12)
        if key not in self._q_cache:
            blk = self.baseline_block(lam)
            if blk.shape[1] == 0:
                self._q_cache[key] = (np.zeros((blk.shape[0], 0)), np.zeros((0, 0)))
            else:
                self._q_cache[key] = np.linalg.qr(blk)
        return self._q_cache[key]

    def q(self, lam: float) -> NDArray[np.float64]:
        """Orthonormal basis of the baseline block (cached per lam)."""
        return self.qr(lam)[0]

    def n_rows(self) -> int:
        return 2 * self.n_window + 2 * int(self.bl_penalty.shape[0])

    def baseline_ed(self, lam: float, rows: NDArray[np.bool_] | None = None) -> float:
        """Effective dimension of the baseline (trace of its smoother on the data rows, both parts);
        with *rows*, only the diagonal of the smoother on those window rows is summed (cached: it
        does not depend on the data)."""
        key = ("ed", round(float(lam), 12), None if rows is None else np.asarray(rows, bool).tobytes())
        val = self._q_cache.get(key)
        if val is None:
            val = self._q_cache[key] = self._baseline_ed(lam, rows)
        return val

    def _baseline_ed(self, lam: float, rows: NDArray[np.bool_] | None = None) -> float:
        s = self.bl_matrix
        if s.shape[1] == 0:
            return 0.0
        p = self.penalty(lam)
        g = s.T @ s + p.T @ p
        if rows is None:
            return 2.0 * float(np.trace(np.linalg.solve(g, s.T @ s)))
        sr = s[rows]
        return 2.0 * float(np.sum(sr * np.linalg.solve(g, sr.T).T))

    # ---- model pieces ---------------------------------------------------------------------------
    def _setup(self) -> None:
        """Data-independent helpers (computed once per grid): t^2, the uniform time step, and the
        component indices of each group (slices where the group is contiguous)."""
        t = np.asarray(self.t, dtype=float)
        self._t2 = t ** 2
        n = t.size
        dt = float(t[1] - t[0]) if n > 1 else 0.0
        self._dt = dt if (n > 1 and t[0] == 0.0 and np.allclose(np.diff(t), dt, rtol=1e-12, atol=0.0)) else None
        members = []
        for g in range(self.n_groups):
            ix = np.flatnonzero(self.group_index == g)
            if ix.size and np.array_equal(ix, np.arange(ix[0], ix[-1] + 1)):
                members.append(slice(int(ix[0]), int(ix[-1]) + 1))
            else:
                members.append(ix)
        self._members = members
        # the window as a slice of the FFT bins when it does not wrap around (a view, no gather)
        idx = np.asarray(self.idx)
        self._win = (slice(int(idx[0]), int(idx[-1]) + 1)
                     if idx.size and np.array_equal(idx, np.arange(idx[0], idx[0] + idx.size)) else idx)
        self._ready = True

    def envelopes(self, theta: NDArray) -> NDArray[np.complex128]:
        """(G, N) time-domain modulation of every group.

        ``exp(-pi l t - C g2 t^2)`` with a real exponential, times the phasor ``exp(2 pi i s t)``; on a
        uniform time axis starting at 0 the phasor is the running product of ``exp(2 pi i s dt)``
        (relative error ~ n eps, far below the noise; half the cost of a complex exponential).
        """
        if not getattr(self, "_ready", False):
            self._setup()
        g = self.n_groups
        p = np.asarray(theta[2:2 + 3 * g], dtype=float).reshape(g, 3)
        t = self.t
        if self._dt is None:
            mag = np.exp(np.multiply.outer(-np.pi * p[:, 1], t) - np.multiply.outer(GAUSS_C * p[:, 2], self._t2))
            return mag * np.exp(np.multiply.outer(2j * np.pi * p[:, 0], t))
        z = np.empty((g, t.size), dtype=np.complex128)
        z[:, 0] = 1.0
        z[:, 1:] = np.exp((2j * np.pi * p[:, 0] - np.pi * p[:, 1]) * self._dt)[:, None]
        np.cumprod(z, axis=1, out=z)
        z *= np.exp(np.multiply.outer(-GAUSS_C * p[:, 2], self._t2))
        return z

    def broadened(self, theta: NDArray, env: NDArray | None = None,
                  out: NDArray | None = None) -> NDArray[np.complex128]:
        """(K, N) broadened and shifted basis FIDs (*env*: precomputed :meth:`envelopes`; *out*: buffer)."""
        if not getattr(self, "_ready", False):
            self._setup()
        if env is None:
            env = self.envelopes(theta)
        if out is None:
            out = np.empty(self.fids.shape, dtype=np.complex128)
        for g, mem in enumerate(self._members):
            if isinstance(mem, slice):
                np.multiply(self.fids[mem], env[g], out=out[mem])
            else:
                out[mem] = self.fids[mem] * env[g]
        return out

    def fids_real(self) -> NDArray[np.float64]:
        """(K, 2N) real view of the basis FIDs (interleaved re/im), for real matrix products."""
        f = getattr(self, "_fids_real", None)
        if f is None:
            f = self._fids_real = np.ascontiguousarray(self.fids, dtype=np.complex128).view(np.float64)
        return f

    def tpowers(self) -> NDArray[np.float64]:
        """(2, N) ``t`` and ``t**2`` (s, s^2): the derivatives of a group's signal w.r.t. its shift
        (``2 pi i t``), Lorentzian width (``-pi t``) and squared Gaussian width (``-GAUSS_C t^2``)
        are these times the signal, so two transforms per group give all three."""
        w = getattr(self, "_tpowers", None)
        if w is None:
            w = self._tpowers = np.stack([self.t, self.t ** 2])
        return w

    def window_fft(self, x: NDArray[np.complex128], overwrite: bool = False) -> NDArray[np.complex128]:
        """fftshift(fft(x)) restricted to the window, last axis (a new array).

        *overwrite*: transform *x* in place (a reused C-contiguous complex buffer): a fresh 1 MB
        result per call costs more in page faults and cache misses than the FFT itself.
        """
        if not getattr(self, "_ready", False):
            self._setup()
        if overwrite and _FFT_OUT:
            np.fft.fft(x, axis=-1, out=x)
            return x[..., self._win].copy()
        return np.fft.fft(x, axis=-1)[..., self._win]

    def phase(self, theta: NDArray) -> NDArray[np.float64]:
        """(n_w,) phase (rad) applied to the model (removed from the data)."""
        return theta[0] + theta[1] * (self.ppm - self.pivot_ppm)


def _solve_lower(low: NDArray, rhs: NDArray) -> NDArray:
    """``low^-1 rhs`` for a lower-triangular *low* (LAPACK trtrs: no wrapper overhead on small systems)."""
    x, info = dtrtrs(low, rhs, lower=1)
    if info != 0:
        x = solve_triangular(low, rhs, lower=True, check_finite=False)
    return x


def _fft_has_out() -> bool:
    try:
        a = np.zeros(4, dtype=np.complex128)
        np.fft.fft(a, out=a)
        return True
    except TypeError:  # numpy < 2.0
        return False


_FFT_OUT = _fft_has_out()


def _stack(z: NDArray[np.complex128], n_extra: int) -> NDArray[np.float64]:
    """Real-stack complex rows (last axis = rows) and append *n_extra* zero rows; output (rows, ...)."""
    z = np.asarray(z)
    if z.ndim == 1:
        return np.concatenate([z.real, z.imag, np.zeros(n_extra)])
    return np.concatenate([z.real, z.imag, np.zeros((n_extra,) + z.shape[1:])], axis=0)


class Problem:
    """The varpro problem of one spectrum on a :class:`Grid` with baseline weight ``lam``."""

    def __init__(self, grid: Grid, y_window: NDArray[np.complex128], lam: float) -> None:
        self.grid = grid
        self.y = np.asarray(y_window, dtype=np.complex128)
        self._cols_theta = None
        self._group_params: NDArray | None = None     # (G, 3) group parameters of the columns
        self._theta_key: bytes | None = None
        self._xbuf: NDArray | None = None
        self._red: tuple | None = None
        gm = np.zeros((grid.n_groups, grid.n_components))
        gm[grid.group_index, np.arange(grid.n_components)] = 1.0
        self._group_matrix = gm
        self.prior = np.zeros((0, grid.n_components))
        self.set_lam(lam)

    def set_lam(self, lam: float) -> None:
        self.lam = float(lam)
        q = self.grid.q(self.lam)
        self.n_pen = self.grid.n_rows() - 2 * self.grid.n_window
        self.n_prior = int(self.prior.shape[0])
        self.n_extra = self.n_pen + self.n_prior
        self.Q = np.vstack([q, np.zeros((self.n_prior, q.shape[1]))]) if self.n_prior else q
        self._theta_key = None
        self._red = None

    def set_prior(self, prior: NDArray[np.float64]) -> None:
        """Weighted prior rows ``(n_prior, K)`` on the amplitudes (soft ratio constraints; target 0)."""
        self.prior = np.asarray(prior, dtype=float).reshape(-1, self.grid.n_components)
        self._cols_theta = None
        self.set_lam(self.lam)

    @property
    def n_rows(self) -> int:
        """Rows of the augmented real system: data, baseline penalty, amplitude priors."""
        return self.grid.n_rows() + self.n_prior

    def _proj(self, v: NDArray) -> NDArray:
        q = self.Q
        if q.shape[1] == 0:
            return v
        return v - q @ (q.T @ v)

    def columns(self, theta: NDArray) -> None:
        """Broadened basis (time domain and window spectra) for the group parameters of *theta*.

        When only some groups' parameters changed since the last call (the lipid-lineshape refits
        hold the metabolites), only their components are recomputed."""
        key = np.array(theta[2:], dtype=float).tobytes()
        if self._cols_theta is not None and key == self._cols_theta:
            return
        g = self.grid
        gp = np.array(theta[2:2 + 3 * g.n_groups], dtype=float).reshape(g.n_groups, 3)
        if self._cols_theta is not None:
            changed = np.flatnonzero(np.any(gp != self._group_params, axis=1))
            if 0 < changed.size < g.n_groups:
                self._env = g.envelopes(theta)
                rows = np.flatnonzero(np.isin(g.group_index, changed))
                new = g.window_fft(g.fids[rows] * self._env[g.group_index[rows]])
                n_w = new.shape[1]
                self.cols[rows] = new
                self.a_aug[:n_w, rows] = new.real.T
                self.a_aug[n_w:2 * n_w, rows] = new.imag.T
                self._group_params = gp
                self._cols_theta = key
                self._ap_lam = None
                self._red = None
                return
        self._env = g.envelopes(theta)                 # (G, N)
        if self._xbuf is None:
            self._xbuf = np.empty(g.fids.shape, dtype=np.complex128)
        x = g.broadened(theta, self._env, self._xbuf)  # (K, N), reused buffer
        self.cols = g.window_fft(x, overwrite=True)    # (K, n_w); the buffer now holds the FFT
        n_w = self.cols.shape[1]
        a_aug = np.empty((2 * n_w + self.n_extra, self.cols.shape[0]))   # (rows, K) real-stacked
        a_aug[:n_w] = self.cols.real.T
        a_aug[n_w:2 * n_w] = self.cols.imag.T
        a_aug[2 * n_w:] = 0.0
        if self.n_prior:
            a_aug[-self.n_prior:] = self.prior
        self.a_aug = a_aug
        self._group_params = gp
        self._cols_theta = key
        self._ap_lam = None
        self._red = None

    def _projected_columns(self) -> NDArray:
        if self._ap_lam != self.lam:
            self.a_p = self._proj(self.a_aug)
            self._ap_lam = self.lam
            self._red = None
            self._gram = None
        return self.a_p

    def _reduction(self) -> tuple | None:
        """Cholesky factor of the column-scaled Gram matrix of the projected columns (cached with
        them): NNLS on the K x K triangular system instead of the (rows x K) one gives the same
        amplitudes (``||A a - b||^2 = ||R a - R^-T A'b||^2 + const``) at a third of the cost.
        None where the columns are too ill-conditioned for the normal equations (then the full NNLS)."""
        if self._red is None:
            a_p = self._projected_columns()
            gram = a_p.T @ a_p
            self._gram = gram
            norms = np.sqrt(gram.diagonal())
            red: tuple | bool = False
            if a_p.shape[1] and norms.min() > 1e-300:
                inv = 1.0 / norms
                low, info = dpotrf(gram * inv[:, None] * inv[None, :], lower=1, clean=1, overwrite_a=1)
                if info == 0:
                    dg = low.diagonal()
                    lo_d, hi_d = float(dg.min()), float(dg.max())
                    if np.isfinite(hi_d) and lo_d > 1e-5 * hi_d:
                        red = (low, norms)
            self._red = (red,)
        return self._red[0] or None

    def linear_sd(self, weights: NDArray) -> float:
        """SD of ``weights @ amplitudes`` in units of the noise SD, from the linear part alone at the
        last evaluated theta: ``sqrt(w' (A' P A)^-1 w)`` over the active amplitudes (baseline
        projected out, non-linear parameters held); inf when that Gram matrix is singular."""
        act = self.amps > 0
        w = np.asarray(weights, dtype=float)[act]
        if not w.any():
            return 0.0
        self._reduction()                                  # caches the Gram matrix of the projected columns
        try:
            x = np.linalg.solve(self._gram[np.ix_(act, act)], w)
        except np.linalg.LinAlgError:
            return float("inf")
        return float(np.sqrt(max(float(w @ x), 0.0)))

    def _nnls(self, a_p: NDArray, b_p: NDArray) -> NDArray[np.float64]:
        """Non-negative amplitudes minimising ``||a_p a - b_p||``."""
        red = self._reduction()
        if red is None:
            return nnls(a_p, b_p, maxiter=50 * max(a_p.shape[1], 1))[0]
        low, norms = red
        c = _solve_lower(low, (a_p.T @ b_p) / norms)
        u = nnls(low.T, c, maxiter=50 * max(a_p.shape[1], 1))[0]
        return u / norms

    def evaluate(self, theta: NDArray) -> None:
        """Solve the linear sub-problem at *theta* (cached)."""
        theta = np.array(theta, dtype=float)
        key = theta.tobytes()
        if key == self._theta_key:
            return
        self.columns(theta)
        a_p = self._projected_columns()
        yphi = self.y * np.exp(-1j * self.grid.phase(theta))
        b_aug = _stack(yphi, self.n_extra)
        b_p = self._proj(b_aug)
        amps = self._nnls(a_p, b_p)
        self._theta_key = key
        self.yphi, self.b_aug, self.b_p = yphi, b_aug, b_p
        self.amps = amps
        self.r = b_p - a_p @ amps

    def phase_scan(self, theta: NDArray, phases: NDArray) -> NDArray[np.float64]:
        """Cost ``||r||^2`` for every zero-order phase in *phases* (other parameters from *theta*)."""
        self.columns(theta)
        a_p = self._projected_columns()
        g = self.grid
        y1 = self.y * np.exp(-1j * theta[1] * (g.ppm - g.pivot_ppm))
        b1 = self._proj(_stack(y1, self.n_extra))
        b2 = self._proj(_stack(-1j * y1, self.n_extra))
        out = np.empty(len(phases))
        red = self._reduction()
        if red is None:
            for i, phi in enumerate(phases):
                _, rn = nnls(a_p, np.cos(phi) * b1 + np.sin(phi) * b2, maxiter=50 * max(a_p.shape[1], 1))
                out[i] = rn ** 2
            return out
        # reduced problem: ||b - A a||^2 = ||b||^2 - ||c||^2 + ||R u - c||^2 with R'c = A'b; b and c
        # are linear in (cos phi, sin phi), so the first two terms are 2 x 2 quadratic forms
        low, norms = red
        bb = np.column_stack([b1, b2])
        c12 = _solve_lower(low, (a_p.T @ bb) / norms[:, None])
        form = bb.T @ bb - c12.T @ c12
        for i, phi in enumerate(phases):
            v = np.array([np.cos(phi), np.sin(phi)])
            _, rn = nnls(low.T, c12 @ v, maxiter=50 * max(a_p.shape[1], 1))
            out[i] = max(float(v @ form @ v), 0.0) + rn ** 2
        return out

    def residual(self, theta: NDArray) -> NDArray[np.float64]:
        self.evaluate(theta)
        return self.r

    def dmodel(self, theta: NDArray) -> NDArray[np.float64]:
        """d(b~ - A~ a)/d theta at fixed amplitudes, (rows, n_theta), unprojected."""
        self.evaluate(theta)
        g = self.grid
        n_g = g.n_groups
        n_w = g.n_window
        out = np.empty((self.n_rows, n_theta(n_g)))
        out[2 * n_w:] = 0.0
        out[:n_w, 0] = self.yphi.imag                  # -i y_phi, real-stacked
        out[n_w:2 * n_w, 0] = -self.yphi.real
        out[:2 * n_w, 1] = out[:2 * n_w, 0] * np.tile(g.ppm - g.pivot_ppm, 2)
        # sum over each group's components of a_k x_k = env_g * sum_k a_k fid_k
        sums = ((self._group_matrix * self.amps[None, :]) @ g.fids_real()).view(np.complex128)
        sums *= self._env                                                        # (G, N)
        if getattr(self, "_dbuf", None) is None:
            self._dbuf = np.empty((n_g, 2, sums.shape[1]), dtype=np.complex128)
        np.multiply(sums[:, None, :], g.tpowers()[None], out=self._dbuf)
        f = g.window_fft(self._dbuf, overwrite=True)                             # (G, 2, n_w)
        # -d/d(shift, Lorentz, Gauss^2) = (-2 pi i, pi, GAUSS_C) x (F[t s], F[t s], F[t^2 s])
        # (columns 2 + 3 g + j: shift, Lorentz, Gauss of group g; rows: real parts, then imaginary)
        re, im = slice(0, n_w), slice(n_w, 2 * n_w)
        out[re, 2::3], out[im, 2::3] = 2.0 * np.pi * f[:, 0].imag.T, -2.0 * np.pi * f[:, 0].real.T
        out[re, 3::3], out[im, 3::3] = np.pi * f[:, 0].real.T, np.pi * f[:, 0].imag.T
        out[re, 4::3], out[im, 4::3] = GAUSS_C * f[:, 1].real.T, GAUSS_C * f[:, 1].imag.T
        return out

    def jacobian(self, theta: NDArray) -> NDArray[np.float64]:
        """Kaufman's variable-projection Jacobian of :meth:`residual`."""
        dm = self._proj(self.dmodel(theta))
        free = self.amps > 0
        if np.any(free):
            self._reduction()                              # caches the Gram matrix of the projected columns
            a_p, gram = self.a_p, self._gram[np.ix_(free, free)]
            c, info = dpotrf(gram, lower=1, clean=1, overwrite_a=0)
            if info == 0:
                zf, info = dpotrs(c, (a_p.T @ dm)[free], lower=1)
            if info != 0:
                zf = np.linalg.lstsq(a_p[:, free], dm, rcond=None)[0]
            z = np.zeros((a_p.shape[1], dm.shape[1]))
            z[free] = zf
            dm = dm - a_p @ z
        return dm

    def baseline_coefficients(self) -> NDArray[np.float64]:
        """Baseline coefficients (2m,) at the last evaluated theta."""
        q, r = self.grid.qr(self.lam)
        if q.shape[1] == 0:
            return np.zeros(0)
        rhs = (self.b_aug - self.a_aug @ self.amps)[:q.shape[0]]
        return solve_triangular(r, q.T @ rhs)

    def full_jacobian(self, theta: NDArray, free_theta: NDArray[np.bool_]) -> NDArray[np.float64]:
        """Jacobian of the augmented residual w.r.t. (free theta, all amplitudes, baseline), data + penalty rows."""
        dm = self.dmodel(theta)[:, free_theta]
        blk = self.grid.baseline_block(self.lam)
        if self.n_prior:
            blk = np.vstack([blk, np.zeros((self.n_prior, blk.shape[1]))])
        return np.hstack([dm, -self.a_aug, -blk])
