"""Helpers shared by the benchmark scripts.

Machine description, timing, the JSON record of a run and the Markdown built
from it, the simulated cohorts and their scaling, and the splits that both
``compare_models.py`` and ``ablation.py`` use, so that the two scripts see the
same data, the same splits and the same scoring.

Every benchmark measures into a JSON-able dict (``run_record`` opens it:
benchmark name, command, start, wall time, machine, settings), writes it with
``write_json`` and renders its Markdown from that dict alone, with a
``render(results) -> str`` function; ``python benchmarks/<name>.py --render
<name>.json`` re-renders a stored run (``rerender``) without measuring again.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import logging
import math
import os
import platform
import shlex
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from sk_brainjepa import (
    BrainJEPAPretrainer,
    ROIRobustScaler,
    TrainValTestSplit,
    make_brain_dynamics,
)
from sk_brainjepa.model_selection import CLASSIFICATION_METRICS, REGRESSION_METRICS
from sk_brainjepa.preprocessing import SubjectRobustScaler

logger = logging.getLogger("benchmarks")

# Candidate C (logistic regression) / alpha (ridge) values: linear_probe's
# default grid, with which the published results of compare_models.py and
# ablation.py were measured. Passed explicitly, so that they keep their
# meaning should the library's default change.
REG_GRID = tuple(float(v) for v in 10.0 ** np.arange(-4, 5))
MAIN_METRIC = {"classification": "balanced_accuracy", "regression": "pearson_r"}
SCALINGS = ("cohort", "subject")
PRETRAIN_COHORTS = ("disjoint", "other-seed")


# ---------------------------------------------------------------- logging, CLI
def setup_logging() -> None:
    """INFO logs with timestamps; the library's per-epoch chatter stays quiet."""
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    logging.getLogger("sk_brainjepa").setLevel(logging.WARNING)
    # Warnings (convergence, collapse) go to the log with everything else.
    logging.captureWarnings(True)


def set_threads(n_threads: int) -> None:
    """Cap torch and BLAS/OpenMP thread pools for the whole process.

    On a small machine shared with other processes, two spinning OpenMP
    threads per process slow torch down many times over (measured here: one
    pretraining epoch took 17 s with 2 threads and 2.4 s with 1 while another
    process used both cores), so the benchmarks default to one thread.
    """
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(n_threads)
    # Kept for the life of the process (the returned limiter is not restored).
    threadpool_limits(n_threads)


def command_line() -> str:
    """The command as typed, e.g. ``python benchmarks/ablation.py --quick``."""
    return "python " + shlex.join(sys.argv)


def now() -> str:
    """Local date and time, to the second, with the UTC offset."""
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


# ------------------------------------------------------------ JSON records
SCHEMA_VERSION = 1


def to_jsonable(value):
    """``value`` with numpy scalars and arrays, tuples and paths made JSON types.

    Non-finite floats (NaN, inf) become ``None`` (JSON has no NaN); the
    renderers read ``None`` back as NaN (``mean_std`` and pandas do).
    """
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return value


def records(frame: pd.DataFrame) -> list[dict]:
    """The rows of ``frame`` as JSON-able dicts (NaN cells as ``None``)."""
    return to_jsonable(frame.to_dict("records"))


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file next to ``path``, then rename it."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_json(path, results: dict) -> Path:
    """Write ``results`` as JSON to ``path`` atomically (temp file + rename)."""
    path = Path(path)
    text = json.dumps(to_jsonable(results), indent=1, allow_nan=False)
    _write_atomic(path, text + "\n")
    return path


def read_json(path) -> dict:
    """A run record written by ``write_json``."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def run_record(benchmark: str, *, quick: bool, started: str, **fields) -> dict:
    """The opening keys of every run record, then ``fields``.

    ``benchmark`` names the script, ``command`` is the command line,
    ``started`` the start time, ``machine`` what ``machine_info`` says now;
    the script sets ``wall_seconds`` when it is done measuring.
    """
    return {
        "benchmark": benchmark,
        "schema": SCHEMA_VERSION,
        "quick": quick,
        "command": command_line(),
        "started": started,
        "wall_seconds": None,
        "machine": machine_info(),
        **fields,
    }


def save_run(out, stem: str, results: dict, render) -> tuple[Path, Path]:
    """Write ``<out>/<stem>.json``, then the Markdown ``render`` makes of it.

    The Markdown is rendered from the JSON as read back, so that it shows
    exactly what ``--render`` would.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    json_path = write_json(out / f"{stem}.json", results)
    md_path = out / f"{stem}.md"
    _write_atomic(md_path, render(read_json(json_path)))
    logger.info("wrote %s and %s", json_path, md_path)
    return json_path, md_path


