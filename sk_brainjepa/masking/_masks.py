"""Core mask types: the mask container, the token gather, sampling helpers.

:class:`MaskBatch` and :data:`TARGET_KINDS` describe masks; :func:`apply_masks` is
the package's one token gather (the maskers' users, and the encoder and predictor
in :mod:`sk_brainjepa.nn`, use it); the private helpers serve the maskers.

Tokens of one sample lie on a grid of ``n_rois`` x ``n_time_patches``; the flat
token index is ``n = roi * n_time_patches + t`` (ROI-major), the order in which the
patch embedding flattens ``(n_rois, n_time_patches)``. Every helper here is
vectorised over the batch and draws all of its randomness from an explicit
``torch.Generator``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from numbers import Real

import torch
from torch import Tensor

from sk_brainjepa._utils._validation import check_int

#: Names of the target kinds, indexed by the values of ``MaskBatch.target_kind``.
TARGET_KINDS = ("cross_roi", "cross_time", "double_cross")


@dataclass(frozen=True, eq=False)
class MaskBatch:
    """Observation and target token indices for one batch.

    Parameters
    ----------
    observation : LongTensor of shape (batch_size, n_observation)
        Flat token indices the context encoder sees, sorted ascending per row.
    target : LongTensor of shape (batch_size, n_target)
        Flat token indices whose target-encoder features are predicted.
    target_kind : LongTensor of shape (batch_size, n_target)
        Kind of each target token: 0 = cross-ROI (alpha), 1 = cross-time (beta),
        2 = double-cross (gamma); see :data:`TARGET_KINDS`.
    observation_rois : BoolTensor of shape (batch_size, n_rois) or None, default=None
        The observed ROI set drawn by the masker (before targets are removed),
        for diagnostics and tests. ``None`` for maskers without such a set.
    observation_window : LongTensor of shape (batch_size, 2) or None, default=None
        Start and stop (exclusive) of the observed time-patch window, for
        diagnostics and tests.

    Notes
    -----
    Every row has the same number of observation and target tokens, so the
    indices stack into rectangular tensors that :func:`apply_masks` can gather.
    Equality is identity (``eq=False``): comparing tensors element-wise has no
    single truth value.

    Examples
    --------
    >>> import torch
    >>> from sk_brainjepa.masking import MaskBatch
    >>> masks = MaskBatch(observation=torch.tensor([[0, 1], [2, 3]]),
    ...                   target=torch.tensor([[5], [4]]),
    ...                   target_kind=torch.tensor([[0], [2]]))
    >>> masks.kind_counts()
    tensor([[1, 0, 0],
            [0, 0, 1]])
    """

    observation: Tensor
    target: Tensor
    target_kind: Tensor
    observation_rois: Tensor | None = None
    observation_window: Tensor | None = None

    def __post_init__(self):
        # Shape/dtype checks only: value checks would force a device sync.
        for name in ("observation", "target", "target_kind"):
            value = getattr(self, name)
            if not isinstance(value, Tensor) or value.ndim != 2:
                raise ValueError(
                    f"MaskBatch.{name} must be a 2-D tensor of shape (batch_size, k); "
                    f"got {_describe(value)}."
                )
            if value.dtype != torch.long:
                raise ValueError(
                    f"MaskBatch.{name} must have dtype torch.long; got {value.dtype}."
                )
        batch_size = self.observation.shape[0]
        if self.target.shape[0] != batch_size:
            raise ValueError(
                f"MaskBatch.target has {self.target.shape[0]} rows but observation "
                f"has {batch_size}; both must have one row per sample."
            )
        if self.target_kind.shape != self.target.shape:
            raise ValueError(
                "MaskBatch.target_kind must have the shape of target "
                f"{tuple(self.target.shape)}; got {tuple(self.target_kind.shape)}."
            )
        if self.observation_rois is not None and (
            self.observation_rois.ndim != 2
            or self.observation_rois.shape[0] != batch_size
            or self.observation_rois.dtype != torch.bool
        ):
            raise ValueError(
                "MaskBatch.observation_rois must be a bool tensor of shape "
                f"({batch_size}, n_rois); got {_describe(self.observation_rois)}."
            )
        if self.observation_window is not None and tuple(
            self.observation_window.shape
        ) != (batch_size, 2):
            raise ValueError(
                "MaskBatch.observation_window must have shape "
                f"({batch_size}, 2); got {_describe(self.observation_window)}."
            )

    @property
    def batch_size(self) -> int:
        """Number of samples (rows)."""
        return self.observation.shape[0]

    @property
    def n_observation(self) -> int:
        """Number of observation tokens per sample."""
        return self.observation.shape[1]

    @property
    def n_target(self) -> int:
        """Number of target tokens per sample."""
        return self.target.shape[1]

    def kind_counts(self) -> Tensor:
        """Count the target tokens of each kind.

        Returns
        -------
        counts : LongTensor of shape (batch_size, 3)
            Column ``k`` counts the tokens of kind ``TARGET_KINDS[k]``.
        """
        kinds = torch.arange(len(TARGET_KINDS), device=self.target_kind.device)
        return (self.target_kind.unsqueeze(-1) == kinds).sum(dim=1)

    def to(self, device, non_blocking: bool = False) -> MaskBatch:
        """Return a copy with every tensor moved to ``device``.

        Parameters
        ----------
        device : str or torch.device
            Destination device.
        non_blocking : bool, default=False
            Passed to :meth:`torch.Tensor.to` (useful with pinned memory).

        Returns
        -------
        masks : MaskBatch
        """
        moved = {}
        for field in fields(self):
            value = getattr(self, field.name)
            moved[field.name] = (
                None if value is None else value.to(device, non_blocking=non_blocking)
            )
        return MaskBatch(**moved)

    def rows(self, start: int, stop: int) -> MaskBatch:
        """The masks of samples ``start`` to ``stop - 1`` (a view, not a copy).

        Data-parallel ranks draw the masks of the whole global batch from the
        same generator and keep their own rows, so that N ranks train on
        exactly the masks that one process would draw for the global batch.

        Parameters
        ----------
        start, stop : int
            Row range, ``0 <= start < stop <= batch_size``.

        Returns
        -------
        masks : MaskBatch
        """
        batch_size = self.observation.shape[0]
        if not 0 <= start < stop <= batch_size:
            raise ValueError(
                f"rows({start}, {stop}) is not a non-empty range of a batch of "
                f"{batch_size} masks."
            )
        return MaskBatch(
            **{
                field.name: None
                if getattr(self, field.name) is None
                else getattr(self, field.name)[start:stop]
                for field in fields(self)
            }
        )


def apply_masks(x: Tensor, idx: Tensor) -> Tensor:
    """Gather the tokens listed in ``idx`` from every sample of ``x``.

    The package's one token gather: the trainer, the encoder (its context
    tokens) and the predictor (positional embeddings) all select tokens with it.

    Parameters
    ----------
    x : Tensor of shape (batch_size, n_tokens, n_features)
        Token features.
    idx : LongTensor of shape (batch_size, k)
        Flat token indices per sample, e.g. ``MaskBatch.observation``. Indices
        must lie in ``[0, n_tokens)``; they are not range-checked here, because
        that would force a device sync (``torch.gather`` itself fails loudly on
        CPU and raises a device-side assert on CUDA).

    Returns
    -------
    tokens : Tensor of shape (batch_size, k, n_features)
        ``tokens[b, j] = x[b, idx[b, j]]``.

    Examples
    --------
    >>> import torch
    >>> from sk_brainjepa.masking import apply_masks
    >>> x = torch.arange(12.0).reshape(2, 3, 2)
    >>> apply_masks(x, torch.tensor([[2], [0]]))
    tensor([[[4., 5.]],
    <BLANKLINE>
            [[6., 7.]]])
    """
    if not isinstance(x, Tensor) or x.ndim != 3:
        raise ValueError(
            "x must be a tensor of shape (batch_size, n_tokens, n_features); "
            f"got {_describe(x)}."
        )
    if not isinstance(idx, Tensor) or idx.ndim != 2:
        raise ValueError(
            f"idx must be a tensor of shape (batch_size, k); got {_describe(idx)}."
        )
    if idx.shape[0] != x.shape[0]:
        raise ValueError(
            f"idx has {idx.shape[0]} rows but x has batch size {x.shape[0]}; "
            "expected one row of indices per sample."
        )
    if idx.dtype.is_floating_point or idx.dtype == torch.bool or idx.is_complex():
        raise ValueError(f"idx must hold integer indices; got dtype {idx.dtype}.")
    idx = idx.to(device=x.device, dtype=torch.long)
    return torch.gather(x, 1, idx.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


# --------------------------------------------------------------------------
# Private helpers shared by the maskers
# --------------------------------------------------------------------------


def _describe(value) -> str:
    if isinstance(value, Tensor):
        return f"tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    return f"{type(value).__name__}"


def _check_scale(name: str, scale, *, allow_zero: bool = False) -> tuple[float, float]:
    """Validate a ``(low, high)`` fraction range: ``0 < low <= high <= 1``."""
    lower = "0 <= low" if allow_zero else "0 < low"
    if (
        not isinstance(scale, Sequence)
        or isinstance(scale, str)
        or len(scale) != 2
        or not all(isinstance(v, Real) and not isinstance(v, bool) for v in scale)
    ):
        raise ValueError(
            f"{name} must be a (low, high) pair of floats with {lower} <= high <= 1; "
            f"got {scale!r}."
        )
    low, high = float(scale[0]), float(scale[1])
    low_ok = low >= 0 if allow_zero else low > 0
    if not (low_ok and low <= high <= 1):
        raise ValueError(
            f"{name} must satisfy {lower} <= high <= 1; got ({low}, {high})."
        )
    return low, high


def _check_block_scale(name: str, scale) -> tuple[tuple[float, float], ...]:
    """Validate a target block's ``((roi_low, roi_high), (time_low, time_high))``."""
    if not isinstance(scale, Sequence) or isinstance(scale, str) or len(scale) != 2:
        raise ValueError(
            f"{name} must be a pair of ranges ((roi_low, roi_high), "
            f"(time_low, time_high)); got {scale!r}."
        )
    return (
        _check_scale(f"{name}[0] (ROI fraction)", scale[0]),
        _check_scale(f"{name}[1] (time fraction)", scale[1]),
    )


