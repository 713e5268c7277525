"""Benchmark: sk_brainjepa's diffusion gradients against BrainSpace's GradientMaps.

Data: the HCP main-group Schaefer-400 FC that ships with brainspace 0.3.0
(``pip install --no-deps brainspace==0.3.0``; no vtk needed). Prints median and
minimum wall times over ``--repeats`` interleaved rounds (after one untimed
warm-up call each), the ratio of medians, the per-gradient |Pearson r| between
the two results, the largest lambda difference, and how the benchmark was run.

Usage, from the repository root (with the package installed, ``pip install -e .``,
or with ``PYTHONPATH=.``)::

    python benchmarks/bench_gradients.py --repeats 20 [--threads 1]

On a shared or busy machine, ``--threads 1`` gives the most stable numbers.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import os
import platform
import statistics
import sys
import time
from functools import partial

import numpy as np
import scipy

from sk_brainjepa.gradients import diffusion_gradients
from sk_brainjepa.gradients._embedding import SOLVERS

FC_FILE = os.path.join(
    "datasets", "matrices", "main_group", "schaefer_400_mean_connectivity_matrix.csv"
)


def load_schaefer400() -> np.ndarray:
    spec = importlib.util.find_spec("brainspace")
    if spec is None:
        sys.exit("brainspace is not installed: pip install --no-deps brainspace==0.3.0")
    path = os.path.join(spec.submodule_search_locations[0], FC_FILE)
    return np.loadtxt(path, delimiter=",")


def time_interleaved(cases: dict, repeats: int) -> tuple[dict, dict]:
    """Median and minimum wall time of each case over ``repeats`` rounds.

    Each case runs once untimed (warm-up, result kept), then the cases take
    turns in every round, so that load from other processes affects them alike.
    """
    results = {name: func() for name, func in cases.items()}
    times = {name: [] for name in cases}
    for _ in range(repeats):
        for name, func in cases.items():
            start = time.perf_counter()
            func()
            times[name].append(time.perf_counter() - start)
    stats = {name: (statistics.median(t), min(t)) for name, t in times.items()}
    return stats, results


def abs_correlations(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = (a - a.mean(0)) / a.std(0)
    b = (b - b.mean(0)) / b.std(0)
    return np.abs((a * b).mean(0))


def environment() -> list[str]:
    lines = [
        f"python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.machine()}",
        f"numpy {np.__version__}, scipy {scipy.__version__}, brainspace "
        f"{importlib.metadata.version('brainspace')}",
    ]
    cpu = "unknown"
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    lines.append(f"CPU: {cpu}; {os.cpu_count()} logical cores, {usable} usable")
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            lines.append(
                f"BLAS/OpenMP: {pool.get('internal_api')} {pool.get('version')} "
                f"({pool.get('threading_layer', '-')}), {pool.get('num_threads')} "
                f"threads, {os.path.basename(pool.get('filepath', ''))}"
            )
    except ImportError:
        lines.append("BLAS: threadpoolctl not installed")
    if hasattr(os, "getloadavg"):
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        lines.append(f"load average at start (1, 5, 15 min): {load}")
    return lines


def run(args) -> None:
    print("Environment")
    for line in environment():
        print("  " + line)

    start = time.perf_counter()
    from brainspace.gradient import GradientMaps

    print(f"  import brainspace.gradient: {time.perf_counter() - start:.2f} s")
    fc = load_schaefer400()
    print(f"Data: brainspace Schaefer-400 main-group FC, shape {fc.shape}")
    print(
        "Settings: kernel='normalized_angle', sparsity=0.9, alpha=0.5, "
        f"diffusion_time=0, random_state=0; {args.repeats} interleaved rounds after "
        f"one warm-up; threads limit: {args.threads}\n"
    )

    for n_components in args.components:

        def brainspace_fit(n_components=n_components):
            gm = GradientMaps(
                n_components=n_components,
                kernel="normalized_angle",
                approach="dm",
                random_state=0,
            )
            gm.fit(fc, sparsity=0.9, alpha=0.5, diffusion_time=0)
            return gm.gradients_, gm.lambdas_

        cases = {"brainspace GradientMaps.fit": brainspace_fit}
        for solver in SOLVERS:
            cases[f"sk_brainjepa solver={solver}"] = partial(
                diffusion_gradients, fc, n_components, random_state=0, solver=solver
            )
        stats, results = time_interleaved(cases, args.repeats)
        ref_gradients, ref_lambdas = results["brainspace GradientMaps.fit"]
        ref_median = stats["brainspace GradientMaps.fit"][0]
        print(f"n_components={n_components}   (median / min ms; ratio of medians)")
        for name, (median, fastest) in stats.items():
            gradients, lambdas = results[name]
            r = abs_correlations(gradients, ref_gradients)
            print(
                f"  {name:<30} {median * 1e3:7.1f} / {fastest * 1e3:6.1f} ms   "
                f"ratio {median / ref_median:5.2f}   min |r| {r.min():.6f}   "
                f"max |dlambda| {np.max(np.abs(lambdas - ref_lambdas)):.2e}"
            )
        gradients, lambdas = results["sk_brainjepa solver=auto"]
        r = abs_correlations(gradients, ref_gradients)
        print("  per-gradient |r|, ours (auto) vs brainspace:")
        for start in range(0, n_components, 10):
            print("    " + " ".join(f"{x:.6f}" for x in r[start : start + 10]))
        print()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="timed rounds")
    parser.add_argument(
        "--components", type=int, nargs="+", default=[10, 30], help="n_components"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="limit BLAS/OpenMP threads (threadpoolctl); default: no limit",
    )
    args = parser.parse_args(argv)
    if args.threads is None:
        run(args)
    else:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=args.threads):
            run(args)


if __name__ == "__main__":
    main()
