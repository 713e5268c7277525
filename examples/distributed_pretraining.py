"""Data-parallel Brain-JEPA pretraining with torchrun, checkpointed and resumable.

The same script runs alone or as N processes; ``BrainJEPAPretrainer`` notices
the ``torchrun`` launch, joins the process group (gloo on CPUs, NCCL on GPUs)
and trains with ``DistributedDataParallel``; ``batch_size`` stays the global
batch. Only rank 0 writes the checkpoint and the final model.

Run from the repository root:

    # 2 processes on the CPU (or 2 GPUs), about a minute:
    torchrun --standalone --nproc_per_node 2 examples/distributed_pretraining.py

    # 4 GPUs on each of 2 nodes (run on both nodes; node-rank 0 and 1):
    torchrun --nnodes 2 --node-rank 0 --nproc_per_node 4 \\
        --rdzv-backend c10d --rdzv-endpoint host0:29500 \\
        examples/distributed_pretraining.py --data cohort.npy --epochs 300

    # Kill it at any time and start the same command again with --resume:
    # training continues from the last checkpoint.

``--data`` takes a ``.npy`` file of shape (n_subjects, n_rois, n_timepoints),
already scaled (``ROIRobustScaler``); without it the script simulates a cohort.
"""

import argparse
import logging
import os
from pathlib import Path

import numpy as np
import torch

from sk_brainjepa import BrainJEPAPretrainer, ROIRobustScaler, make_brain_dynamics

log = logging.getLogger("distributed_pretraining")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help=".npy file (S, R, T), scaled")
    parser.add_argument("--out", type=Path, default=Path("brainjepa_run"))
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=16, help="global batch")
    parser.add_argument("--n-timepoints", type=int, default=160)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--quick", action="store_true", help="tiny data and model")
    args = parser.parse_args()
    rank = int(os.environ.get("RANK", "0"))
    # The GPU of this process is the launcher's choice, not the library's:
    # BrainJEPAPretrainer trains on cuda:{LOCAL_RANK} for device="cuda" and
    # passes it explicitly; making it current too helps any other CUDA code.
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    logging.basicConfig(
        level=logging.INFO if rank == 0 else logging.WARNING,
        format=f"[rank {rank}] %(message)s",
    )

    if args.data is not None:
        X = np.load(args.data, mmap_mode="r")
    else:
        n_subjects, n_rois, n_timepoints = (32, 8, 64) if args.quick else (200, 20, 200)
        X, _ = make_brain_dynamics(
            n_subjects=n_subjects,
            n_rois=n_rois,
            n_timepoints=n_timepoints,
            random_state=args.seed,
        )
        X = ROIRobustScaler().fit_transform(X)
    n_timepoints = 32 if args.quick else args.n_timepoints

    args.out.mkdir(parents=True, exist_ok=True)
    pretrainer = BrainJEPAPretrainer(
        args.model,
        window_length=n_timepoints,
        max_epochs=2 if args.quick else args.epochs,
        batch_size=args.batch_size,
        checkpoint_path=args.out / "training.ckpt",
        resume=args.resume,
        random_state=args.seed,
        verbose=1,
    ).fit(X)
    if rank == 0:
        path = pretrainer.save(args.out / "model.pt")
        log.info(
            "saved %s; loss %.4f -> %.4f",
            path,
            pretrainer.history_[0]["loss"],
            pretrainer.history_[-1]["loss"],
        )


if __name__ == "__main__":
    main()
