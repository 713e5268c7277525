"""Fingerprints of seeded pretraining runs: does a refactor keep the same numbers?

A code change that should not change results (a redesign, a rename, a moved
module) is checked by running this script on the checkout before and after it
and comparing the two records: every configuration must give the same
fingerprint. A fingerprint is the SHA-256 of the target encoder's weights and
of the features ``transform`` gives, fitted on a small simulated cohort with a
fixed ``random_state``; the record also keeps each epoch's loss (and monitor
score). The configurations cover every recipe, every extra loss term, the
online monitor, forecast masks, gradient accumulation with warm-up and the
average window, and an interrupted run resumed from its checkpoint.

Fingerprints are exact: compare runs on the same machine and library versions
(BLAS and torch kernels may round differently elsewhere).

Run from the repository root::

    python benchmarks/same_numbers.py --out before            # about a minute
    # ... change the code ...
    python benchmarks/same_numbers.py --out after
    python benchmarks/same_numbers.py --compare before/same_numbers.json \
        after/same_numbers.json

``--quick`` fits two configurations only. ``--compare`` exits with status 1
when a fingerprint differs, naming the configurations.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from _common import (
    markdown_table,
    now,
    read_json,
    report_header,
    run_record,
    save_run,
    setup_logging,
)

from sk_brainjepa import BrainJEPAPretrainer, make_brain_dynamics

logger = logging.getLogger("benchmarks")

# Small enough for a minute on two cores; 3 time patches so that the official
# masking fits its grid.
COMMON = dict(window_length=48, max_epochs=2, batch_size=4, random_state=0)


def configurations(X, y) -> dict[str, dict]:
    """Name -> pretrainer parameters on top of :data:`COMMON`."""
    return {
        "vicreg (default)": {},
        "paper": dict(recipe="paper"),
        "official": dict(recipe="official"),
        "balanced": dict(recipe="balanced"),
        "every extra term": dict(
            reconstruction_weight=0.5,
            consistency_weight=0.3,
            context_loss_weight=0.2,
            sigreg_weight=0.1,
        ),
        "monitor": dict(monitor=(X, y), monitor_every=1),
        "forecast masks": dict(masking_params={"forecast": True}),
        "accumulation + warm-up": dict(
            accumulation_steps=2,
            warmup_epochs=1,
            start_lr=1e-4,
            window_position="average",
        ),
    }


def fingerprint(pretrainer, X) -> str:
    """SHA-256 of the target encoder's weights and of the features of ``X``."""
    digest = hashlib.sha256(np.ascontiguousarray(pretrainer.transform(X)).tobytes())
    for name, tensor in pretrainer.target_encoder_.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().numpy().tobytes())
    return digest.hexdigest()


def history(pretrainer) -> list[list]:
    """Each epoch's loss and monitor score (None when not monitored)."""
    return [
        [record["loss"], record.get("monitor_score")] for record in pretrainer.history_
    ]


def run(quick: bool) -> list[dict]:
    """One row per configuration: its name, fingerprint and history."""
    X, _ = make_brain_dynamics(
        n_subjects=12, n_rois=10, n_timepoints=64, random_state=0
    )
    y = np.arange(len(X)) % 2
    configs = configurations(X, y)
    if quick:
        configs = {name: configs[name] for name in ("vicreg (default)", "official")}
    rows = []
    with warnings.catch_warnings():
        # Unscaled simulated data warns on purpose; the numbers are the point.
        warnings.simplefilter("ignore")
        for name, params in configs.items():
            tic = time.perf_counter()
            pretrainer = BrainJEPAPretrainer(**COMMON, **params).fit(X)
            rows.append(_row(name, pretrainer, X, tic))
        if not quick:
            tic = time.perf_counter()
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "run.pt"
                first = {**COMMON, "max_epochs": 1}
                BrainJEPAPretrainer(**first, checkpoint_path=path).fit(X)
                pretrainer = BrainJEPAPretrainer(
                    **COMMON, checkpoint_path=path, resume=True
                ).fit(X)
            rows.append(_row("resumed after epoch 1", pretrainer, X, tic))
    return rows


def _row(name, pretrainer, X, tic) -> dict:
    row = {
        "configuration": name,
        "fingerprint": fingerprint(pretrainer, X),
        "history": history(pretrainer),
        "seconds": time.perf_counter() - tic,
    }
    logger.info("%s: %s (%.1f s)", name, row["fingerprint"][:16], row["seconds"])
    return row


def render(results: dict) -> str:
    """The Markdown report of a run record."""
    lines = report_header("# Same numbers: fingerprints of seeded runs", results)
    lines += [
        f"`BrainJEPAPretrainer({', '.join(f'{k}={v!r}' for k, v in COMMON.items())},"
        " ...)` on `make_brain_dynamics(n_subjects=12, n_rois=10, n_timepoints=64, "
        "random_state=0)`; fingerprint: SHA-256 of the target encoder's weights and "
        "of the features (first 16 hex digits shown).",
        "",
        "## Fingerprints",
        "",
        markdown_table(
            ["configuration", "fingerprint", "final loss", "seconds"],
            [
                [
                    row["configuration"],
                    f"`{row['fingerprint'][:16]}`",
                    f"{row['history'][-1][0]:.6f}",
                    f"{row['seconds']:.1f}",
                ]
                for row in results["rows"]
            ],
        ),
        "",
    ]
    return "\n".join(lines)


def compare(before: Path, after: Path) -> list[str]:
    """Configurations whose fingerprint or history differ between two records."""
    old = {r["configuration"]: r for r in read_json(before)["rows"]}
    new = {r["configuration"]: r for r in read_json(after)["rows"]}
    differing = []
    for name in sorted(set(old) | set(new)):
        if name not in old or name not in new:
            differing.append(f"{name}: only in one record")
        elif (old[name]["fingerprint"], old[name]["history"]) != (
            new[name]["fingerprint"],
            new[name]["history"],
        ):
            differing.append(f"{name}: fingerprint or history differs")
    return differing


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two configurations")
    parser.add_argument("--out", default="same_numbers_run", help="output folder")
    parser.add_argument(
        "--compare",
        nargs=2,
        metavar=("BEFORE", "AFTER"),
        type=Path,
        help="compare two records written by this script; no fitting",
    )
    args = parser.parse_args(argv)
    setup_logging()
    if args.compare:
        differing = compare(*args.compare)
        for line in differing:
            logger.error(line)
        if not differing:
            logger.info("every configuration gives the same numbers")
        return 1 if differing else 0
    started, tic = now(), time.perf_counter()
    results = run_record("same_numbers", quick=args.quick, started=started)
    results["rows"] = run(args.quick)
    results["wall_seconds"] = time.perf_counter() - tic
    stem = "same_numbers" + ("_quick" if args.quick else "")
    save_run(args.out, stem, results, render)
    return 0


if __name__ == "__main__":
    sys.exit(main())