def _check_call(batch_size, generator) -> int:
    if not isinstance(generator, torch.Generator):
        raise TypeError(
            "generator must be a torch.Generator (e.g. "
            "torch.Generator().manual_seed(0)); got "
            f"{type(generator).__name__}. Masks never use the global RNG."
        )
    return check_int(batch_size, "batch_size")


def _scaled_size(n: int, scale: tuple[float, float], u: float) -> int:
    """``int(n * U(low, high))`` from a uniform draw ``u`` in [0, 1).

    Flooring, as the official collator does, so the size lies in
    ``[floor(low * n), floor(high * n)]``.
    """
    low, high = scale
    return int(n * (low + (high - low) * u))


def _uniforms(n: int, generator: torch.Generator) -> list[float]:
    """``n`` scalar uniforms in [0, 1), returned as Python floats."""
    return torch.rand(n, generator=generator, device=generator.device).tolist()


def _randint(high: int, batch_size: int, generator: torch.Generator) -> Tensor:
    """Uniform integers in ``[0, high)`` (upper bound exclusive), one per sample."""
    return torch.randint(
        0, high, (batch_size,), generator=generator, device=generator.device
    )


def _random_permutations(batch_size: int, m: int, generator: torch.Generator) -> Tensor:
    """An independent uniform permutation of ``range(m)`` per row.

    Returns
    -------
    perms : LongTensor of shape (batch_size, m)
    """
    if generator.device.type == "cpu":
        # One randperm per row: a linear shuffle, several times faster on CPU
        # than arg-sorting random keys.
        return torch.stack(
            [torch.randperm(m, generator=generator) for _ in range(batch_size)]
        )
    # On accelerators the batched sort wins over a Python loop.
    keys = torch.rand(batch_size, m, generator=generator, device=generator.device)
    return keys.argsort(dim=1)


