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

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import nnls

__all__ = ["Grid", "Problem", "GAUSS_C", "n_theta"]

GAUSS_C = np.pi ** 2 / (4.0 * np.log(2.0))


def n_theta(n_groups: int) -> int:
    """Length of the internal parameter vector."""
    return 2 + 3 * n_groups


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
        """``S~`` (2 n_w + 2 p, 2 m): the baseline columns of the augmented real system."""
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
        with *rows*, only the diagonal of the smoother on those window rows is summed."""
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
    def envelopes(self, theta: NDArray) -> NDArray[np.complex128]:
        """(G, N) time-domain modulation of every group."""
        g = self.n_groups
        p = np.asarray(theta[2:2 + 3 * g]).reshape(g, 3)
        t = self.t
        expo = (2j * np.pi * p[:, 0:1] - np.pi * p[:, 1:2]) * t - GAUSS_C * p[:, 2:3] * t ** 2
        return np.exp(expo)

    def broadened(self, theta: NDArray) -> NDArray[np.complex128]:
        """(K, N) broadened and shifted basis FIDs."""
        return self.fids * self.envelopes(theta)[self.group_index]

    def window_fft(self, x: NDArray[np.complex128]) -> NDArray[np.complex128]:
        """fftshift(fft(x)) restricted to the window, last axis."""
        return np.fft.fft(x, axis=-1)[..., self.idx]

    def phase(self, theta: NDArray) -> NDArray[np.float64]:
        """(n_w,) phase (rad) applied to the model (removed from the data)."""
        return theta[0] + theta[1] * (self.ppm - self.pivot_ppm)


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
        self._theta = None
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
        self._theta = None

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
        """Broadened basis (time domain and window spectra) for the group parameters of *theta*."""
        key = np.array(theta[2:], dtype=float)
        if self._cols_theta is not None and np.array_equal(key, self._cols_theta):
            return
        g = self.grid
        self.x = g.broadened(theta)                    # (K, N)
        self.cols = g.window_fft(self.x)               # (K, n_w)
        a_aug = _stack(self.cols.T, self.n_extra)      # (rows, K)
        if self.n_prior:
            a_aug[-self.n_prior:] = self.prior
        self.a_aug = a_aug
        self._cols_theta = key
        self._ap_lam = None

    def _projected_columns(self) -> NDArray:
        if self._ap_lam != self.lam:
            self.a_p = self._proj(self.a_aug)
            self._ap_lam = self.lam
        return self.a_p

    def evaluate(self, theta: NDArray) -> None:
        """Solve the linear sub-problem at *theta* (cached)."""
        theta = np.array(theta, dtype=float)
        if self._theta is not None and np.array_equal(theta, self._theta):
            return
        self.columns(theta)
        a_p = self._projected_columns()
        yphi = self.y * np.exp(-1j * self.grid.phase(theta))
        b_aug = _stack(yphi, self.n_extra)
        b_p = self._proj(b_aug)
        amps, _ = nnls(a_p, b_p, maxiter=50 * max(a_p.shape[1], 1))
        self._theta = theta
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
        for i, phi in enumerate(phases):
            b = np.cos(phi) * b1 + np.sin(phi) * b2
            _, rn = nnls(a_p, b, maxiter=50 * max(a_p.shape[1], 1))
            out[i] = rn ** 2
        return out

    def residual(self, theta: NDArray) -> NDArray[np.float64]:
        self.evaluate(theta)
        return self.r

    def dmodel(self, theta: NDArray) -> NDArray[np.float64]:
        """d(b~ - A~ a)/d theta at fixed amplitudes, (rows, n_theta), unprojected."""
        self.evaluate(theta)
        g = self.grid
        n_g = g.n_groups
        out = np.zeros((self.n_rows, n_theta(n_g)))
        dy = -1j * self.yphi
        out[:, 0] = _stack(dy, self.n_extra)
        out[:, 1] = _stack(dy * (g.ppm - g.pivot_ppm), self.n_extra)
        sums = (self._group_matrix * self.amps[None, :]) @ self.x        # (G, N)
        t = g.t
        weights = np.stack([2j * np.pi * t, -np.pi * t, -GAUSS_C * t ** 2])   # (3, N)
        d = g.window_fft(sums[:, None, :] * weights[None])                      # (G, 3, n_w)
        d = d.reshape(3 * n_g, -1).T                                            # (n_w, 3G)
        out[:, 2:] = -_stack(d, self.n_extra)
        return out

    def jacobian(self, theta: NDArray) -> NDArray[np.float64]:
        """Kaufman's variable-projection Jacobian of :meth:`residual`."""
        dm = self._proj(self.dmodel(theta))
        free = self.amps > 0
        if np.any(free):
            af = self.a_p[:, free]
            gram = af.T @ af
            try:
                c = np.linalg.cholesky(gram)
                z = np.linalg.solve(c.T, np.linalg.solve(c, af.T @ dm))
            except np.linalg.LinAlgError:
                z = np.linalg.lstsq(af, dm, rcond=None)[0]
            dm = dm - af @ z
        return dm

    def baseline_coefficients(self) -> NDArray[np.float64]:
        """Baseline coefficients (2m,) at the last evaluated theta."""
        q, r = self.grid.qr(self.lam)
        if q.shape[1] == 0:
            return np.zeros(0)
        rhs = (self.b_aug - self.a_aug @ self.amps)[:q.shape[0]]
        from scipy.linalg import solve_triangular

        return solve_triangular(r, q.T @ rhs)

    def full_jacobian(self, theta: NDArray, free_theta: NDArray[np.bool_]) -> NDArray[np.float64]:
        """Jacobian of the augmented residual w.r.t. (free theta, all amplitudes, baseline), data + penalty rows."""
        dm = self.dmodel(theta)[:, free_theta]
        blk = self.grid.baseline_block(self.lam)
        if self.n_prior:
            blk = np.vstack([blk, np.zeros((self.n_prior, blk.shape[1]))])
        return np.hstack([dm, -self.a_aug, -blk])