def add_render_option(parser) -> None:
    """``--render RESULTS.json``: rebuild the Markdown of a stored run."""
    parser.add_argument(
        "--render",
        metavar="JSON",
        type=Path,
        default=None,
        help="do not measure: re-render the Markdown of this stored run "
        "(written next to it, with the suffix .md)",
    )


def rerender(path, render, benchmark: str) -> Path:
    """Render the run record at ``path`` to the ``.md`` file next to it."""
    path = Path(path)
    results = read_json(path)
    if results.get("benchmark") != benchmark:
        raise SystemExit(
            f"{path} holds a run of {results.get('benchmark')!r}, not {benchmark!r}."
        )
    md_path = path.with_suffix(".md")
    _write_atomic(md_path, render(results))
    print(f"wrote {md_path}")
    return md_path


# ------------------------------------------------------------------- machine
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float:
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("nan")


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine_info() -> dict:
    """CPU, cores, RAM, GPU, library versions and the current load average."""
    import torch

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (CPU)"
    try:
        load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        load = "unknown"
    return {
        "CPU": _cpu_model(),
        "cores (logical / usable)": f"{os.cpu_count()} / {usable}",
        "torch threads": str(torch.get_num_threads()),
        "RAM": f"{_ram_gib():.1f} GiB",
        "GPU": gpu,
        "OS": platform.platform(),
        "python": platform.python_version(),
        "versions": ", ".join(
            f"{p} {_version(p)}"
            for p in (
                "numpy",
                "scipy",
                "scikit-learn",
                "torch",
                "skorch",
                "pandas",
                "sk_brainjepa",
            )
        ),
        "load average at start (1/5/15 min)": load,
    }


def machine_markdown(info: dict) -> str:
    """The machine description as a Markdown bullet list."""
    return "\n".join(f"- **{k}**: {v}" for k, v in info.items())


def report_header(title: str, results: dict, extra=()) -> list[str]:
    """The lines every benchmark report opens with, up to its protocol heading.

    Title (marked in quick mode), command, start and wall time of the run
    record ``results``, any ``extra`` bullet lines, then the machine section.
    """
    return [
        title + (" (quick mode)" if results["quick"] else ""),
        "",
        f"- **Command**: `{results['command']}`",
        f"- **Started**: {results['started']}; **total wall time** "
        f"{results['wall_seconds'] / 60:.1f} min",
        *extra,
        "",
        "## Machine",
        "",
        machine_markdown(results["machine"]),
        "",
        "## Protocol",
        "",
    ]


# -------------------------------------------------------------------- timing
class Stopwatch:
    """Wall time summed per key: ``with watch("BNT"): ...``."""

    def __init__(self):
        self.seconds = defaultdict(float)

    @contextmanager
    def __call__(self, key):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[key] += time.perf_counter() - start


# -------------------------------------------------------------------- tables
def max_relative_difference(a, b) -> float:
    """``max|a - b| / max|b|``: how far ``a`` is from the reference ``b``."""
    a, b = np.asarray(a), np.asarray(b)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def mean_std(values, digits: int = 3) -> str:
    """``"0.812 ± 0.034"`` over the finite values (sample std, ddof=1)."""
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return "n/a"
    std = finite.std(ddof=1) if finite.size > 1 else float("nan")
    text = f"{finite.mean():.{digits}f} ± {std:.{digits}f}"
    if finite.size < values.size:
        text += f" ({finite.size}/{values.size} finite)"
    return text


def markdown_table(header, rows) -> str:
    """A GitHub Markdown table from a header and rows of cells."""
    lines = [
        "| " + " | ".join(map(str, header)) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)


def metrics_for(kind: str) -> tuple[str, ...]:
    """The metric names of ``"classification"`` or ``"regression"``."""
    return CLASSIFICATION_METRICS if kind == "classification" else REGRESSION_METRICS


