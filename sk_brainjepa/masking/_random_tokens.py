"""Random token masking, the ablation baseline for spatiotemporal masking."""

from __future__ import annotations

from numbers import Real

import torch

from sk_brainjepa.masking._base import _check_grid, _Masker
from sk_brainjepa.masking._masks import MaskBatch, _random_permutations

__all__ = ["RandomTokenMasker"]


class RandomTokenMasker(_Masker):
    """Observe and predict uniformly random tokens (no block structure).

    For every sample the ``n_rois * n_time_patches`` tokens are shuffled; the
    first ``int(observation_ratio * n_tokens)`` are observed and the next
    ``int(target_ratio * n_tokens)`` are targets. The two sets are disjoint and
    their sizes are the same for every sample and batch.

    Parameters
    ----------
    n_rois : int
        Number of ROIs.
    n_time_patches : int
        Number of time patches per ROI.
    observation_ratio : float, default=0.3
        Fraction of the tokens observed, in (0, 1).
    target_ratio : float, default=0.24
        Fraction of the tokens predicted, in (0, 1). The defaults match the
        expected observation and target fractions of
        :class:`SpatiotemporalMasker`'s defaults at 450 x 10, so that the
        ablation changes the structure of the masks, not their size.

    Attributes
    ----------
    n_tokens : int
        ``n_rois * n_time_patches``.

    See Also
    --------
    SpatiotemporalMasker : the paper's structured masking.

    Notes
    -----
    Random tokens have no cross-ROI / cross-time structure, so every target
    token is labelled kind 0 in ``MaskBatch.target_kind``; the label carries no
    meaning here. ``observation_rois`` and ``observation_window`` are ``None``.

    Examples
    --------
    >>> import torch
    >>> from sk_brainjepa.masking import RandomTokenMasker
    >>> masks = RandomTokenMasker(8, 4, observation_ratio=0.25, target_ratio=0.5)(
    ...     3, torch.Generator().manual_seed(0))
    >>> masks.observation.shape, masks.target.shape
    (torch.Size([3, 8]), torch.Size([3, 16]))
    """

    def __init__(
        self,
        n_rois: int,
        n_time_patches: int,
        *,
        observation_ratio: float = 0.3,
        target_ratio: float = 0.24,
    ):
        self.n_rois, self.n_time_patches = _check_grid(n_rois, n_time_patches, 1, "")
        for name, value in (
            ("observation_ratio", observation_ratio),
            ("target_ratio", target_ratio),
        ):
            if (
                isinstance(value, bool)
                or not isinstance(value, Real)
                or not (0 < value < 1)
            ):
                raise ValueError(f"{name} must be a float in (0, 1); got {value!r}.")
        self.observation_ratio = float(observation_ratio)
        self.target_ratio = float(target_ratio)
        n_tokens = self.n_tokens
        n_obs, n_tgt = self._sizes()
        if n_obs + n_tgt > n_tokens:
            raise ValueError(
                f"observation_ratio={observation_ratio} and target_ratio="
                f"{target_ratio} ask for {n_obs} + {n_tgt} tokens but the grid "
                f"n_rois={n_rois} x n_time_patches={n_time_patches} has only "
                f"{n_tokens}; lower the ratios."
            )

    def _sizes(self) -> tuple[int, int]:
        # At least one token of each, so the batch is usable on tiny grids.
        return (
            max(1, int(self.observation_ratio * self.n_tokens)),
            max(1, int(self.target_ratio * self.n_tokens)),
        )

    def _sample(self, batch_size: int, generator: torch.Generator) -> MaskBatch:
        n_obs, n_tgt = self._sizes()
        perm = _random_permutations(batch_size, self.n_tokens, generator)
        target = perm[:, n_obs : n_obs + n_tgt].sort(dim=1).values
        return MaskBatch(
            observation=perm[:, :n_obs].sort(dim=1).values,
            target=target,
            target_kind=torch.zeros_like(target),
        )
