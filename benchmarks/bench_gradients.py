"""Benchmark: sk_brainjepa's diffusion gradients against BrainSpace's GradientMaps.

Data: the HCP main-group Schaefer-400 FC that ships with brainspace 0.3.0
(``pip install --no-deps brainspace==0.3.0``; no vtk needed). Measures median
and minimum wall times over ``--repeats`` interleaved rounds (after one untimed
warm-up call each), the ratio of medians, the per-gradient |Pearson r| between
the two results and the largest lambda difference, and records how the
benchmark was run.

Usage, from the repository root (with the package installed, ``pip install -e .``,
or with ``PYTHONPATH=.``)::

    python benchmarks/bench_gradients.py --repeats 20 [--threads 1]
    python benchmarks/bench_gradients.py --render <out>/bench_gradients.json

Writes ``<out>/bench_gradients.json`` (settings, machine, every timing and
agreement) and the Markdown report rendered from it (``....md``), and prints
the report. On a shared or busy machine, ``--threads 1`` gives the most
stable numbers.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import os
import statistics
import sys
import time
from functools import partial

import numpy as np
from _common import (
    add_render_option,
    markdown_table,
    now,
    report_header,
    rerender,
    run_record,
    save_run,
)

from sk_brainjepa.gradients import diffusion_gradients
from sk_brainjepa.gradients._embedding import SOLVERS

FC_FILE = os.path.join(
    "datasets", "matrices", "main_group", "schaefer_400_mean_connectivity_matrix.csv"
)
REFERENCE = "brainspace GradientMaps.fit"
OURS = "sk_brainjepa solver=auto"
SETTINGS = {
    "kernel": "normalized_angle",
    "sparsity": 0.9,
    "alpha": 0.5,
    "diffusion_time": 0,
    "random_state": 0,
}


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
    """|Pearson r| between matching columns (gradients) of ``a`` and ``b``."""
    a = (a - a.mean(0)) / a.std(0)
    b = (b - b.mean(0)) / b.std(0)
    return np.abs((a * b).mean(0))


def blas_pools() -> list[str]:
    """The BLAS / OpenMP thread pools loaded in this process (threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return ["threadpoolctl not installed"]
    return [
        f"{pool.get('internal_api')} {pool.get('version')} "
        f"({pool.get('threading_layer', '-')}), {pool.get('num_threads')} "
        f"threads, {os.path.basename(pool.get('filepath', ''))}"
        for pool in threadpool_info()
    ]


def measure(args, results: dict) -> None:
    """Time both implementations; the measurements go into ``results``."""
    start = time.perf_counter()
    from brainspace.gradient import GradientMaps

    results["import_brainspace_seconds"] = time.perf_counter() - start
    results["machine"]["brainspace"] = importlib.metadata.version("brainspace")
    results["machine"]["BLAS/OpenMP"] = "; ".join(blas_pools())
    fc = load_schaefer400()
    results["data"] = {
        "name": "brainspace Schaefer-400 main-group FC",
        "shape": fc.shape,
    }
    comparisons = []
    for n_components in args.components:

        def brainspace_fit(n_components=n_components):
            gm = GradientMaps(
                n_components=n_components,
                kernel=SETTINGS["kernel"],
                approach="dm",
                random_state=SETTINGS["random_state"],
            )
            gm.fit(
                fc,
                sparsity=SETTINGS["sparsity"],
                alpha=SETTINGS["alpha"],
                diffusion_time=SETTINGS["diffusion_time"],
            )
            return gm.gradients_, gm.lambdas_

        cases = {REFERENCE: brainspace_fit}
        for solver in SOLVERS:
            cases[f"sk_brainjepa solver={solver}"] = partial(
                diffusion_gradients, fc, n_components, random_state=0, solver=solver
            )
        stats, outputs = time_interleaved(cases, args.repeats)
        ref_gradients, ref_lambdas = outputs[REFERENCE]
        rows = []
        for name, (median, fastest) in stats.items():
            gradients, lambdas = outputs[name]
            rows.append(
                {
                    "case": name,
                    "median_seconds": median,
                    "min_seconds": fastest,
                    "min_abs_r": abs_correlations(gradients, ref_gradients).min(),
                    "max_abs_dlambda": np.max(np.abs(lambdas - ref_lambdas)),
                }
            )
        comparisons.append(
            {
                "n_components": n_components,
                "cases": rows,
                "abs_r_per_gradient": abs_correlations(outputs[OURS][0], ref_gradients),
            }
        )
    results["comparisons"] = comparisons


def render(results: dict) -> str:
    """The Markdown report of a run record of ``main``."""
    cfg = results["settings"]
    lines = report_header(
        "# Diffusion gradients: sk_brainjepa against BrainSpace", results
    )
    lines += [
        f"- Data: {results['data']['name']}, shape {tuple(results['data']['shape'])}.",
        "- Settings: "
        + ", ".join(f"{k}={v!r}" for k, v in cfg["gradient_settings"].items())
        + f"; {cfg['repeats']} interleaved rounds after one warm-up; threads "
        f"limit: {cfg['threads']}. `import brainspace.gradient` took "
        f"{results['import_brainspace_seconds']:.2f} s.",
        "- Median / min: wall time over the rounds; ratio: median over "
        "BrainSpace's median; |r|: per-gradient |Pearson r| against BrainSpace's "
        "gradients (smallest over the gradients); |dlambda|: largest eigenvalue "
        "difference.",
        "",
    ]
    for comparison in results["comparisons"]:
        cases = comparison["cases"]
        reference = next(c for c in cases if c["case"] == REFERENCE)
        rows = [
            [
                c["case"],
                f"{c['median_seconds'] * 1e3:.1f}",
                f"{c['min_seconds'] * 1e3:.1f}",
                f"{c['median_seconds'] / reference['median_seconds']:.2f}",
                f"{c['min_abs_r']:.6f}",
                f"{c['max_abs_dlambda']:.2e}",
            ]
            for c in cases
        ]
        r = comparison["abs_r_per_gradient"]
        lines += [
            f"## n_components={comparison['n_components']}",
            "",
            markdown_table(
                [
                    "case",
                    "median ms",
                    "min ms",
                    "ratio",
                    r"min \|r\|",
                    r"max \|dlambda\|",
                ],
                rows,
            ),
            "",
            "Per-gradient |r|, ours (auto) against BrainSpace:",
            "",
            *(
                "    " + " ".join(f"{x:.6f}" for x in r[start : start + 10])
                for start in range(0, len(r), 10)
            ),
            "",
        ]
    return "\n".join(lines)


def run(args) -> None:
    started, tic = now(), time.perf_counter()
    results = run_record(
        "bench_gradients",
        quick=False,
        started=started,
        settings={
            "repeats": args.repeats,
            "components": args.components,
            "threads": args.threads,
            "solvers": SOLVERS,
            "gradient_settings": SETTINGS,
        },
    )
    measure(args, results)
    results["wall_seconds"] = time.perf_counter() - tic
    _, md_path = save_run(args.out, "bench_gradients", results, render)
    print(md_path.read_text(encoding="utf-8"))


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
    parser.add_argument("--out", default="benchmarks/results", help="output folder")
    add_render_option(parser)
    args = parser.parse_args(argv)
    if args.render is not None:
        rerender(args.render, render, "bench_gradients")
    elif args.threads is None:
        run(args)
    else:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=args.threads):
            run(args)


if __name__ == "__main__":
    main()
