"""GPU check: the CUDA code paths against the CPU, and their wall times.

For a small simulated cohort it runs, on the CPU and on CUDA,

- ``BrainJEPAPretrainer.fit`` in float32 (same seed: the CUDA model should
  match the CPU model up to floating-point reassociation) and, on CUDA only,
  in bfloat16 autocast (the default there);
- embedding with every 2-D readout, compared between devices;
- the connectivity linear probe on ``sex`` (5 x 6/2/2) from each device's
  model;
- fine-tuning with skorch (``BrainJEPAClassifier``, connectivity head) on
  one 6/2/2 split.

It prints a Markdown report (machine, protocol, a table of differences and
times) and writes it to ``<out>/gpu_check.md``. On a machine without CUDA it
says so and exits with status 1.

Run from the repository root::

    python benchmarks/gpu_check.py --out benchmarks/results
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import torch
from _common import (
    machine_info,
    machine_markdown,
    markdown_table,
    max_relative_difference,
    now,
    report_header,
    setup_logging,
)
from sklearn.metrics import balanced_accuracy_score
from skorch.dataset import Dataset
from skorch.helper import predefined_split

from sk_brainjepa import (
    BrainJEPAClassifier,
    BrainJEPAEmbedder,
    BrainJEPAPretrainer,
    linear_probe,
    make_brain_dynamics,
    train_val_test_split,
)
from sk_brainjepa.datasets import SubjectRobustScaling

logger = logging.getLogger("gpu_check")

READOUTS = ("mean", "roi", "connectivity")


def _timed(fn):
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    tic = time.perf_counter()
    out = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return out, time.perf_counter() - tic


def _weight_difference(model, reference) -> float:
    """||w - w_ref|| / ||w_ref|| over all target-encoder parameters together."""
    weights = model.target_encoder_.state_dict()
    diff = total = 0.0
    for name, ref in reference.target_encoder_.state_dict().items():
        diff += float(((weights[name].double() - ref.double()) ** 2).sum())
        total += float((ref.double() ** 2).sum())
    return (diff / total) ** 0.5


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--n-subjects", type=int, default=200)
    parser.add_argument(
        "--device",
        default="cuda",
        help="the device checked against the CPU (cpu: a smoke run of the script)",
    )
    args = parser.parse_args(argv)
    setup_logging()
    gpu = args.device
    if gpu.startswith("cuda") and not torch.cuda.is_available():
        logger.error("no CUDA device: nothing to check")
        return 1
    started, tic = now(), time.perf_counter()
    machine = machine_info()

    X, pheno = make_brain_dynamics(
        n_subjects=args.n_subjects, n_rois=20, n_timepoints=160, random_state=0
    )
    X = SubjectRobustScaling()(X)
    rows = []

    def pretrain(device, precision):
        return BrainJEPAPretrainer(
            "tiny",
            max_epochs=args.epochs,
            batch_size=16,
            device=device,
            precision=precision,
            random_state=0,
            verbose=0,
        ).fit(X)

    models = {}
    for device, precision in (
        ("cpu", "float32"),
        (gpu, "float32"),
        (gpu, "bfloat16"),
    ):
        model, seconds = _timed(lambda d=device, p=precision: pretrain(d, p))
        models[(device, precision)] = model
        rows.append(
            [
                f"fit {device} {precision}",
                f"{seconds:.1f}",
                f"last loss {model.history_[-1]['loss']:.5f}",
            ]
        )
    cpu_model = models[("cpu", "float32")]
    for key in ((gpu, "float32"), (gpu, "bfloat16")):
        rows.append(
            [
                f"weights {key[0]} {key[1]} vs cpu",
                "",
                f"rel. L2 diff. {_weight_difference(models[key], cpu_model):.2e}",
            ]
        )

    # Same (CPU-trained) weights embedded on both devices: the kernels alone.
    for readout in READOUTS:
        feats = {}
        for device in ("cpu", gpu):
            embedder = BrainJEPAEmbedder(
                pretrainer=cpu_model, readout=readout, device=device
            ).fit(X)
            feats[device], seconds = _timed(lambda e=embedder: e.transform(X))
            rows.append([f"embed {readout} on {device}", f"{seconds:.2f}", ""])
        difference = max_relative_difference(feats[gpu], feats["cpu"])
        rows.append(
            [f"embed {readout}: {gpu} vs cpu", "", f"max rel. diff. {difference:.2e}"]
        )

    y = pheno["sex"].to_numpy()
    for key, model in models.items():
        table = linear_probe(
            model, X, y, readout="connectivity", n_repeats=5, random_state=0
        )
        rows.append(
            [
                f"connectivity probe, sex, model {key[0]} {key[1]}",
                "",
                f"bal. acc. {table.loc['mean', 'balanced_accuracy']:.3f} ± "
                f"{table.loc['std', 'balanced_accuracy']:.3f}",
            ]
        )

    X_tr, X_va, X_te, y_tr, y_va, y_te = train_val_test_split(X, y, random_state=0)
    for device in ("cpu", gpu):
        clf = BrainJEPAClassifier(
            pretrainer=cpu_model,
            lr=1e-3,
            max_epochs=40,
            patience=10,
            module__readout="connectivity",
            module__head_norm="batchnorm",
            train_split=predefined_split(Dataset(X_va, y_va)),
            device=device,
            random_state=0,
        )
        _, seconds = _timed(lambda c=clf: c.fit(X_tr, y_tr))
        score = balanced_accuracy_score(y_te, clf.predict(X_te))
        rows.append(
            [
                f"fine-tune (connectivity head) on {device}",
                f"{seconds:.1f}",
                f"test bal. acc. {score:.3f}, {len(clf.history)} epochs",
            ]
        )

    total = time.perf_counter() - tic
    lines = report_header(
        "# GPU check",
        quick=False,
        started=started,
        seconds=total,
        machine=machine_markdown(machine),
    )
    lines += [
        f"- Data: `make_brain_dynamics(n_subjects={args.n_subjects}, n_rois=20, "
        "n_timepoints=160, random_state=0)`, `SubjectRobustScaling`.",
        f"- Pretraining: `BrainJEPAPretrainer('tiny', max_epochs={args.epochs}, "
        "batch_size=16, random_state=0)` on the CPU (float32) and on CUDA "
        "(float32; bfloat16 autocast). Weight differences: the L2 norm of the "
        "difference of all target-encoder parameters over the CPU model's norm. "
        "Feature differences: the largest absolute difference over the largest "
        "CPU feature magnitude.",
        "- Embedding: the CPU-trained model's target encoder on each device "
        "(float32), every 2-D readout.",
        "- Probe: `linear_probe(..., readout='connectivity', n_repeats=5, "
        "random_state=0)` of each model. Fine-tuning: the CPU model, "
        "connectivity head, BatchNorm, lr 1e-3, early stopping (patience 10) "
        "on the validation part of `train_val_test_split(random_state=0)`.",
        "",
        "## Results",
        "",
        markdown_table(["step", "seconds", "result"], rows),
    ]
    report = "\n".join(lines) + "\n"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.md").write_text(report, encoding="utf-8")
    logger.info("\n%s", report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
