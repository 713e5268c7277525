"""Brain-JEPA spatiotemporal masking as the paper describes it (the default)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from sk_brainjepa._utils._validation import check_int
from sk_brainjepa.masking._base import _block_masks, _check_grid, _Masker
from sk_brainjepa.masking._masks import (
    MaskBatch,
    _check_block_scale,
    _check_scale,
    _compact,
    _randint,
    _random_keep,
    _random_subset,
    _scaled_size,
    _sorted_members,
    _uniforms,
)

__all__ = ["SpatiotemporalMasker"]


class SpatiotemporalMasker(_Masker):
    """Sample observation and cross-ROI / cross-time / double-cross targets.

    One observation block and three kinds of target blocks, following the
    Brain-JEPA paper (Dong et al., 2024, Sec. 3.3). The observation is a random,
    non-contiguous set of ROIs ``O`` crossed with a contiguous window ``T`` of
    time patches. The targets are, relative to it:

    - cross-ROI (alpha, kind 0): ROIs outside ``O`` at times inside ``T``;
    - cross-time (beta, kind 1): ROIs in ``O`` at times outside ``T``;
    - double-cross (gamma, kind 2): ROIs outside ``O`` at times outside ``T``.

    Each target block is a random subset of its allowed ROIs crossed with a
    contiguous run of its allowed time patches.

    Parameters
    ----------
    n_rois : int
        Number of ROIs ``R`` (at least 2).
    n_time_patches : int
        Number of time patches ``W`` per ROI (at least 2).
    observation_roi_scale : tuple of float, default=(0.4, 0.6)
        Range of the observed fraction of ROIs.
    observation_time_scale : tuple of float, default=(0.5, 0.8)
        Range of the observed fraction of time patches (the window length).
    cross_roi_scale : tuple of two (float, float) tuples, \
            default=((0.3, 0.45), (0.3, 0.5))
        ``((roi_low, roi_high), (time_low, time_high))`` of each alpha block, as
        fractions of ``R`` and ``W`` (the paper's ``(eta_R, eta_T)``).
    cross_time_scale : tuple of two (float, float) tuples, \
            default=((0.15, 0.3), (0.2, 0.4))
        The same for each beta block.
    double_cross_scale : tuple of two (float, float) tuples, \
            default=((0.15, 0.3), (0.2, 0.4))
        The same for each gamma block.
    n_blocks : int, default=1
        Number of blocks of *each* kind; their union forms the target.
    forecast : bool, default=False
        Place the cross-time and double-cross targets only *after* the
        observation window, so that the context has to carry what predicts
        the future of the run (see Notes). Cross-ROI targets are unchanged.

    Attributes
    ----------
    n_tokens : int
        ``n_rois * n_time_patches``.

    See Also
    --------
    OfficialMasker : the official collator's algorithm, quirks included.
    RandomTokenMasker : random token masking (ablation).

    Notes
    -----
    **Sizes.** A size is ``floor(n * U(low, high))`` for ``n = R`` or ``W``,
    clamped to ``[1, pool]`` where ``pool`` is what the kind may use: the
    observation keeps at least one ROI and one time patch unobserved
    (``1 <= |O| <= R - 1``, ``1 <= |T| <= W - 1``); alpha uses at most the
    ``R - |O|`` unobserved ROIs and the ``|T|`` window patches; beta at most
    ``|O|`` ROIs and the ``W - |T|`` outside patches; gamma at most ``R - |O|``
    ROIs and ``W - |T|`` patches. So every kind has at least one token in every
    sample, by construction. All sizes are drawn once per batch and shared by
    its samples; positions are drawn per sample.

    **Time placement.** Alpha runs are contiguous, at a uniform offset inside the
    window. A beta/gamma run of length ``w`` is placed uniformly among all
    contiguous runs of ``w`` patches that avoid the window (before or after it).
    When neither side is long enough, it takes ``w`` consecutive patches of the
    outside patches listed in time order, so it spans the window and is split
    into a part before and a part after it.

    **Forecasting** (``forecast=True``). The beta and gamma runs lie after
    the window: a run of length ``w`` starts uniformly among the positions
    ``start + |T|, ..., W - w``. Their lengths are drawn first (clamped to
    ``W - |T|``, the room after a window at time 0), then the window start
    uniformly among the starts that leave room for the longest of them after
    the window, so at least one time patch follows the window and every
    sample keeps the batch's block sizes. Windows therefore sit earlier in
    the run than without forecasting. With ``forecast=False`` the draws are
    those of the rule above, call for call.

    **Overlap and counts.** The three kinds occupy disjoint regions of the
    grid, so they never overlap each other or the observation; target tokens
    are still removed from the observation explicitly. Targets of several
    blocks of one kind are de-duplicated (``n_blocks > 1``). With one block per
    kind every sample has the same counts; otherwise each row is cut to the
    batch minimum by dropping a random subset of its tokens (one token of each
    kind is always kept). Observation and targets are sorted per row.
    ``MaskBatch.observation_rois`` and ``observation_window`` hold ``O`` and
    ``T``.

    **Defaults.** The paper gives ``(eta_R, eta_T)`` ranges but its table was not
    readable here, and the official ranges only make sense for the official
    algorithm (its alpha rows are taken from all ROIs, then removed from the
    observation). The defaults give, at ``R=450, W=10``, an observation of about
    30% of the tokens (half the ROIs x 5-7 of 10 patches) and targets of about
    24%: alpha about 13% (0.3-0.45 of the ROIs x 3-4 patches), beta and gamma
    about 5.6% each (0.15-0.3 of the ROIs, as officially, x 2-3 patches). That
    keeps the paper's picture of an observation and targets of similar,
    moderate size, with alpha the largest kind, and is close to the official
    collator's effective sizes (observation about 18% and targets about 19%
    after its truncation; before truncation its observation averages about 28%).
    The official beta/gamma width may be 0; here it is at least one patch so
    that every kind is present in every sample.

    References
    ----------
    Dong, Z., Li, R. et al. (2024). Brain-JEPA: Brain Dynamics Foundation Model
    with Gradient Positioning and Spatiotemporal Masking. NeurIPS 2024,
    arXiv:2409.19407.

    Examples
    --------
    >>> import torch
    >>> from sk_brainjepa.masking import SpatiotemporalMasker
    >>> masker = SpatiotemporalMasker(8, 4)
    >>> masks = masker(2, torch.Generator().manual_seed(0))
    >>> masks.observation.shape[0], bool((masks.kind_counts() > 0).all())
    (2, True)
    """

    def __init__(
        self,
        n_rois: int,
        n_time_patches: int,
        *,
        observation_roi_scale=(0.4, 0.6),
        observation_time_scale=(0.5, 0.8),
        cross_roi_scale=((0.3, 0.45), (0.3, 0.5)),
        cross_time_scale=((0.15, 0.3), (0.2, 0.4)),
        double_cross_scale=((0.15, 0.3), (0.2, 0.4)),
        n_blocks: int = 1,
        forecast: bool = False,
    ):
        # Masker objects are not estimators: validating here fails fast, at
        # configuration time, instead of inside a DataLoader worker.
        self.n_rois, self.n_time_patches = _check_grid(
            n_rois,
            n_time_patches,
            2,
            ": spatiotemporal masking needs at least 2 ROIs and 2 time patches, "
            "so that some ROIs and times stay unobserved for the cross-ROI, "
            "cross-time and double-cross targets.",
        )
        self.observation_roi_scale = _check_scale(
            "observation_roi_scale", observation_roi_scale
        )
        self.observation_time_scale = _check_scale(
            "observation_time_scale", observation_time_scale
        )
        self.cross_roi_scale = _check_block_scale("cross_roi_scale", cross_roi_scale)
        self.cross_time_scale = _check_block_scale("cross_time_scale", cross_time_scale)
        self.double_cross_scale = _check_block_scale(
            "double_cross_scale", double_cross_scale
        )
        self.n_blocks = check_int(n_blocks, "n_blocks")
        if not isinstance(forecast, (bool, np.bool_)):
            raise ValueError(f"forecast must be True or False; got {forecast!r}.")
        self.forecast = bool(forecast)

    def _sample(self, batch_size: int, generator: torch.Generator) -> MaskBatch:
        n_rois, n_times = self.n_rois, self.n_time_patches
        device = generator.device

        # 1. Observation block: |O| ROIs (random, non-contiguous) x a window of
        #    |T| consecutive patches. Both stay below the full grid so that
        #    every target kind has somewhere to go.
        u_roi, u_time = _uniforms(2, generator)
        n_obs_rois = _clamp(
            _scaled_size(n_rois, self.observation_roi_scale, u_roi), 1, n_rois - 1
        )
        n_window = _clamp(
            _scaled_size(n_times, self.observation_time_scale, u_time), 1, n_times - 1
        )
        all_rois = torch.ones(batch_size, n_rois, dtype=torch.bool, device=device)
        obs_rois = _random_subset(all_rois, n_obs_rois, generator)  # (B, R)
        # What each kind may use: (scale, ROI pool, ROI pool size, time pool size)
        pools = (
            (self.cross_roi_scale, ~obs_rois, n_rois - n_obs_rois, n_window),
            (self.cross_time_scale, obs_rois, n_obs_rois, n_times - n_window),
            (
                self.double_cross_scale,
                ~obs_rois,
                n_rois - n_obs_rois,
                n_times - n_window,
            ),
        )
        start, sizes = self._window_start(pools, n_window, batch_size, generator)
        window = start[:, None] + torch.arange(n_window, device=device)  # (B, |T|)
        observation = _product(_sorted_members(obs_rois)[0], window, n_times)

        # 2. Target blocks, n_blocks of each kind, each with its own size. Every
        #    block is a product "ROI set x time run", enumerated directly (no
        #    token grid), so all tensors stay (batch_size, block size) small.
        outside = _run_after if self.forecast else _run_outside
        blocks, kinds = [], []
        for kind, pool in enumerate(pools):
            for block in range(self.n_blocks):
                if sizes is None:
                    n_block_rois, n_block_times = _block_size(
                        n_rois, n_times, pool, generator
                    )
                else:
                    n_block_rois, n_block_times = sizes[kind * self.n_blocks + block]
                rois, _ = _sorted_members(
                    _random_subset(pool[1], n_block_rois, generator)
                )
                place = _run_inside if kind == 0 else outside
                run = place(start, n_window, n_block_times, n_times, generator)
                blocks.append(_product(rois, run, n_times))
                kinds.append(torch.full_like(blocks[-1], kind))

        # 3. Sort, drop duplicates (blocks of one kind may overlap), and cut
        #    every row to the batch minimum by dropping random tokens.
        target, order = torch.cat(blocks, dim=1).sort(dim=1)
        target_kind = torch.cat(kinds, dim=1).gather(1, order)
        first = torch.ones_like(target, dtype=torch.bool)
        first[:, 1:] = target[:, 1:] != target[:, :-1]
        kept = _random_keep(first, generator, kinds=target_kind)
        target, target_kind = _compact(kept, target), _compact(kept, target_kind)

        # 4. Observation minus targets. A no-op by construction (the kinds'
        #    regions avoid O x T), kept so that the invariant does not rest on
        #    the pools alone.
        #    The observation is exactly O x T here, so a target token overlaps
        #    it iff its ROI is in O and its time in T (cheap, exact check).
        roi, time = target // n_times, target % n_times
        overlap = obs_rois.gather(1, roi) & (window[:, :1] <= time)
        overlap &= time < window[:, :1] + n_window
        if bool(overlap.any()):
            observation = _remove_tokens(observation, target, generator)
        return _block_masks(observation, target, target_kind, obs_rois, start, n_window)

    def _window_start(
        self, pools: tuple, n_window: int, batch_size: int, generator
    ) -> tuple[Tensor, list | None]:
        """First time patch of each row's window, and the block sizes if drawn.

        Parameters
        ----------
        pools : tuple of 3 tuples
            ``(scale, roi_pool, roi_room, time_room)`` of each kind.
        n_window : int
            Window length ``|T|``.
        batch_size : int
        generator : torch.Generator

        Returns
        -------
        start : LongTensor of shape (batch_size,)
        sizes : list of (int, int) or None
            With ``forecast``: ``(n_block_rois, n_block_times)`` of every
            block, kind by kind, drawn before the start because the window
            must leave room after itself for the longest cross-time or
            double-cross run. Otherwise None: the sizes are drawn block by
            block afterwards, as they always were.
        """
        n_times = self.n_time_patches
        if not self.forecast:
            return _randint(n_times - n_window + 1, batch_size, generator), None
        sizes = [
            _block_size(self.n_rois, n_times, pool, generator)
            for pool in pools
            for _ in range(self.n_blocks)
        ]
        longest = max(n_block_times for _, n_block_times in sizes[self.n_blocks :])
        return _randint(n_times - n_window - longest + 1, batch_size, generator), sizes


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(value, high))


def _block_size(
    n_rois: int, n_times: int, pool: tuple, generator: torch.Generator
) -> tuple[int, int]:
    """ROI count and run length of one target block, drawn from its scale.

    Parameters
    ----------
    n_rois, n_times : int
        The grid; the scale's fractions are of these.
    pool : tuple
        ``(scale, roi_pool, roi_room, time_room)`` of the block's kind: its
        ``((roi_low, roi_high), (time_low, time_high))`` and how many ROIs and
        time patches it may use at most.
    generator : torch.Generator
        Two scalar uniforms are drawn from it.

    Returns
    -------
    n_block_rois, n_block_times : int
        Each in ``[1, room]``.
    """
    scale, _, roi_room, time_room = pool
    u_roi, u_time = _uniforms(2, generator)
    n_block_rois = _clamp(_scaled_size(n_rois, scale[0], u_roi), 1, roi_room)
    n_block_times = _clamp(_scaled_size(n_times, scale[1], u_time), 1, time_room)
    return n_block_rois, n_block_times


def _product(rois: Tensor, times: Tensor, n_times: int) -> Tensor:
    """Flat indices of ``rois x times`` per row, ascending if both inputs are.

    Parameters
    ----------
    rois : LongTensor of shape (batch_size, h)
    times : LongTensor of shape (batch_size, w)
    n_times : int

    Returns
    -------
    tokens : LongTensor of shape (batch_size, h * w)
    """
    tokens = rois[:, :, None] * n_times + times[:, None, :]  # (B, h, w)
    return tokens.reshape(rois.shape[0], -1)


def _run_inside(
    start: Tensor, n_window: int, length: int, n_times: int, generator
) -> Tensor:
    """``length`` consecutive patches at a uniform offset inside the window.

    Returns
    -------
    times : LongTensor of shape (batch_size, length), ascending.
    """
    offset = _randint(n_window - length + 1, start.shape[0], generator)
    return (start + offset)[:, None] + torch.arange(length, device=start.device)


def _run_outside(
    start: Tensor, n_window: int, length: int, n_times: int, generator
) -> Tensor:
    """``length`` patches outside the window ``[start, start + n_window)``.

    Uniform over the contiguous runs that fit before or after the window; where
    none fits, ``length`` consecutive patches of the outside patches in time
    order (a run split by the window). ``length <= n_times - n_window``.

    Returns
    -------
    times : LongTensor of shape (batch_size, length), ascending.
    """
    n_before = (start - length + 1).clamp(min=0)  # runs ending before the window
    n_after = (n_times - start - n_window - length + 1).clamp(min=0)
    n_fit = n_before + n_after
    u = torch.rand(start.shape[0], generator=generator, device=start.device)
    pick = torch.minimum((u * n_fit).long(), (n_fit - 1).clamp(min=0))
    first = torch.where(pick < n_before, pick, start + n_window + pick - n_before)
    steps = torch.arange(length, device=start.device)
    contiguous = first[:, None] + steps

    # Fallback: rank r among the outside patches is time r before the window
    # and r + n_window after it.
    n_outside = n_times - n_window
    shift = (u * (n_outside - length + 1)).long().clamp(max=n_outside - length)
    rank = shift[:, None] + steps
    split = torch.where(rank < start[:, None], rank, rank + n_window)
    return torch.where((n_fit > 0)[:, None], contiguous, split)


def _run_after(
    start: Tensor, n_window: int, length: int, n_times: int, generator
) -> Tensor:
    """``length`` consecutive patches after the window ``[start, start + n_window)``.

    Uniform over the runs that fit between the window's end and ``n_times``;
    the caller leaves room: ``length <= n_times - start - n_window`` in every
    row.

    Returns
    -------
    times : LongTensor of shape (batch_size, length), ascending.
    """
    n_fit = n_times - start - n_window - length + 1  # (B,), >= 1
    u = torch.rand(start.shape[0], generator=generator, device=start.device)
    # min(): u * n_fit may round up to n_fit in floating point.
    offset = torch.minimum((u * n_fit).long(), n_fit - 1)
    first = start + n_window + offset
    return first[:, None] + torch.arange(length, device=start.device)


def _remove_tokens(observation: Tensor, target: Tensor, generator) -> Tensor:
    """Drop target tokens from the observation; equalise counts if any went.

    Parameters
    ----------
    observation, target : LongTensor of shape (batch_size, k_obs), (batch_size, k_tgt)
        Ascending flat indices per row.

    Returns
    -------
    observation : LongTensor of shape (batch_size, k)
        ``k <= k_obs``; rows keep a random subset if their counts differ.
    """
    # Offsetting each row by its index times a bound makes one flat isin exact
    # per row.
    bound = int(max(observation.max(), target.max())) + 1
    offset = torch.arange(observation.shape[0], device=observation.device)[:, None]
    clash = torch.isin(observation + offset * bound, target + offset * bound)
    if not bool(clash.any()):
        return observation
    kept = _random_keep(~clash, generator)
    return _compact(kept, observation)