def summary_table(scores: pd.DataFrame, kind: str, by: str, order, extra=None) -> str:
    """Mean ± std of each metric (over repeats) per ``by`` value, as Markdown.

    Parameters
    ----------
    scores : pandas.DataFrame
        Per-repeat rows with a ``by`` column and the metric columns.
    kind : {"classification", "regression"}
    by : str
        Column that names the rows of the table (e.g. ``"model"``).
    order : sequence of str
        Row order; values absent from ``scores`` are skipped.
    extra : dict of {str: dict}, optional
        Additional columns: ``{column title: {row name: cell}}``.
    """
    metrics = metrics_for(kind)
    extra = extra or {}
    header = [by, "n", *metrics, *extra]
    rows = []
    for name in order:
        part = scores[scores[by] == name]
        if part.empty:
            continue
        rows.append(
            [
                name,
                len(part),
                *(mean_std(part[m]) for m in metrics),
                *(cells.get(name, "") for cells in extra.values()),
            ]
        )
    return markdown_table(header, rows)


# ---------------------------------------------------------------------- data
def scale_timeseries(X, scaling: str, reference=None) -> np.ndarray:
    """Robust-scale time series without looking at any held-out subject.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_rois, n_timepoints)
    scaling : {"cohort", "subject"}
        ``"cohort"``: one ``ROIRobustScaler`` (median/IQR per ROI over all
        frames, the paper's statistics) fitted on ``reference`` and applied to
        ``X``. ``"subject"``: ``SubjectRobustScaler``, each sample scaled by
        its own per-ROI median and IQR (as a ``ROIRobustScaler`` fitted on
        that sample alone), which removes subject-specific ROI offsets and
        amplitudes and uses no other sample.
    reference : ndarray or None
        The data the cohort statistics are fitted on; required for
        ``"cohort"``.

    Returns
    -------
    X_scaled : ndarray of shape (n_samples, n_rois, n_timepoints), float32
    """
    if scaling == "cohort":
        if reference is None:
            raise ValueError("scaling='cohort' needs reference data to fit on.")
        return ROIRobustScaler().fit(reference).transform(X).astype(np.float32)
    if scaling == "subject":
        # SubjectRobustScaler computes what the published runs did:
        # ROIRobustScaler().fit_transform(x[np.newaxis])[0] for each sample x.
        return SubjectRobustScaler().fit_transform(X).astype(np.float32)
    raise ValueError(f"scaling must be one of {SCALINGS}; got {scaling!r}.")


def offset_ratio(X) -> float:
    """Between-sample SD of the per-ROI temporal means over the within-sample SD.

    A large value means the samples differ mostly by constant offsets, not by
    their fluctuations (the dynamics), after scaling.
    """
    X = np.asarray(X, dtype=np.float64)
    return float(X.mean(axis=2).std(axis=0).mean() / X.std(axis=2).mean())


def cohort_description(
    n_subjects: int,
    n_rois: int,
    n_timepoints: int,
    n_pretrain: int,
    *,
    pretrain_cohort: str,
    seed: int,
) -> str:
    """One sentence for the report on how ``simulated_cohorts`` drew its data."""
    if pretrain_cohort == "disjoint":
        return (
            f"one `make_brain_dynamics(n_subjects={n_subjects + n_pretrain}, "
            f"n_rois={n_rois}, n_timepoints={n_timepoints}, random_state={seed})` "
            f"draw: the first {n_subjects} subjects are the labelled cohort, the "
            f"other {n_pretrain} the unlabelled pretraining cohort (same group "
            "connectome, disjoint subjects; their labels are discarded)"
        )
    if pretrain_cohort == "other-seed":
        return (
            f"labelled cohort `make_brain_dynamics({n_subjects}, {n_rois}, "
            f"{n_timepoints}, random_state={seed})`; pretraining cohort a separate "
            f"draw of {n_pretrain} subjects with random_state={seed + 1000} (this "
            "also draws a different group connectome)"
        )
    raise ValueError(
        f"pretrain_cohort must be one of {PRETRAIN_COHORTS}; got {pretrain_cohort!r}."
    )