def _random_subset(pool: Tensor, counts, generator: torch.Generator) -> Tensor:
    """Pick ``counts`` random members of ``pool`` in every row.

    Parameters
    ----------
    pool : BoolTensor of shape (batch_size, m)
        Allowed positions per row.
    counts : int or LongTensor of shape (batch_size,)
        How many to pick per row; capped by the pool size.
    generator : torch.Generator

    Returns
    -------
    chosen : BoolTensor of shape (batch_size, m)
        A uniformly random subset of each row's pool (not contiguous).
    """
    batch_size, m = pool.shape
    perm = _random_permutations(batch_size, m, generator)
    # Visit positions in random order; keep the first ``counts`` pool members.
    in_pool = pool.gather(1, perm)
    if isinstance(counts, Tensor):
        counts = counts.unsqueeze(1)
    take = in_pool & (in_pool.cumsum(dim=1) <= counts)
    return torch.zeros_like(pool).scatter_(1, perm, take)


def _sorted_members(mask: Tensor) -> tuple[Tensor, Tensor]:
    """Ascending positions of each row's true entries, zero-padded, and counts.

    Parameters
    ----------
    mask : BoolTensor of shape (batch_size, m)

    Returns
    -------
    members : LongTensor of shape (batch_size, max(1, max_count))
    counts : LongTensor of shape (batch_size,)
    """
    positions = torch.arange(mask.shape[1], device=mask.device)
    members = _compact(mask, positions.repeat(mask.shape[0], 1))
    if members.shape[1] == 0:  # keep one column so that gathers stay valid
        members = positions.new_zeros(mask.shape[0], 1)
    return members, mask.sum(dim=1)


