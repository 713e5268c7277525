"""Benchmark: peak memory of pretraining and embedding as the cohort grows 10x.

Writes two memory-mapped cohorts (``.npy`` files) to a temporary folder, one
of ``N`` subjects and one of ``10 N``, then runs, each in a fresh Python
process so that peaks do not mix, ``BrainJEPAPretrainer('tiny',
max_epochs=1).fit(memmap)`` (the model is saved) and, in another process,
``transform(memmap)`` with the saved model; a third process runs the
streaming data layer alone (group connectivity, one epoch of loader batches,
embedding). Each child reports its peak
resident memory (``VmHWM`` of ``/proc/self/status``; also
``getrusage(RUSAGE_SELF).ru_maxrss``, which on Linux includes the parent's
peak when ``subprocess`` starts the child with vfork) and, sampled every
20 ms, the largest anonymous (``RssAnon``: the process's own allocations)
and file-backed (``RssFile``: mapped file pages, e.g. of a memmap) parts of
it. If data streams from disk, the peaks
of the two cohorts should match; if they grow about 10x with the data,
something holds the whole cohort.

Run from the repository root::

    python benchmarks/out_of_core.py --quick   # under a minute
    python benchmarks/out_of_core.py           # several minutes on 2 cores

Writes ``<out>/out_of_core[_quick][_<tag>].json`` (settings and every child's
measurements) and the Markdown report rendered from it (``....md``);
``python benchmarks/out_of_core.py --render <out>/out_of_core.json``
re-renders the Markdown of a stored run.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from _common import (
    add_render_option,
    markdown_table,
    now,
    report_header,
    rerender,
    run_record,
    save_run,
    set_threads,
    setup_logging,
)

logger = logging.getLogger("out_of_core")

# 450 ROIs (the paper's parcellation) and HCP-length runs of 1200 frames, so
# the data dominate memory; a 32-frame model window (900 tokens) keeps a CPU
# epoch over 10 N subjects to minutes.
FULL = {"n_subjects": 60, "n_rois": 450, "n_frames": 1200, "window": 32}
QUICK = {"n_subjects": 4, "n_rois": 100, "n_frames": 320, "window": 32}
SCALE = 10
BATCH_SIZE = 16
RESULT_PREFIX = "RESULT "


# ------------------------------------------------------------------- child
def _status_kib(field: str):
    """A ``kB`` field of /proc/self/status (e.g. VmHWM), or None off Linux."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key == field:
                    return int(value.split()[0])
    except OSError:
        pass
    return None


class _PeakSampler(threading.Thread):
    """Largest RssAnon and RssFile (kB) seen in /proc/self/status while running."""

    FIELDS = ("RssAnon", "RssFile")

    def __init__(self, period: float = 0.02):
        super().__init__(daemon=True)
        self.period = period
        self.peaks = dict.fromkeys(self.FIELDS, 0)
        self.available = os.path.exists("/proc/self/status")
        self._stop_event = threading.Event()

    def sample(self) -> None:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key in self.peaks:
                    self.peaks[key] = max(self.peaks[key], int(value.split()[0]))

    def run(self) -> None:
        while self.available and not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(self.period)

    def stop(self) -> dict:
        self._stop_event.set()
        self.join()
        if self.available:
            self.sample()
        return self.peaks if self.available else {}


def child(args) -> None:
    """Fit or transform in this process; print the measurements as JSON."""
    import resource

    set_threads(args.threads)
    from sk_brainjepa import BrainJEPAPretrainer

    sampler = _PeakSampler()
    baseline_kib = _status_kib("VmHWM")
    sampler.start()
    X = np.load(args.data, mmap_mode="r")
    tic = time.perf_counter()
    if args.child == "fit":
        pre = BrainJEPAPretrainer(
            "tiny",
            window_length=args.window,
            max_epochs=1,
            batch_size=BATCH_SIZE,
            random_state=0,
        ).fit(X)
        seconds = time.perf_counter() - tic
        final_loss = pre.history_[-1]["loss"]
        pre.save(args.model)
        extra = {"loss": final_loss}
    elif args.child == "transform":
        features = BrainJEPAPretrainer.load(args.model).transform(X)
        seconds = time.perf_counter() - tic
        extra = {"features_shape": list(features.shape)}
    else:
        extra = stream_data_layer(X, args.model, args.window)
        seconds = time.perf_counter() - tic
    peaks = sampler.stop()
    result = {
        "seconds": seconds,
        "baseline_rss_kib": baseline_kib,
        # VmHWM: this process's peak RSS since exec. ru_maxrss is reported too,
        # but on Linux it also holds the parent's peak when started by vfork.
        "peak_rss_kib": _status_kib("VmHWM"),
        "ru_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "peak_anon_kib": peaks.get("RssAnon"),
        "peak_file_kib": peaks.get("RssFile"),
        **extra,
    }
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def stream_data_layer(X, model_path: str, window: int) -> dict:
    """What fit and transform do with the data once they stream it, alone.

    The group connectivity for the gradients, one epoch of training batches
    from the loader (read and discarded: no model step), and the embedding
    of every subject with the fitted target encoder.
    """
    import torch

    from sk_brainjepa import BrainJEPAPretrainer
    from sk_brainjepa.estimators._common import embed
    from sk_brainjepa.preprocessing import group_fc
    from sk_brainjepa.sources import as_source
    from sk_brainjepa.training import EpochPlanner, make_loader

    source = as_source(X)
    group_fc(source)
    planner = EpochPlanner(source.lengths, window, batch_size=BATCH_SIZE)
    loader = make_loader(source, window, plan=planner.plan(np.random.default_rng(0)))
    n_windows = sum(len(batch) for batch in loader)
    encoder = BrainJEPAPretrainer.load(model_path).target_encoder_
    features = embed(
        encoder,
        source,
        n_timepoints=window,
        window="center",
        readout="mean",
        batch_size=32,
        device=torch.device("cpu"),
    )
    return {"windows": n_windows, "features_shape": list(features.shape)}


