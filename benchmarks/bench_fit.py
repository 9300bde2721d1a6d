"""Fitting benchmarks: single-core CPU time per spectrum, batch throughput, peak memory of a batch.

Data: the 28 ISMRM 2016 challenge spectra (2048 points, 4000 Hz, 123.2 MHz) with the challenge
basis (21 metabolites + measured macromolecules, plus the simulated lipids the fit adds); without
``../shared``, 28 synthetic spectra made from the bundled copy of that basis. Batches larger than 28
cycle through them (each a separate copy).

Every measurement runs in a fresh subprocess (so JAX compilation, thread settings and memory
high-water marks do not leak between cases):

- *CPU per spectrum*: ``time.process_time`` over ``fit_batch`` of the batch a second time, after a
  first pass that prepares the model and (JAX) compiles once per grid shape (timed and reported
  on its own), the process pinned to one core, BLAS limited to one thread (threadpoolctl), XLA to
  one thread. Target ≤ 25 ms.
- *throughput*: spectra per wall-clock second of the same batch; NumPy also with ``workers=2``.
- *outputs*: CPU time per spectrum of QC + the summary row, ``fit.json`` and ``report.html``.
- *memory*: peak of traced allocations (tracemalloc: NumPy arrays and Python objects) and the
  growth of the process's peak RSS during a batch, kept results included. Target ≤ 200 MB per 1000
  spectra. The default run measures a batch of 200 and scales to 1000 (marked "extrapolated");
  ``--full`` measures 1000 directly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHALLENGE = Path(os.environ.get("PMLMRS_SHARED", ROOT.parent / "shared")) / "data" / "ismrm2016_fitting_challenge"
READ = {"central_frequency": 123.2, "spectral_width": 4000.0, "echo_time": 30.0}
SINGLE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    "JAX_PLATFORMS": "cpu",
}


def _data(n: int) -> tuple[list[Any], Any, str]:
    from pmlmrs.basis import bundled_basis, load_basis

    if CHALLENGE.exists():
        from pmlmrs.io import load

        basis = load_basis(CHALLENGE / "basisset_LCModel" / "press3T_30ms.BASIS")
        base = [load(CHALLENGE / "datasets_LCModel" / f"dataset{i}.RAW", **READ) for i in range(1, 29)]
        source = "ISMRM 2016 challenge datasets 1-28"
    else:
        import numpy as np

        from pmlmrs.fit.synthetic import synthesize

        basis = bundled_basis()
        rng = np.random.default_rng(2016)
        amps = {"NAA": 10.0, "NAAG": 1.2, "Cr": 4.5, "PCr": 3.5, "GPC": 1.2, "PCho": 0.6, "Ins": 6.0,
                "Glu": 9.0, "Gln": 3.0, "GSH": 1.8, "Tau": 1.5, "Mac": 1.0}
        base = [synthesize(basis, amps, snr=40.0, rng=rng)[0] for _ in range(28)]
        source = "synthetic (bundled challenge basis; ../shared absent)"
    spectra = [base[i % len(base)].replace() for i in range(n)]
    return spectra, basis, source


def measure(backend: str, n: int, workers: int = 1, memory: bool = False) -> dict[str, Any]:
    """One measurement in this process (called in a subprocess by :func:`run`)."""
    import resource
    import time
    import tracemalloc

    if workers == 1 and hasattr(os, "sched_setaffinity"):
        # one core, before JAX starts: XLA sizes its CPU thread pool by the cores it may use, and on
        # more cores its idle workers spin, which process_time counts (JAX: 41 ms/spectrum unpinned
        # on 2 cores, 34 ms pinned, at the same wall time)
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    from threadpoolctl import threadpool_limits

    from pmlmrs.fit import FitOptions, fit_batch

    spectra, basis, source = _data(n)
    opts = FitOptions(backend=backend)
    with threadpool_limits(1):
        # first pass over the batch: model preparation and, with JAX, one compilation per grid shape
        # (the challenge's dataset 24 is refitted on a shorter window, a second shape); then the
        # measured pass, in the steady state a long batch reaches. For the memory case only the
        # first two spectra (a whole first pass would raise the RSS high-water mark beforehand)
        t0, w0 = time.process_time(), time.perf_counter()
        fit_batch(spectra[:2] if memory else spectra, basis, opts)
        warm_cpu, warm_wall = time.process_time() - t0, time.perf_counter() - w0
        if memory:
            rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            tracemalloc.start()
        t0, w0 = time.process_time(), time.perf_counter()
        results = fit_batch(spectra, basis, opts, workers=workers)
        cpu, wall = time.process_time() - t0, time.perf_counter() - w0
        out: dict[str, Any] = {}
        if memory:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            out.update(traced_peak_mb=peak / 2**20, rss_growth_mb=(rss1 - rss0) / 1024)
    failed = sum(isinstance(r, BaseException) for r in results)     # the first pass fits the same spectra
    n_names = next((len(r.names) for r in results if not isinstance(r, BaseException)), 0)
    out.update(backend=backend, n=n, workers=workers, cpu_s=cpu, wall_s=wall, warm_cpu_s=warm_cpu,
               warm_wall_s=warm_wall, failed=failed, source=source, n_points=spectra[0].n_points,
               n_basis=len(basis.names), n_components=n_names)
    return out


def measure_outputs(n: int) -> dict[str, Any]:
    """CPU time per spectrum of the outputs of ``pmlmrs fit``: QC + summary row, fit.json, report.html."""
    import tempfile
    import time

    from threadpoolctl import threadpool_limits

    from pmlmrs.fit import fit_batch
    from pmlmrs.qc import with_qc
    from pmlmrs.quant import summary_row, write_fit_json
    from pmlmrs.report.fit_report import write_fit_report

    spectra, basis, _ = _data(n)
    with threadpool_limits(1):
        results = [r for r in fit_batch(spectra, basis) if not isinstance(r, BaseException)]
        tmp = Path(tempfile.mkdtemp(prefix="pmlmrs_bench_"))
        write_fit_report(results[0], tmp / "warm.html")  # imports, font cache
        out: dict[str, Any] = {"n": len(results)}
        for key, func in (("qc_row_ms", lambda r, i: summary_row(with_qc(r), f"s{i}")),
                          ("fit_json_ms", lambda r, i: write_fit_json(r, tmp / f"{i}.json")),
                          ("report_ms", lambda r, i: write_fit_report(r, tmp / f"{i}.html"))):
            t0 = time.process_time()
            for i, r in enumerate(results):
                func(r, i)
            out[key] = 1e3 * (time.process_time() - t0) / len(results)
    return out


def _sub(backend: str, n: int, workers: int = 1, memory: bool = False, timeout: float = 900) -> dict[str, Any]:
    env = {**os.environ, **SINGLE_THREAD_ENV}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--measure", backend, str(n), str(workers),
           "1" if memory else "0"]
    if backend == "outputs":
        cmd = [sys.executable, str(Path(__file__).resolve()), "--outputs", str(n)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=str(ROOT))
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[2:])} failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _jax_available() -> bool:
    try:
        import importlib.util

        return importlib.util.find_spec("jax") is not None
    except Exception:  # noqa: BLE001
        return False


def run(full: bool = False) -> list[dict[str, Any]]:
    """The benchmark rows (see ``benchmarks/run_all.py`` for the row keys)."""
    rows: list[dict[str, Any]] = []
    backends = ["numpy"] + (["jax"] if _jax_available() else [])
    n_cpu = 112 if full else 28
    for backend in backends:
        m = _sub(backend, n_cpu)
        per = 1e3 * m["cpu_s"] / m["n"]
        note = f"{m['source']}; {m['n_points']} points, {m['n_basis']} basis + {m['n_components'] - m['n_basis']} simulated"
        if m["failed"]:
            note += f"; {m['failed']} fits failed"
        rows.append({"case": f"{backend}, 1 thread", "metric": "CPU time per spectrum", "value": per, "unit": "ms",
                     "target": "<= 25", "ok": per <= 25, "n": m["n"], "notes": note})
        rows.append({"case": f"{backend}, 1 thread", "metric": "throughput", "value": m["n"] / m["wall_s"],
                     "unit": "spectra/s", "n": m["n"], "notes": "wall clock, batch of " + str(m["n"])})
        rows.append({"case": f"{backend}, 1 thread", "metric": "first pass (CPU time per spectrum)",
                     "value": 1e3 * m["warm_cpu_s"] / m["n"], "unit": "ms", "n": m["n"],
                     "notes": ("includes jit compilation, once per grid shape" if backend == "jax"
                               else "includes model preparation") + "; the row above is the second pass"})
    m = _sub("numpy", 2 * n_cpu, workers=2)
    rows.append({"case": "numpy, workers=2", "metric": "throughput", "value": m["n"] / m["wall_s"], "unit": "spectra/s",
                 "n": m["n"], "notes": f"process pool, 1 BLAS thread each, {os.cpu_count()} CPUs on this machine"})
    m = _sub("outputs", 28 if full else 10)
    for key, what in (("qc_row_ms", "QC + summary.tsv row"), ("fit_json_ms", "fit.json"),
                      ("report_ms", "report.html (SVG figure)")):
        rows.append({"case": "outputs, 1 thread", "metric": f"CPU time per spectrum: {what}", "value": m[key],
                     "unit": "ms", "n": m["n"], "notes": "pmlmrs.qc / pmlmrs.quant / pmlmrs.report"})
    n_mem = 1000 if full else 200
    for backend in (backends if full else ["numpy"]):
        m = _sub(backend, n_mem, memory=True)
        scale = 1000 / n_mem
        label = "" if n_mem == 1000 else f" (extrapolated from {n_mem})"
        for key, what in (("rss_growth_mb", "peak RSS growth"), ("traced_peak_mb", "peak traced allocations")):
            val = m[key] * scale
            rows.append({"case": f"{backend}, batch of {n_mem}", "metric": f"{what} per 1000 spectra{label}",
                         "value": val, "unit": "MB", "target": "<= 200", "ok": val <= 200, "n": n_mem,
                         "notes": "results kept in memory; " + ("RSS includes allocator/XLA buffers" if key == "rss_growth_mb"
                                                                else "tracemalloc (NumPy + Python)")})
    return rows


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--outputs":
        print(json.dumps(measure_outputs(int(sys.argv[2]))))
    elif len(sys.argv) >= 2 and sys.argv[1] == "--measure":
        backend, n, workers, mem = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1"
        print(json.dumps(measure(backend, n, workers, mem)))
    else:
        for row in run(full="--full" in sys.argv):
            print(row)
