"""``pmlmrs basis simulate``: simulate a 1H basis set with ideal pulses and write it as a basis folder.

::

    pmlmrs basis simulate --sequence press|steam|slaser|fid --te MS [--te1 MS] [--te2 MS] [--tm MS]
                          --frequency MHZ --points N --spectral-width HZ -o BASISDIR
                          [--metabolites NAA,Cr,...] [--linewidth HZ] [--format npz|fsl] [--force]

The folder is written with :func:`pmlmrs.basis.save_basis` (``basis.npz`` + ``basis.json``, default) or as an
FSL-MRS JSON folder (``--format fsl``); :func:`pmlmrs.basis.load_basis` reads either back.
"""

from __future__ import annotations

import math
from pathlib import Path

import typer

from pmlmrs.cli._common import app, bad_usage, check_choice, console, handle_errors
from pmlmrs.errors import ConfigError, WriteError

__all__ = ["basis_app", "simulate"]

basis_app = typer.Typer(name="basis", help="Basis sets: simulate them.", no_args_is_help=True,
                        add_completion=False, pretty_exceptions_enable=False)
app.add_typer(basis_app, name="basis")


def _ms(value: float | None, what: str) -> float | None:
    """*value* ms in s; bad usage (exit 2) unless it is a plausible time, 0 to 1000 ms."""
    if value is None:
        return None
    if not (math.isfinite(value) and 0 <= value < 1000):
        raise bad_usage(f"--{what}", f"must be 0 to 1000 ms, got {value:g}")
    return value * 1e-3


@basis_app.command("simulate")
@handle_errors
def simulate(
    sequence: str = typer.Option(..., "--sequence", "-s", help="press, steam, slaser or fid (pulse-acquire)."),
    te: float = typer.Option(..., "--te", help="Echo time, ms (0 for fid)."),
    te1: float | None = typer.Option(None, "--te1", help="PRESS first echo time, ms (default TE/2)."),
    te2: float | None = typer.Option(None, "--te2", help="PRESS second echo time, ms (default TE - TE1)."),
    tm: float | None = typer.Option(None, "--tm", help="STEAM mixing time, ms (default 10)."),
    frequency: float = typer.Option(..., "--frequency", "-f", help="Spectrometer frequency, MHz (e.g. 123.2)."),
    points: int = typer.Option(..., "--points", "-n", help="Points per FID."),
    spectral_width: float = typer.Option(..., "--spectral-width", "-w", help="Spectral width, Hz."),
    output: Path = typer.Option(..., "--output", "-o", help="Basis folder to write."),
    metabolites: str | None = typer.Option(None, "--metabolites", "-m",
                                           help="Comma-separated LCModel names (default: all known)."),
    linewidth: float = typer.Option(1.0, "--linewidth", help="Lorentzian line width applied to every FID, Hz."),
    fmt: str = typer.Option("npz", "--format", help="npz (basis.npz + basis.json) or fsl (FSL-MRS JSON)."),
    force: bool = typer.Option(False, "--force", help="Write into an existing, non-empty folder."),
) -> None:
    """Simulate a metabolite basis set (density matrix, ideal pulses) and write BASISDIR."""
    from pmlmrs.basis import save_basis, write_fsl_basis
    from pmlmrs.basis.simulate import simulate_basis

    from pmlmrs.basis.simulate import SEQUENCES

    check_choice("--sequence", sequence.lower(), SEQUENCES)
    fmt = fmt.lower()
    check_choice("--format", fmt, ("npz", "fsl"))
    out = Path(output)
    if out.exists() and not force and (not out.is_dir() or any(out.iterdir())):
        raise WriteError("exists; pass --force to write into it", out)
    if out.exists() and not out.is_dir():
        raise WriteError("exists and is not a folder", out)
    names = None
    if metabolites is not None:
        names = [m.strip() for m in metabolites.split(",") if m.strip()]
        if not names:
            raise ConfigError("--metabolites lists no names")
    basis = simulate_basis(sequence.lower(), _ms(te, "te") or 0.0, te1=_ms(te1, "te1"), te2=_ms(te2, "te2"),
                           tm=_ms(tm, "tm"), spectrometer_frequency=frequency, n_points=points,
                           spectral_width=spectral_width, metabolites=names, linewidth_hz=linewidth)
    try:
        if fmt == "npz":
            save_basis(basis, out, force=True)
        else:
            write_fsl_basis(basis, out, force=True, width_hz=linewidth)
    except OSError as exc:
        raise WriteError(f"cannot write the basis: {exc.strerror or exc}", out) from exc
    meta = basis.meta
    timing = f"TE {meta['echo_time_ms']:g} ms"
    if "te1_ms" in meta:
        timing += f" (TE1 {meta['te1_ms']:g}, TE2 {meta['te2_ms']:g})"
    if "tm_ms" in meta:
        timing += f", TM {meta['tm_ms']:g} ms"
    console.print(f"wrote {len(basis)} metabolites ({meta['sequence']}, {timing}, "
                  f"{basis.spectrometer_frequency:g} MHz, {basis.n_points} points, {basis.spectral_width:g} Hz) "
                  f"to {out}",
                  markup=False, highlight=False, soft_wrap=True)
