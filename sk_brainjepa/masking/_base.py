"""The base class of the maskers and the checks and result they share."""

from __future__ import annotations

import inspect

import torch
from torch import Tensor

from sk_brainjepa._utils._validation import check_int
from sk_brainjepa.masking._masks import MaskBatch, _check_call


class _Masker:
    """Base of the maskers: the token grid, ``repr`` and the checked call.

    A subclass stores every ``__init__`` parameter under its own name (the
    ``repr`` lists them in signature order) and draws one batch in
    ``_sample(batch_size, generator)``.
    """

    n_rois: int
    n_time_patches: int

    @property
    def n_tokens(self) -> int:
        return self.n_rois * self.n_time_patches

    def __repr__(self) -> str:
        names = inspect.signature(type(self)).parameters
        args = ", ".join(f"{name}={getattr(self, name)}" for name in names)
        return f"{type(self).__name__}({args})"

    def __call__(self, batch_size: int, generator: torch.Generator) -> MaskBatch:
        """Sample the masks of one batch.

        Parameters
        ----------
        batch_size : int
            Number of samples.
        generator : torch.Generator
            Source of all randomness (sizes and positions). Tensors are created
            on ``generator.device``.

        Returns
        -------
        masks : MaskBatch
            Observation and target sorted per row; the class Notes say what
            ``target_kind``, ``observation_rois`` and ``observation_window``
            hold.
        """
        return self._sample(_check_call(batch_size, generator), generator)

    def _sample(self, batch_size: int, generator: torch.Generator) -> MaskBatch:
        raise NotImplementedError


def _block_masks(
    observation: Tensor,
    target: Tensor,
    target_kind: Tensor,
    rois: Tensor,
    start: Tensor,
    n_window: int,
) -> MaskBatch:
    """The masks of a masker that draws an ROI set ``rois`` x a time window.

    The window is ``[start, start + n_window)`` per row, ``start`` of shape
    ``(batch_size,)``.
    """
    return MaskBatch(
        observation=observation,
        target=target,
        target_kind=target_kind,
        observation_rois=rois,
        observation_window=torch.stack([start, start + n_window], dim=1),
    )


def _check_grid(n_rois, n_time_patches, minimum: int, why: str) -> tuple[int, int]:
    """Validate the token grid; ``why`` ends the message of a too small one."""
    for name, value in (("n_rois", n_rois), ("n_time_patches", n_time_patches)):
        check_int(value, name)
    if n_rois < minimum or n_time_patches < minimum:
        raise ValueError(
            f"The grid n_rois={n_rois} x n_time_patches={n_time_patches} is too "
            f"small{why}"
        )
    return int(n_rois), int(n_time_patches)