def simulated_cohorts(
    n_subjects: int,
    n_rois: int,
    n_timepoints: int,
    n_pretrain: int,
    *,
    pretrain_cohort: str,
    seed: int,
):
    """A labelled cohort and a disjoint, unlabelled pretraining cohort.

    Parameters
    ----------
    n_subjects, n_rois, n_timepoints : int
        Size of the labelled cohort.
    n_pretrain : int
        Subjects of the pretraining cohort.
    pretrain_cohort : {"disjoint", "other-seed"}
        ``"disjoint"``: one simulation of ``n_subjects + n_pretrain`` subjects
        (same group connectome, i.e. the same "population"), of which the
        last ``n_pretrain`` form the pretraining cohort.
        ``"other-seed"``: a second simulation with another ``random_state``
        (``seed + 1000``); ``make_brain_dynamics`` then also draws another
        group connectome. ``cohort_description`` says so in a sentence.
    seed : int

    Returns
    -------
    X : ndarray of shape (n_subjects, n_rois, n_timepoints), float32
        Raw (unscaled) labelled time series.
    phenotypes : pandas.DataFrame
    X_pretrain : ndarray of shape (n_pretrain, n_rois, n_timepoints), float32
        Raw unlabelled time series (their labels are dropped here).
    """
    if pretrain_cohort == "disjoint":
        X_all, pheno = make_brain_dynamics(
            n_subjects + n_pretrain, n_rois, n_timepoints, random_state=seed
        )
        return X_all[:n_subjects], pheno.iloc[:n_subjects], X_all[n_subjects:]
    if pretrain_cohort == "other-seed":
        X, pheno = make_brain_dynamics(
            n_subjects, n_rois, n_timepoints, random_state=seed
        )
        X_pre, _ = make_brain_dynamics(
            n_pretrain, n_rois, n_timepoints, random_state=seed + 1000
        )
        return X, pheno, X_pre
    raise ValueError(
        f"pretrain_cohort must be one of {PRETRAIN_COHORTS}; got {pretrain_cohort!r}."
    )


def make_splits(n_repeats: int, seed: int, X, y, kind: str) -> list:
    """The shared 6/2/2 ``(train, validation, test)`` splits of one task.

    Stratified for classes: the call ``linear_probe`` and ``probe_features``
    make with ``random_state=seed``, so their splits are these.
    """
    classification = kind == "classification"
    cv = TrainValTestSplit(n_repeats, random_state=seed, stratify=classification)
    return list(cv.split_with_test(X, y if classification else None))


# ---------------------------------------------------------------- Brain-JEPA
PRETRAIN_BATCH = 16


def pretrain_brainjepa(
    X, n_timepoints: int, epochs: int, seed: int, label: str, **params
):
    """Fit a BrainJEPAPretrainer (tiny preset) on unlabelled series.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_rois, n_timepoints)
        Scaled, unlabelled series.
    n_timepoints : int
        Model window.
    epochs : int
    seed : int
        ``random_state`` of the pretrainer.
    label : str
        Name of the run in the log and the report.
    **params
        Further ``BrainJEPAPretrainer`` parameters (e.g. ``masking``).

    Returns
    -------
    pretrainer : BrainJEPAPretrainer
    record : dict
        Size, time, first/last loss, collapse statistics and warnings, as
        JSON types (``pretraining_table`` renders a list of them).
    """
    # The stored reports of compare_models.py and ablation.py were measured
    # with the paper's objective, before recipes existed; keep reproducing them
    # (pretraining_value.py compares the recipes).
    params.setdefault("recipe", "paper")
    pre = BrainJEPAPretrainer(
        "tiny",
        window_length=n_timepoints,
        max_epochs=epochs,
        batch_size=PRETRAIN_BATCH,
        random_state=seed,
        **params,
    )
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pre.fit(X)
    seconds = time.perf_counter() - start
    notes = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    for note in notes:
        logger.warning("%s pretraining: %s", label, note)
    first, last = pre.history_[0], pre.history_[-1]
    logger.info(
        "%s pretraining: %d subjects, %d epochs in %.1f s; loss %.4f -> %.4f, "
        "token spread %.3f, sample spread %.3f",
        label,
        len(X),
        epochs,
        seconds,
        first["loss"],
        last["loss"],
        last["spread"],
        last["sample_spread"],
    )
    record = {
        "data": label,
        "samples": len(X),
        "shape": list(X.shape[1:]),
        "epochs": epochs,
        "seconds": seconds,
        "loss_first": first["loss"],
        "loss_last": last["loss"],
        "token_spread": last["spread"],
        "sample_spread": last["sample_spread"],
        "warnings": notes,
    }
    return pre, record


def pretraining_table(records: list[dict]) -> str:
    """The Markdown table of ``pretrain_brainjepa`` records."""
    header = [
        "data",
        "samples",
        "shape",
        "epochs",
        "seconds",
        "loss (first -> last epoch)",
        "token spread",
        "sample spread",
        "warnings",
    ]
    rows = [
        [
            r["data"],
            r["samples"],
            "x".join(map(str, r["shape"])),
            r["epochs"],
            f"{r['seconds']:.1f}",
            f"{r['loss_first']:.4f} -> {r['loss_last']:.4f}",
            f"{r['token_spread']:.3f}",
            f"{r['sample_spread']:.3f}",
            "; ".join(r["warnings"]) or "none",
        ]
        for r in records
    ]
    return markdown_table(header, rows)
