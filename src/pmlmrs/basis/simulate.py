"""Density-matrix simulation of 1H metabolite basis sets (PRESS, STEAM, semi-LASER, pulse-acquire).

Method
------
Every metabolite of :mod:`pmlmrs.basis.spin_systems` is a set of mutually uncoupled spin groups; each
group is simulated exactly in Hilbert space and the group signals are added (exact, as uncoupled groups
evolve independently). The largest group is glucose with 7 coupled spins (128 states), so no further
fragmentation is needed: a whole basis takes well under a second.

For one group of ``n`` spins (product basis of ``Iz`` eigenstates, ``2**n`` states):

- Hamiltonian (rad/s), in the frame of the receiver at ``ppm_reference``::

      H = sum_k 2 pi nu_k Iz_k + sum_{k<l, both 1H} 2 pi J_kl (Ix_k Ix_l + Iy_k Iy_l + Iz_k Iz_l)
                              + sum_{1H k, 31P l} 2 pi J_kl Iz_k Iz_l

  with ``nu_k = (ppm_k - ppm_reference) * spectrometer_frequency`` Hz: the full (strong-coupling)
  J Hamiltonian between protons, the secular term to 31P.
- Free precession ``rho -> U rho U^H`` with ``U = V exp(-i E tau) V^H`` from one eigendecomposition of
  ``H``. Pulses are ideal (instantaneous, uniform) rotations ``exp(-i theta (cos phi Fx + sin phi Fy))``
  acting on the protons only.
- Coherence selection as crusher gradients do it: after every pulse only the elements of the wanted
  1H coherence order ``p = m_row - m_col`` are kept (the pathway that the gradient pairs refocus).
  PRESS: -1, +1, -1; semi-LASER: -1, +1, -1, +1, -1; STEAM: +1, 0, -1 (zero-quantum coherences
  survive the TM crusher, as they do in a real STEAM); pulse-acquire: -1.
- Acquisition starts at the echo top (``t = 0`` at TE). The signal ``s(t) = Tr(rho(t) F+)`` is written as a
  sum of exactly computed lines (eigenvalue differences), so no time stepping error and no dependence on
  the dwell time. This is the pmlmrs Spectrum convention: ``exp(+2 pi i nu t)`` with ``nu > 0`` at a
  higher chemical shift.

Sequences and timing (ideal pulses, so only the delays matter):

``press``  90 - TE1/2 - 180 - (TE1+TE2)/2 - 180 - TE2/2 - acquire (TE1 = TE2 = TE/2 unless given).
``slaser`` 90 - TE/8 - 180 - TE/4 - 180 - TE/4 - 180 - TE/4 - 180 - TE/8 - acquire (four equally spaced
           refocusing pulses; a CPMG train, which is what semi-LASER is with ideal pulses).
``steam``  90 - TE/2 - 90 - TM - 90 - TE/2 - acquire.
``fid``    90 - acquire (TE = 0).

Scaling (the LCModel / ISMRM-challenge convention): a metabolite at concentration 1 gives an FID whose
first point (before T2 decay) is the number of its protons, so an uncoupled 1-proton singlet has FID
amplitude 1 at t = 0 and spectral area 1 (``sum(spectrum) = n_points * fid[0]``); the Cr basis FID starts
at 5 (CH3 + CH2). The first point is *not* halved. The STEAM stimulated echo carries half the
magnetisation; it is multiplied by 2 so that a singlet has the same area in every sequence. The scale is
applied as the inverse of the simulated signal of a 1-proton singlet at the receiver frequency through the
same sequence (1 for PRESS, semi-LASER and pulse-acquire, 1/2 for STEAM).

Each FID is multiplied by ``exp(-pi * linewidth_hz * t)`` (a Lorentzian of FWHM ``linewidth_hz``), so the
spectra are finite.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from pmlmrs._logging import logger
from pmlmrs.basis.basis import Basis
from pmlmrs.basis.spin_systems import METABOLITES, Metabolite, SpinGroup, get_metabolite
from pmlmrs.errors import ConfigError, check_option

__all__ = [
    "SEQUENCES",
    "PulseStep",
    "sequence_steps",
    "simulate_group",
    "simulate_metabolite",
    "simulate_basis",
]

SEQUENCES = ("press", "steam", "slaser", "fid")
_TWO_PI = 2.0 * np.pi
_DEFAULT_TM = 0.010  # s, STEAM mixing time when none is given


@dataclass(frozen=True)
class PulseStep:
    """One step of an ideal-pulse sequence.

    ``kind`` is ``"pulse"`` (``angle`` and ``phase`` in degrees, ``keep`` the 1H coherence orders kept
    after it) or ``"delay"`` (``duration`` in s).
    """

    kind: str
    angle: float = 0.0
    phase: float = 0.0
    keep: tuple[int, ...] = ()
    duration: float = 0.0


def _pulse(angle: float, phase: float, keep: tuple[int, ...]) -> PulseStep:
    return PulseStep("pulse", angle=angle, phase=phase, keep=keep)


def _delay(duration: float) -> PulseStep:
    return PulseStep("delay", duration=duration)


def _resolve_timing(sequence: str, te: float, te1: float | None, te2: float | None,
                    tm: float | None) -> dict[str, float]:
    """TE, TE1, TE2 (PRESS) and TM (STEAM) in s, validated."""
    seq = check_option("sequence", str(sequence).lower(), SEQUENCES)
    te = float(te)
    if not np.isfinite(te) or te < 0:
        raise ConfigError(f"echo time must be a non-negative number of seconds, got {te!r}")
    if te >= 1.0:
        raise ConfigError(f"echo time {te:g} s is not plausible; give seconds (30 ms = 0.030)")
    if seq == "fid":
        if te != 0.0:
            raise ConfigError(f"pulse-acquire ('fid') has no echo time; got TE = {te * 1e3:g} ms (use 0)")
        return {"te": 0.0}
    if te <= 0:
        raise ConfigError(f"{seq}: echo time must be positive, got {te * 1e3:g} ms")
    out = {"te": te}
    if seq == "press":
        if te1 is None and te2 is None:
            te1 = te2 = te / 2.0
        elif te1 is None:
            te1 = te - float(te2)  # type: ignore[arg-type]
        elif te2 is None:
            te2 = te - float(te1)
        te1, te2 = float(te1), float(te2)
        if te1 < 0 or te2 < 0 or abs(te1 + te2 - te) > 1e-9:
            raise ConfigError(f"PRESS needs TE1 + TE2 = TE with both non-negative; got TE1 = {te1 * 1e3:g} ms, "
                              f"TE2 = {te2 * 1e3:g} ms, TE = {te * 1e3:g} ms")
        out.update(te1=te1, te2=te2)
    elif te1 is not None or te2 is not None:
        raise ConfigError(f"TE1/TE2 apply to PRESS only, not to {seq}")
    if seq == "steam":
        tm = _DEFAULT_TM if tm is None else float(tm)
        if not np.isfinite(tm) or tm < 0 or tm >= 1.0:
            raise ConfigError(f"STEAM mixing time must be between 0 and 1 s, got {tm!r}")
        out["tm"] = tm
    elif tm is not None:
        raise ConfigError(f"TM applies to STEAM only, not to {seq}")
    return out


def sequence_steps(sequence: str, te: float, *, te1: float | None = None, te2: float | None = None,
                   tm: float | None = None) -> list[PulseStep]:
    """The ideal-pulse steps of a sequence (times in s), ending at the echo top.

    Raises
    ------
    ConfigError
        Unknown sequence or inconsistent timing.
    """
    seq = str(sequence).lower()
    t = _resolve_timing(seq, te, te1, te2, tm)
    if seq == "fid":
        return [_pulse(90.0, 90.0, (-1,))]
    if seq == "press":
        a, b = t["te1"], t["te2"]
        return [_pulse(90.0, 90.0, (-1,)), _delay(a / 2), _pulse(180.0, 0.0, (1,)), _delay(a / 2 + b / 2),
                _pulse(180.0, 0.0, (-1,)), _delay(b / 2)]
    if seq == "slaser":
        te_ = t["te"]
        steps = [_pulse(90.0, 90.0, (-1,)), _delay(te_ / 8)]
        for i in range(4):
            steps.append(_pulse(180.0, 0.0, (1,) if i % 2 == 0 else (-1,)))
            steps.append(_delay(te_ / 4 if i < 3 else te_ / 8))
        return steps
    # steam
    te_ = t["te"]
    return [_pulse(90.0, 90.0, (1,)), _delay(te_ / 2), _pulse(90.0, 0.0, (0,)), _delay(t["tm"]),
            _pulse(90.0, 0.0, (-1,)), _delay(te_ / 2)]


# ----------------------------------------------------------------------------------------------
# spin operators
# ----------------------------------------------------------------------------------------------

_SX = np.array([[0, 0.5], [0.5, 0]], dtype=np.complex128)
_SY = np.array([[0, -0.5j], [0.5j, 0]], dtype=np.complex128)
_SZ = np.array([[0.5, 0], [0, -0.5]], dtype=np.complex128)
_E2 = np.eye(2, dtype=np.complex128)
_SP = np.array([[0, 1], [0, 0]], dtype=np.complex128)   # I+ = Ix + i Iy
_SM = np.array([[0, 0], [1, 0]], dtype=np.complex128)   # I- = Ix - i Iy


def _embed(op: NDArray, k: int, n: int) -> NDArray:
    out = np.ones((1, 1), dtype=np.complex128)
    for i in range(n):
        out = np.kron(out, op if i == k else _E2)
    return out


@lru_cache(maxsize=64)
def _operators(n: int) -> tuple[tuple[NDArray, ...], tuple[NDArray, ...], tuple[NDArray, ...], NDArray]:
    """Ix, Iy, Iz of each of n spins and the m_z of each product state per spin ``(n, 2**n)``."""
    ix = tuple(_embed(_SX, k, n) for k in range(n))
    iy = tuple(_embed(_SY, k, n) for k in range(n))
    iz = tuple(_embed(_SZ, k, n) for k in range(n))
    mz = np.array([np.real(np.diag(z)) for z in iz])
    for arr in (*ix, *iy, *iz, mz):
        arr.flags.writeable = False
    return ix, iy, iz, mz


def _pair(op_i: NDArray, i: int, op_j: NDArray, j: int, n: int) -> NDArray:
    out = np.ones((1, 1), dtype=np.complex128)
    for k in range(n):
        out = np.kron(out, op_i if k == i else (op_j if k == j else _E2))
    return out


def _hamiltonian(group: SpinGroup, spectrometer_frequency: float, ppm_reference: float) -> NDArray:
    n = group.n_spins
    _, _, _, mz = _operators(n)
    nuc = group.nuclei
    diag = np.zeros(2 ** n)
    for k, ppm in enumerate(group.shifts):
        if nuc[k] == "1H":  # type: ignore[index]
            diag += _TWO_PI * (ppm - ppm_reference) * spectrometer_frequency * mz[k]
    h = np.zeros((2 ** n, 2 ** n), dtype=np.complex128)
    for i, j, jhz in group.couplings:
        diag += _TWO_PI * jhz * mz[i] * mz[j]
        if nuc[i] == "1H" and nuc[j] == "1H":  # type: ignore[index]
            # Ix Ix + Iy Iy = (I+ I- + I- I+) / 2
            h += _TWO_PI * jhz * 0.5 * (_pair(_SP, i, _SM, j, n) + _pair(_SM, i, _SP, j, n))
    h[np.diag_indices_from(h)] += diag
    return h


def _rotation(group: SpinGroup, angle_deg: float, phase_deg: float) -> NDArray:
    th, ph = np.deg2rad(angle_deg), np.deg2rad(phase_deg)
    r1 = np.cos(th / 2) * _E2 - 2j * np.sin(th / 2) * (np.cos(ph) * _SX + np.sin(ph) * _SY)
    out = np.ones((1, 1), dtype=np.complex128)
    for nuc in group.nuclei:  # type: ignore[union-attr]
        out = np.kron(out, r1 if nuc == "1H" else _E2)
    return out


def _block_eigh(h: NDArray, m_h: NDArray, m_x: NDArray | None) -> tuple[NDArray, NDArray]:
    """Eigen-decomposition of *h* block by block: it conserves the total 1H (and 31P) Iz."""
    key = np.rint(2 * m_h).astype(int) * 1000 + (0 if m_x is None else np.rint(2 * m_x).astype(int))
    dim = h.shape[0]
    energies = np.zeros(dim)
    vecs = np.zeros((dim, dim), dtype=np.complex128)
    for k in np.unique(key):
        idx = np.flatnonzero(key == k)
        e, v = np.linalg.eigh(h[np.ix_(idx, idx)])
        energies[idx] = e
        vecs[np.ix_(idx, idx)] = v
    return energies, vecs


def simulate_group(group: SpinGroup, steps: Sequence[PulseStep], *, spectrometer_frequency: float,
                   ppm_reference: float = 4.65, threshold: float = 1e-9
                   ) -> tuple[NDArray[np.float64], NDArray[np.complex128]]:
    """Lines ``(frequencies Hz, complex amplitudes)`` of one spin group after *steps*.

    The signal is ``sum(amp * exp(2j pi freq t))`` for t >= 0 from the echo top, not yet multiplied by
    ``group.scale``; one uncoupled proton excited by a 90 degree pulse gives amplitude 1.
    """
    n = group.n_spins
    _, _, iz, mz = _operators(n)
    is_h = np.array([x == "1H" for x in group.nuclei])  # type: ignore[union-attr]
    m_h = mz[is_h].sum(axis=0)
    order = np.rint(m_h[:, None] - m_h[None, :]).astype(int)
    h = _hamiltonian(group, spectrometer_frequency, ppm_reference)
    energies, vecs = _block_eigh(h, m_h, mz[~is_h].sum(axis=0) if (~is_h).any() else None)
    rho = sum(iz[k] for k in range(n) if is_h[k]).astype(np.complex128)
    for step in steps:
        if step.kind == "pulse":
            r = _rotation(group, step.angle, step.phase)
            rho = r @ rho @ r.conj().T
            rho = np.where(np.isin(order, step.keep), rho, 0.0)
        elif step.duration > 0:
            u = (vecs * np.exp(-1j * energies * step.duration)) @ vecs.conj().T
            rho = u @ rho @ u.conj().T
    ix, iy, _, _ = _operators(n)
    f_plus = sum(ix[k] + 1j * iy[k] for k in range(n) if is_h[k])
    rho_e = vecs.conj().T @ rho @ vecs
    f_e = vecs.conj().T @ f_plus @ vecs
    amp = (rho_e * f_e.T) * (4.0 / 2 ** n)      # element (a, b): rho'_ab F'_ba
    freq = (energies[None, :] - energies[:, None]) / _TWO_PI   # (E_b - E_a) / 2 pi, Hz
    amp = amp.ravel()
    freq = freq.ravel()
    big = np.abs(amp) > threshold
    amp, freq = amp[big], freq[big]
    if amp.size:
        # merge degenerate lines (equivalent spins give many identical transitions)
        key = np.round(freq, 6)
        uniq, inv = np.unique(key, return_inverse=True)
        summed = np.zeros(uniq.size, dtype=np.complex128)
        np.add.at(summed, inv, amp)
        fsum = np.zeros(uniq.size)
        np.add.at(fsum, inv, freq)
        counts = np.bincount(inv)
        keep = np.abs(summed) > threshold
        return fsum[keep] / counts[keep], summed[keep]
    return freq, amp


def _lines_to_fid(freq: NDArray, amp: NDArray, n_points: int, dwell_time: float) -> NDArray[np.complex128]:
    """``sum_k amp_k exp(2 pi i freq_k t)`` on the grid, by the recurrence ``z_k^(n+1) = z_k^n z_k``.

    The phase factors are recomputed exactly every 256 points, so rounding errors cannot accumulate.
    """
    out = np.zeros(n_points, dtype=np.complex128)
    if freq.size == 0:
        return out
    z = np.exp(_TWO_PI * 1j * freq * dwell_time)
    for start in range(0, n_points, 256):
        stop = min(start + 256, n_points)
        v = amp * np.exp(_TWO_PI * 1j * freq * dwell_time * start)
        for i in range(start, stop):
            out[i] = v.sum()
            v *= z
    return out


def _sequence_scale(steps: Sequence[PulseStep], spectrometer_frequency: float, ppm_reference: float) -> complex:
    """Signal of one uncoupled proton on resonance through *steps* (1 for echoes, 1/2 for STEAM)."""
    probe = SpinGroup((ppm_reference,), label="probe")
    _, amp = simulate_group(probe, steps, spectrometer_frequency=spectrometer_frequency,
                            ppm_reference=ppm_reference)
    total = complex(np.sum(amp))
    if abs(total) < 1e-6:  # pragma: no cover - every supported sequence refocuses a singlet
        raise ConfigError("the sequence refocuses no signal from a singlet")
    return total


def simulate_metabolite(metabolite: str | Metabolite, steps: Sequence[PulseStep], *, spectrometer_frequency: float,
                        n_points: int, dwell_time: float, ppm_reference: float = 4.65,
                        linewidth_hz: float = 1.0, scale: complex | None = None) -> NDArray[np.complex128]:
    """FID ``(n_points,)`` of one metabolite at concentration 1 (see the module notes for the scaling)."""
    met = get_metabolite(metabolite) if isinstance(metabolite, str) else metabolite
    if scale is None:
        scale = _sequence_scale(steps, spectrometer_frequency, ppm_reference)
    freqs, amps = [], []
    for g in met.groups:
        f, a = simulate_group(g, steps, spectrometer_frequency=spectrometer_frequency, ppm_reference=ppm_reference)
        freqs.append(f)
        amps.append(a * g.scale)
    fid = _lines_to_fid(np.concatenate(freqs), np.concatenate(amps), n_points, dwell_time) / scale
    t = np.arange(n_points) * dwell_time
    return fid * np.exp(-np.pi * linewidth_hz * t)


def simulate_basis(sequence: str, te: float, *, te1: float | None = None, te2: float | None = None,
                   tm: float | None = None, spectrometer_frequency: float, n_points: int, spectral_width: float,
                   metabolites: Sequence[str] | None = None, linewidth_hz: float = 1.0,
                   ppm_reference: float = 4.65) -> Basis:
    """Simulate a 1H basis set with ideal pulses.

    Parameters
    ----------
    sequence : {"press", "steam", "slaser", "fid"}
    te : float
        Echo time, s (0 for ``fid``).
    te1, te2 : float, optional
        PRESS first and second echo times, s (default TE/2 each; one of them fixes the other).
    tm : float, optional
        STEAM mixing time, s (default 10 ms).
    spectrometer_frequency : float
        MHz (123.2 at 2.89 T, 127.7 at 3 T Siemens, ...).
    n_points : int
        Points per FID.
    spectral_width : float
        Hz; the dwell time is its inverse.
    metabolites : sequence of str, optional
        LCModel names (aliases accepted); default every metabolite of
        :data:`pmlmrs.basis.spin_systems.METABOLITES`.
    linewidth_hz : float
        Lorentzian FWHM (Hz) applied to every FID (> 0 keeps the spectra finite; default 1 Hz).
    ppm_reference : float
        Chemical shift at the receiver frequency (4.65 ppm).

    Returns
    -------
    Basis
        FIDs in the pmlmrs Spectrum convention from the echo top; ``echo_time`` in s; ``meta`` with
        ``sequence``, ``te1_ms``/``te2_ms``/``tm_ms`` where they apply, ``echo_time_ms``, ``linewidth_hz``,
        ``pulses`` ("ideal"), ``scaling`` and ``source`` ("pmlmrs simulate v...").

    Raises
    ------
    ConfigError
        Unknown sequence, inconsistent timing, non-positive grid values.
    BasisError
        Unknown metabolite name.
    """
    from pmlmrs.core.provenance import software_version

    if not isinstance(n_points, (int, np.integer)) or isinstance(n_points, bool) or n_points < 2:
        raise ConfigError(f"n_points must be an integer >= 2, got {n_points!r}")
    for nm, v in (("spectrometer_frequency", spectrometer_frequency), ("spectral_width", spectral_width)):
        if not isinstance(v, (int, float, np.floating, np.integer)) or not np.isfinite(v) or v <= 0:
            raise ConfigError(f"{nm} must be a positive number, got {v!r}")
    if not np.isfinite(linewidth_hz) or linewidth_hz < 0:
        raise ConfigError(f"linewidth_hz must be >= 0, got {linewidth_hz!r}")
    seq = str(sequence).lower()
    timing = _resolve_timing(seq, te, te1, te2, tm)
    steps = sequence_steps(seq, te, te1=te1, te2=te2, tm=tm)
    names = sorted(METABOLITES) if metabolites is None else [get_metabolite(m).name for m in metabolites]
    if not names:
        raise ConfigError("no metabolites to simulate")
    if len(set(names)) != len(names):
        raise ConfigError(f"metabolites listed twice: {sorted({n for n in names if names.count(n) > 1})}")
    dwell = 1.0 / float(spectral_width)
    f0 = float(spectrometer_frequency)
    from threadpoolctl import threadpool_limits

    t0 = time.perf_counter()
    with threadpool_limits(limits=1):   # small matrices: threads only contend
        scale = _sequence_scale(steps, f0, ppm_reference)
        fids = np.array([simulate_metabolite(n, steps, spectrometer_frequency=f0, n_points=int(n_points),
                                             dwell_time=dwell, ppm_reference=ppm_reference,
                                             linewidth_hz=float(linewidth_hz), scale=scale) for n in names])
    elapsed = time.perf_counter() - t0
    label = {"press": "PRESS", "steam": "STEAM", "slaser": "sLASER", "fid": "FID"}[seq]
    version = software_version()
    meta: dict[str, object] = {
        "sequence": label,
        "echo_time_ms": timing["te"] * 1e3,
        "linewidth_hz": float(linewidth_hz),
        "pulses": "ideal (instantaneous)",
        "spin_systems": "Govindaraju et al. 2000 NMR Biomed 13:129 (+corrigendum); GABA Near et al. 2013",
        "scaling": "FID(0) = number of protons at concentration 1 (1-proton singlet area 1)",
        "source": f"pmlmrs simulate v{version}",
        "simulation_seconds": round(elapsed, 3),
    }
    if "te1" in timing:
        meta.update(te1_ms=timing["te1"] * 1e3, te2_ms=timing["te2"] * 1e3)
    if "tm" in timing:
        meta["tm_ms"] = timing["tm"] * 1e3
    logger.info("simulated %d metabolites (%s, TE %g ms) in %.2f s", len(names), label, timing["te"] * 1e3,
                elapsed)
    return Basis(names=tuple(names), fids=fids, dwell_time=dwell, spectrometer_frequency=f0,
                 echo_time=timing["te"], ppm_reference=float(ppm_reference),
                 nucleus="1H", source=f"pmlmrs simulate v{version}", meta=meta)
