"""``sk-brainjepa convert-official``: the official checkpoint -> a pretrained folder.

The subcommand's parser and handler; the work is
:func:`sk_brainjepa.estimators.convert_official_checkpoint`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sk_brainjepa.cli._inputs import CommandError, check_gradient_file, check_input_file

__all__ = ["add_convert_parser", "convert_official"]

logger = logging.getLogger("sk_brainjepa.cli")


def add_convert_parser(subparsers) -> None:
    """Register ``convert-official`` on the ``sk-brainjepa`` subparsers."""
    sub = subparsers.add_parser(
        "convert-official",
        help="Official checkpoint + gradient CSV -> pretrained model folder.",
        description="Convert the official Brain-JEPA checkpoint (jepa-ep300.pth.tar, "
        "read with torch.load(weights_only=True)) and gradient_mapping_450.csv into "
        "a folder that carries its gradients, scaling, TR (2.205 s), window (160 "
        "frames) and ROI order: 'sk-brainjepa embed FOLDER data/' and "
        "BrainJEPAEmbedder(checkpoint=FOLDER) then need nothing else.",
    )
    sub.add_argument("checkpoint", help="The official checkpoint file.")
    sub.add_argument(
        "--gradients",
        required=True,
        help="The official gradient file (gradient_mapping_450.csv); copied into "
        "the folder.",
    )
    sub.add_argument("--out", required=True, help="Folder to write (must not exist).")
    sub.add_argument(
        "--preprocessing",
        choices=("downstream", "none"),
        default="downstream",
        help="'downstream' records the official downstream scaling (a z-score of "
        "each run over ROIs x time), which loading applies to raw input; 'none' "
        "records no scaling (default: downstream).",
    )
    sub.add_argument(
        "--n-heads",
        type=int,
        default=None,
        help="Attention heads, when not the official value for the width.",
    )
    sub.add_argument(
        "--overwrite",
        action="store_true",
        help="Replace a non-empty --out folder (only once the new one is complete).",
    )
    sub.set_defaults(handler=convert_official)


def convert_official(args) -> None:
    """``sk-brainjepa convert-official``: write the folder, log what it holds."""
    from sk_brainjepa.estimators import convert_official_checkpoint

    checkpoint = check_input_file(Path(args.checkpoint), "checkpoint")
    check_gradient_file(args.gradients)
    out = Path(args.out)
    if not out.parent.is_dir():
        raise CommandError(f"output folder {out.parent} does not exist.")
    try:
        folder = convert_official_checkpoint(
            checkpoint,
            args.gradients,
            out,
            preprocessing=args.preprocessing,
            n_heads=args.n_heads,
            overwrite=args.overwrite,
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    logger.info(
        "wrote %s; embed with: sk-brainjepa embed %s DATA --out F.csv", folder, folder
    )
