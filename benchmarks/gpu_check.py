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

It writes the measurements to ``<out>/gpu_check.json`` and the Markdown report
rendered from them (machine, protocol, a table of differences and times) to
``<out>/gpu_check.md``, and prints the report. On a machine without CUDA it
says so and exits with status 1.

Run from the repository root::

    python benchmarks/gpu_check.py --out benchmarks/results
    python benchmarks/gpu_check.py --render benchmarks/results/gpu_check.json
"""

from __future__ import annotations

import argparse
import logging
import time

import torch
from _common import (
    add_render_option,
    markdown_table,
    max_relative_difference,
    now,
    report_header,
    rerender,
    run_record,
    save_run,
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
from sk_brainjepa.preprocessing import SubjectRobustScaler

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


def measure(args, results: dict) -> None:
    """Run every check; the measurements go into ``results``."""
    gpu = args.device
    X, pheno = make_brain_dynamics(
        n_subjects=args.n_subjects, n_rois=20, n_timepoints=160, random_state=0
    )
    X = SubjectRobustScaler().fit_transform(X)

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

    models, fits = {}, []
    for device, precision in (
        ("cpu", "float32"),
        (gpu, "float32"),
        (gpu, "bfloat16"),
    ):
        model, seconds = _timed(lambda d=device, p=precision: pretrain(d, p))
        models[(device, precision)] = model
        fits.append(
            {
                "device": device,
                "precision": precision,
                "seconds": seconds,
                "last_loss": model.history_[-1]["loss"],
            }
        )
    results["fits"] = fits
    cpu_model = models[("cpu", "float32")]
    results["weights"] = [
        {
            "device": key[0],
            "precision": key[1],
            "rel_l2_diff": _weight_difference(models[key], cpu_model),
        }
        for key in ((gpu, "float32"), (gpu, "bfloat16"))
    ]

    # Same (CPU-trained) weights embedded on both devices: the kernels alone.
    embeddings = []
    for readout in READOUTS:
        feats, times = {}, []
        for device in ("cpu", gpu):
            embedder = BrainJEPAEmbedder(
                pretrainer=cpu_model, readout=readout, device=device
            ).fit(X)
            feats[device], seconds = _timed(lambda e=embedder: e.transform(X))
            times.append({"device": device, "seconds": seconds})
        embeddings.append(
            {
                "readout": readout,
                "device": gpu,
                "seconds": times,
                "max_rel_diff": max_relative_difference(feats[gpu], feats["cpu"]),
            }
        )
    results["embeddings"] = embeddings

    y = pheno["sex"].to_numpy()
    probes = []
    for (device, precision), model in models.items():
        table = linear_probe(
            model, X, y, readout="connectivity", n_repeats=5, random_state=0
        )
        probes.append(
            {
                "device": device,
                "precision": precision,
                "balanced_accuracy": table.loc[range(5), "balanced_accuracy"].tolist(),
                "mean": table.loc["mean", "balanced_accuracy"],
                "std": table.loc["std", "balanced_accuracy"],
            }
        )
    results["probes"] = probes

    X_tr, X_va, X_te, y_tr, y_va, y_te = train_val_test_split(X, y, random_state=0)
    finetunes = []
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
        finetunes.append(
            {
                "device": device,
                "seconds": seconds,
                "balanced_accuracy": balanced_accuracy_score(y_te, clf.predict(X_te)),
                "epochs": len(clf.history),
            }
        )
    results["finetunes"] = finetunes


def result_rows(results: dict) -> list[list]:
    """The ``step | seconds | result`` rows of the report, in the run's order."""
    rows = [
        [
            f"fit {f['device']} {f['precision']}",
            f"{f['seconds']:.1f}",
            f"last loss {f['last_loss']:.5f}",
        ]
        for f in results["fits"]
    ]
    rows += [
        [
            f"weights {w['device']} {w['precision']} vs cpu",
            "",
            f"rel. L2 diff. {w['rel_l2_diff']:.2e}",
        ]
        for w in results["weights"]
    ]
    for e in results["embeddings"]:
        rows += [
            [f"embed {e['readout']} on {t['device']}", f"{t['seconds']:.2f}", ""]
            for t in e["seconds"]
        ]
        rows.append(
            [
                f"embed {e['readout']}: {e['device']} vs cpu",
                "",
                f"max rel. diff. {e['max_rel_diff']:.2e}",
            ]
        )
    rows += [
        [
            f"connectivity probe, sex, model {p['device']} {p['precision']}",
            "",
            f"bal. acc. {p['mean']:.3f} ± {p['std']:.3f}",
        ]
        for p in results["probes"]
    ]
    rows += [
        [
            f"fine-tune (connectivity head) on {f['device']}",
            f"{f['seconds']:.1f}",
            f"test bal. acc. {f['balanced_accuracy']:.3f}, {f['epochs']} epochs",
        ]
        for f in results["finetunes"]
    ]
    return rows


def render(results: dict) -> str:
    """The Markdown report of a run record of ``main``."""
    cfg = results["settings"]
    lines = report_header("# GPU check", results)
    lines += [
        f"- Data: `make_brain_dynamics(n_subjects={cfg['n_subjects']}, n_rois=20, "
        "n_timepoints=160, random_state=0)`, `SubjectRobustScaler`.",
        f"- Pretraining: `BrainJEPAPretrainer('tiny', max_epochs={cfg['epochs']}, "
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
        markdown_table(["step", "seconds", "result"], result_rows(results)),
    ]
    return "\n".join(lines) + "\n"


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
    add_render_option(parser)
    args = parser.parse_args(argv)
    if args.render is not None:
        rerender(args.render, render, "gpu_check")
        return 0
    setup_logging()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        logger.error("no CUDA device: nothing to check")
        return 1
    started, tic = now(), time.perf_counter()
    results = run_record(
        "gpu_check",
        quick=False,
        started=started,
        settings={
            "device": args.device,
            "epochs": args.epochs,
            "n_subjects": args.n_subjects,
        },
    )
    measure(args, results)
    results["wall_seconds"] = time.perf_counter() - tic
    _, md_path = save_run(args.out, "gpu_check", results, render)
    logger.info("\n%s", md_path.read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
