"""Run every ``benchmarks/bench_*.py`` and write ``OUT/results.md`` and ``OUT/results.tsv`` (``make bench``).

Usage::

    .venv/bin/python benchmarks/run_all.py --out bench_out [--full] [--only fit preprocess]

Contract for a benchmark module ``benchmarks/bench_<name>.py``: a function ``run(full: bool = False)``
returning a list of row dicts with the keys

``case`` (what was run, e.g. "numpy, 1 thread"), ``metric`` (what was measured), ``value`` (float),
``unit`` (str), and optionally ``target`` (str such as "<= 25"), ``ok`` (bool or None: target met),
``n`` (items measured) and ``notes`` (str).

The runner adds ``benchmark`` (the module's ``<name>``). The default run must stay short (the whole
``make bench`` under 3 minutes on 2 cores); ``--full`` asks for the bigger runs. A module that raises
gets one row with the error and the others still run.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import os
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
COLUMNS = ("benchmark", "case", "metric", "value", "unit", "target", "ok", "n", "notes")


def discover(only: list[str] | None = None) -> list[Path]:
    """The bench modules, sorted by name (optionally only those named)."""
    mods = sorted(HERE.glob("bench_*.py"))
    if only:
        mods = [m for m in mods if m.stem.removeprefix("bench_") in only]
    return mods


def _load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"pmlmrs_bench_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(HERE))
    try:
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(HERE))
    return mod


def run_module(path: Path, full: bool) -> list[dict[str, Any]]:
    """Run one module; errors become a row."""
    name = path.stem.removeprefix("bench_")
    t0 = time.perf_counter()
    try:
        rows = list(_load(path).run(full=full))
    except Exception as exc:  # noqa: BLE001 - one failing benchmark must not hide the others
        traceback.print_exc()
        rows = [{"case": "-", "metric": "error", "value": float("nan"), "unit": "",
                 "notes": f"{type(exc).__name__}: {exc}"}]
    for r in rows:
        r["benchmark"] = name
    print(f"bench_{name}: {len(rows)} rows in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return rows


def machine_info() -> dict[str, str]:
    """Where the numbers were measured."""
    info = {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": str(os.cpu_count()),
    }
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    for pkg in ("numpy", "scipy", "jax", "pmlmrs"):
        try:
            from importlib.metadata import version

            info[pkg] = version(pkg)
        except Exception:  # noqa: BLE001
            info[pkg] = "not installed"
    return info


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "NO"
    if isinstance(v, float):
        if v != v:
            return "n/a"
        return f"{v:.4g}"
    return str(v).replace("|", "/").replace("\t", " ").replace("\n", " ")


def write_results(rows: list[dict[str, Any]], out: Path, info: dict[str, str], full: bool,
                  seconds: float) -> tuple[Path, Path]:
    """results.tsv (all columns) and results.md (one table)."""
    out.mkdir(parents=True, exist_ok=True)
    tsv = out / "results.tsv"
    tsv.write_text("\n".join(["\t".join(COLUMNS)] + ["\t".join(_cell(r.get(c)) for c in COLUMNS) for r in rows]) + "\n")
    md = out / "results.md"
    lines = ["# pmlmrs benchmarks", "",
             f"Run {'full' if full else 'default (short)'} in {seconds:.0f} s; " + ", ".join(f"{k} {v}" for k, v in info.items()),
             "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_cell(r.get(c)) for c in COLUMNS) + " |" for r in rows]
    md.write_text("\n".join(lines) + "\n")
    return tsv, md


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Run the pmlmrs benchmarks.")
    ap.add_argument("--out", type=Path, default=Path("bench_out"))
    ap.add_argument("--full", action="store_true", help="bigger runs (e.g. a real batch of 1000 spectra)")
    ap.add_argument("--only", nargs="*", default=None, help="benchmark names (bench_<name>.py)")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    rows: list[dict[str, Any]] = []
    mods = discover(a.only)
    if not mods:
        print("no benchmark modules found", file=sys.stderr)
        return 1
    for path in mods:
        rows += run_module(path, a.full)
    tsv, md = write_results(rows, a.out, machine_info(), a.full, time.perf_counter() - t0)
    print(md.read_text())
    print(f"wrote {md} and {tsv}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