def _compact(valid: Tensor, values: Tensor) -> Tensor:
    """Each row's valid values, in order, moved to the front.

    Parameters
    ----------
    valid : BoolTensor of shape (batch_size, m)
    values : Tensor of shape (batch_size, m)

    Returns
    -------
    packed : Tensor of shape (batch_size, max_count)
        Zero-padded where a row has fewer than ``max_count`` valid values.
    """
    batch_size, m = valid.shape
    width = int(valid.sum(dim=1).max()) if m else 0
    # Value j goes to slot "valid entries before j"; the rest to a spare
    # column. Scatter instead of nonzero/advanced indexing keeps every op small
    # and single-threaded, which matters on a busy CPU (DataLoader workers).
    slot = torch.where(valid, valid.cumsum(dim=1) - 1, width)
    packed = values.new_zeros(batch_size, width + 1)
    return packed.scatter_(1, slot, values)[:, :width].contiguous()


def _random_keep(
    valid: Tensor, generator: torch.Generator, kinds: Tensor | None = None
) -> Tensor:
    """Cut every row to the batch's smallest number of valid entries, at random.

    Rows with more valid entries than the smallest row lose a uniformly random
    subset of them (not the highest indices, as in the official collator). When
    ``kinds`` is given, one random entry of each kind present in a row is always
    kept, so truncation never removes a kind entirely.

    Parameters
    ----------
    valid : BoolTensor of shape (batch_size, m)
    generator : torch.Generator
    kinds : LongTensor of shape (batch_size, m) or None, default=None
        Kind of every entry (only read where ``valid`` is true).

    Returns
    -------
    kept : BoolTensor of shape (batch_size, m)
        A subset of ``valid`` with the same count in every row.
    """
    counts = valid.sum(dim=1)
    k = int(counts.min())
    if bool((counts == k).all()):
        return valid
    # Visit every row's entries in a random order: first the first entry of
    # each kind (so that no kind disappears), then the others, until k.
    perm = _random_permutations(valid.shape[0], valid.shape[1], generator)
    visit = valid.gather(1, perm)
    forced = torch.zeros_like(visit)
    if kinds is not None:
        visit_kinds = kinds.gather(1, perm)
        for kind in range(len(TARGET_KINDS)):
            of_kind = visit & (visit_kinds == kind)
            forced |= of_kind & (of_kind.cumsum(dim=1) == 1)
    others = visit & ~forced
    room = k - forced.sum(dim=1, keepdim=True)
    take = forced | (others & (others.cumsum(dim=1) <= room))
    return torch.zeros_like(valid).scatter_(1, perm, take)