def run_child(mode: str, data: Path, model: Path, cfg: dict, threads: int) -> dict:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        mode,
        "--data",
        str(data),
        "--model",
        str(model),
        "--window",
        str(cfg["window"]),
        "--threads",
        str(threads),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(
            f"{mode} on {data.name} failed (exit {done.returncode}):\n{done.stderr}"
        )
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    raise RuntimeError(f"{mode} on {data.name} printed no result:\n{done.stdout}")


# ------------------------------------------------------------------ parent
def write_cohort(path: Path, n_subjects: int, cfg: dict, seed: int) -> int:
    """Standard-normal float32 series, written a few subjects at a time.

    Plain file writes, not a memmap: a mapping would raise this process's
    peak RSS by the file's size, and on Linux a child started with
    ``subprocess`` (vfork + exec) inherits that peak in its ``ru_maxrss``.
    """
    shape = (n_subjects, cfg["n_rois"], cfg["n_frames"])
    rng = np.random.default_rng(seed)
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "<f4", "fortran_order": False, "shape": shape}
        )
        for lo in range(0, n_subjects, 8):
            hi = min(lo + 8, n_subjects)
            chunk = rng.standard_normal((hi - lo,) + shape[1:], dtype=np.float32)
            fh.write(chunk.astype("<f4", copy=False).tobytes())
    return path.stat().st_size


def git_revision() -> str:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return rev + (" (with uncommitted changes)" if dirty else "")


def mib(kib) -> str:
    return "n/a" if kib is None else f"{kib / 1024:.0f}"


def _anon_file(part: dict) -> str:
    return f"{mib(part['peak_anon_kib'])} / {mib(part['peak_file_kib'])}"


def _fit_transform_row(cohort: dict) -> list:
    fit, emb = cohort["fit"], cohort["transform"]
    return [
        cohort["label"],
        cohort["subjects"],
        f"{cohort['data_bytes'] / 2**20:.1f}",
        f"{fit['seconds']:.1f}",
        mib(fit["peak_rss_kib"]),
        _anon_file(fit),
        f"{emb['seconds']:.1f}",
        mib(emb["peak_rss_kib"]),
        _anon_file(emb),
        mib(fit["baseline_rss_kib"]),
        f"{mib(fit['ru_maxrss_kib'])} / {mib(emb['ru_maxrss_kib'])}",
    ]


def render(results: dict) -> str:
    """The Markdown report of a run record of ``main``."""
    cfg = results["settings"]
    scale, batch_size = cfg["scale"], cfg["batch_size"]
    cohorts = results["cohorts"]
    table = markdown_table(
        [
            "cohort",
            "subjects",
            "data (MiB)",
            "fit s",
            "fit peak RSS (MiB)",
            "fit peak anon / file (MiB)",
            "transform s",
            "transform peak RSS (MiB)",
            "transform peak anon / file (MiB)",
            "RSS after imports (MiB)",
            "ru_maxrss fit / transform (MiB)",
        ],
        [_fit_transform_row(c) for c in cohorts],
    )
    stream_table = markdown_table(
        ["cohort", "subjects", "seconds", "peak RSS (MiB)", "peak anon / file (MiB)"],
        [
            [
                c["label"],
                c["subjects"],
                f"{c['stream']['seconds']:.1f}",
                mib(c["stream"]["peak_rss_kib"]),
                _anon_file(c["stream"]),
            ]
            for c in cohorts
        ],
    )
    small, large = cohorts[0], cohorts[1]

    def growth(part):
        return large[part]["peak_rss_kib"] / small[part]["peak_rss_kib"]

    parts = [
        *report_header(
            "# Out-of-core pretraining and embedding",
            results,
            extra=[f"- **Code**: git {results['code']}"],
        ),
        f"- Data: two float32 `.npy` files opened with `np.load(mmap_mode='r')`, "
        f"{cfg['n_subjects']} and {scale * cfg['n_subjects']} subjects x "
        f"{cfg['n_rois']} ROIs x {cfg['n_frames']} frames of standard-normal "
        "noise (memory, not accuracy, is measured).",
        f"- Fit: `BrainJEPAPretrainer('tiny', window_length={cfg['window']}, "
        f"max_epochs=1, batch_size={batch_size}, random_state=0).fit(memmap)` "
        "(default gradients, i.e. fitted on the cohort's connectivity), in a "
        "fresh process; the model is saved.",
        "- Transform: the saved model loaded in another fresh process, "
        "`transform(memmap)`.",
        "- Peak RSS: `VmHWM` of the child's `/proc/self/status` (whole run, "
        "imports included); `ru_maxrss` (`resource.getrusage(RUSAGE_SELF)`) is "
        "given too, but on Linux it also counts the parent's peak, as "
        "`subprocess` starts children with vfork. Anon / file: largest `RssAnon` "
        "and "
        "`RssFile` of `/proc/self/status` sampled every 20 ms; file-backed "
        "pages (a memmap's, shared libraries') count in RSS but the kernel can "
        "drop them under pressure, anonymous ones cannot.",
        "",
        "## Results",
        "",
        table,
        "",
        f"Data grew {large['data_bytes'] / small['data_bytes']:.1f}x; peak RSS grew "
        f"{growth('fit'):.2f}x in fit and {growth('transform'):.2f}x in transform.",
        "",
        "### Data layer alone",
        "",
        "What fit and transform do with the data when they stream it, in a "
        "third fresh process: `sk_brainjepa.preprocessing.group_fc(as_source(memmap))` "
        "(the connectivity the gradients are fitted on), one epoch of "
        f"`make_loader` batches ({batch_size} windows, `num_workers=0`, read "
        "and dropped: no model step) and `embed` of every subject with the saved "
        "target encoder.",
        "",
        stream_table,
        "",
        f"Peak RSS of the data layer grew {growth('stream'):.2f}x.",
        "",
    ]
    return "\n".join(parts)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--out", default="benchmarks/results", help="output folder")
    parser.add_argument("--n-subjects", type=int, default=None, help="N (60; quick 4)")
    parser.add_argument("--n-rois", type=int, default=None)
    parser.add_argument("--n-frames", type=int, default=None)
    parser.add_argument("--window", type=int, default=None, help="model window")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workdir", default=None, help="folder for the memmaps")
    parser.add_argument(
        "--tag", default=None, help="suffix of the report's name, e.g. a code version"
    )
    add_render_option(parser)
    # Internal: run one measurement in this process.
    parser.add_argument(
        "--child", choices=("fit", "transform", "stream"), help=argparse.SUPPRESS
    )
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return
    if args.render is not None:
        rerender(args.render, render, "out_of_core")
        return

    setup_logging()
    cfg = dict(QUICK if args.quick else FULL)
    for key in ("n_subjects", "n_rois", "n_frames", "window"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    stem = "out_of_core" + ("_quick" if args.quick else "")
    if args.tag:
        stem += f"_{args.tag}"
    started, tic = now(), time.perf_counter()
    results = run_record(
        "out_of_core",
        quick=args.quick,
        started=started,
        settings={
            **cfg,
            "scale": SCALE,
            "batch_size": BATCH_SIZE,
            "threads": args.threads,
            "tag": args.tag,
        },
        code=git_revision(),
    )
    results["machine"]["torch threads"] = f"{args.threads} (set in each child process)"
    logger.info("%s | %s", results["command"], results["machine"]["CPU"])

    cohorts = []
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        tmp = Path(tmp)
        for label, n in (
            ("N", cfg["n_subjects"]),
            (f"{SCALE}N", SCALE * cfg["n_subjects"]),
        ):
            data, model = tmp / f"cohort_{n}.npy", tmp / f"model_{n}.pt"
            size = write_cohort(data, n, cfg, seed=n)
            logger.info("%s: %d subjects, %.1f MiB on disk", label, n, size / 2**20)
            entry = {"label": label, "subjects": n, "data_bytes": size}
            for mode in ("fit", "transform", "stream"):
                entry[mode] = run_child(mode, data, model, cfg, args.threads)
                logger.info("%s %s: %s", label, mode, entry[mode])
            cohorts.append(entry)
    results["cohorts"] = cohorts
    results["wall_seconds"] = time.perf_counter() - tic
    _, md_path = save_run(args.out, stem, results, render)
    print(md_path.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
