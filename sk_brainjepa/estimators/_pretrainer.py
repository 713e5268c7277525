"""BrainJEPAPretrainer: self-supervised Brain-JEPA pretraining, as an estimator."""

from __future__ import annotations

import copy
import gc
import inspect
import json
import logging
import time
import warnings
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from sk_brainjepa._utils._base import TimeSeriesEstimatorMixin
from sk_brainjepa._utils._random import spawn_seeds
from sk_brainjepa._utils._validation import check_n_rois
from sk_brainjepa._version import __version__
from sk_brainjepa.datasets import EpochPlanner, as_source, make_loader
from sk_brainjepa.datasets._loader import iter_batches
from sk_brainjepa.estimators._common import (
    embed,
    params_from_json,
    params_to_json,
    resolve_device,
    resolve_gradients,
)
from sk_brainjepa.estimators._constraints import (
    PRETRAINER_CONSTRAINTS,
    check_pretrainer_relations,
)
from sk_brainjepa.estimators._monitor import check_monitor, probe_score
from sk_brainjepa.estimators._recipes import RECIPE_PARAMS, resolve_recipe
from sk_brainjepa.estimators._resume import (
    CHECKPOINT_FORMAT,
    check_same_gradients,
    data_fingerprint,
    load_resume_checkpoint,
)
from sk_brainjepa.masking import make_masker
from sk_brainjepa.nn import (
    BrainJEPAEncoder,
    BrainJEPAPredictor,
    EncoderConfig,
    PredictorConfig,
    model_config,
)
from sk_brainjepa.nn._layers import fresh_generator, init_weights_
from sk_brainjepa.training import (
    JEPATrainer,
    Objective,
    collapse_diagnostics,
    load_checkpoint,
    offset_ratio,
    save_checkpoint,
)
from sk_brainjepa.training._checkpoint import require_keys
from sk_brainjepa.training._distributed import (
    DistributedContext,
    average_across_ranks,
    barrier,
    setup_distributed,
    shared_seeds,
    wrap_data_parallel,
)

logger = logging.getLogger(__name__)

# Diagnostics are measured on the centre windows of this many subjects.
_DIAGNOSTIC_SUBJECTS = 64
# Input whose ROIs' |mean| / sd has a median above this is dominated by offsets.
_OFFSET_RATIO_LIMIT = 1.0


# Scaled input (robust or z-scored per ROI) has values of order 1; raw BOLD has
# values in the thousands. Above this median magnitude the input is unscaled.
_UNSCALED_MAGNITUDE = 50.0


class RepresentationCollapseWarning(UserWarning):
    """The target representations stopped varying across tokens."""


class UnscaledInputWarning(UserWarning):
    """The training data look like raw, unscaled BOLD signal."""


def warn_if_unscaled(x: torch.Tensor, input_offset: float) -> None:
    """Warn before training when the input looks unscaled.

    Parameters
    ----------
    x : Tensor of shape (n_windows, n_rois, n_timepoints)
        The diagnostic windows, as the model reads them.
    input_offset : float
        Their :func:`~sk_brainjepa.training.offset_ratio`.
    """
    magnitude = float(x.float().abs().median())
    if magnitude > _UNSCALED_MAGNITUDE:
        warnings.warn(
            f"X looks unscaled: the median |value| of its windows is {magnitude:.3g} "
            f"and each ROI's offset is {input_offset:.3g} times its fluctuations "
            "(median |mean| / sd). The model expects each ROI scaled to values of "
            "order 1; scale each subject first (SubjectRobustScaler, or "
            "official_scaling for the official checkpoint's recipe).",
            UnscaledInputWarning,
            stacklevel=3,
        )


class BrainJEPAPretrainer(TimeSeriesEstimatorMixin, TransformerMixin, BaseEstimator):
    """Pretrain Brain-JEPA on ROI time series, self-supervised.

    An observation encoder (a ViT over ROI x time-patch tokens, positioned by
    brain gradients and time) sees an observation block of tokens; a predictor
    predicts the layer-normalised features that an EMA copy of the encoder (the
    target encoder) gives to target blocks of three kinds (cross-ROI,
    cross-time and double-cross). After ``fit``, ``transform`` returns the
    target encoder's mean token features, so the pretrainer can sit in a
    ``Pipeline``.

    Parameters
    ----------
    model : {"tiny", "small", "base", "large"}, default="tiny"
        Size preset (see ``sk_brainjepa.nn.MODEL_PRESETS``); ``small``, ``base``
        and ``large`` match the paper's ViT-S/B/L and the official predictors.
    model_params : dict or None, default=None
        Overrides of any preset field, e.g. ``{"depth": 4}``, or predictor
        fields with the ``predictor_`` prefix; also ``roi_embedding="sincos"``
        for the ablation without gradients, and ``attention_backend``.
    patch_size : int, default=16
        Frames per token.
    n_timepoints : int, default=160
        Model window in frames (a multiple of ``patch_size``). Longer runs are
        cropped at a random position per subject and epoch during training.
        Shorter runs raise a ``ValueError``; pad them first with
        ``TemporalResampler(pad=...)``.
    layout : {"rois_x_time", "time_x_rois"}, default="rois_x_time"
        How each subject's 2-D array is ordered, in memory or in files:
        the package's (n_rois, n_timepoints), or (n_timepoints, n_rois) as
        nilearn maskers return it. ``transform`` reads with the same layout.
    gradients : None, ndarray, str, path or GradientPositioner, default=None
        ROI positions. An array of shape (n_rois, m); a path to a gradient CSV
        in the official layout; a ``GradientPositioner`` (fitted on the FC of
        ``X`` when not fitted yet); or None, which fits a 30-component
        positioner on the FC of ``X``.
    recipe : {"vicreg", "paper", "official", "balanced"}, default="vicreg"
        The objective settings every parameter below that is left at None
        takes (see ``sk_brainjepa.estimators.RECIPES``). ``"paper"``: L2 on
        layer-normalised targets with spatiotemporal masks, as the paper
        writes it. ``"official"``: what the official code runs (smooth-L1, its
        mask collator, its EMA generator). ``"vicreg"``: the paper's recipe
        plus a VICReg variance-covariance term (``vicreg_weight=1``) on the
        mean context feature of each sample. ``"balanced"``: the paper's
        recipe with targets standardised per token position across the batch
        and the patch content rebalanced against the positional code
        (``content_gain="auto"``). The paper's recipe collapses onto token
        position at the scales we can measure; ``"vicreg"`` does not and
        probes best in ``benchmarks/pretraining_value.py`` (README,
        "Pretraining that learns").
    masking : {"spatiotemporal", "official", "random"} or None, default=None
        The paper's spatiotemporal masking; a reproduction of the official
        collator (its ranges and quirks); or random token masking (ablation).
        None: from ``recipe``.
    masking_params : dict or None, default=None
        Keyword arguments of the masker (see ``sk_brainjepa.masking``).
    loss : {"l2", "smooth_l1"} or None, default=None
        Squared error as the paper writes the objective, or smooth-L1
        (beta 1) as the official code optimises. None: from ``recipe``.
    target_norm : {"layer", "batch"} or None, default=None
        ``"layer"``: targets layer-normalised over features (paper).
        ``"batch"``: then standardised per (token, feature) across the batch,
        so that what every subject shares at a token position (mostly its
        positional code) is not worth predicting. None: from ``recipe``.
    content_gain : float, "auto" or None, default=None
        Factor on the patch embedding before positions are added
        (``EncoderConfig.patch_gain``). ``"auto"`` sets it at the start of
        ``fit`` so that the patch content of the training windows has the RMS
        of the positional code (about 9 on unit-variance input with the
        official init); 1.0 is the paper's model. None: from ``recipe``.
    vicreg_weight : float or None, default=None
        Weight of a VICReg variance-covariance term on the mean context
        feature of each sample (0 is off). None: from ``recipe``.
    sigreg_weight : float or None, default=None
        Weight of SIGReg (LeJEPA: random 1-D projections of the mean context
        features tested against a standard normal with the Epps-Pulley
        statistic); 0 is off. None: from ``recipe``.
    reconstruction_weight : float or None, default=None
        Weight of a frame-level auxiliary target: a linear head on the
        predictor's output reconstructs the raw frames of every target patch
        (so lag structure inside a patch is rewarded); 0 is off. None: from
        ``recipe``.
    consistency_weight : float or None, default=None
        Weight of a subject-consistency term across time: the two halves of
        each training window are encoded separately and their mean token
        features pulled together, with VICReg's variance and covariance terms
        keeping subjects apart; rewards features that stay the same within a
        subject's run and differ between subjects (0 is off). Needs at least
        2 time patches. None: from ``recipe``.
    consistency_readout : {"mean", "connectivity"} or None, default=None
        What the consistency term compares between the halves: the mean
        token features, or the token connectivity (second order). None: from
        ``recipe``.
    ema_schedule : {"linear", "official"} or None, default=None
        ``"linear"`` ramps the EMA momentum from ``ema[0]`` to ``ema[1]`` at
        the last step (paper); ``"official"`` reproduces the official code's
        generator (sized in mini-batches, advanced per optimiser step: with
        accumulation it stalls short of ``ema[1]``). None: from ``recipe``.
    max_epochs : int, default=10
        Passes over the data. 0 builds the model at its initial weights
        (``content_gain="auto"`` applied) without training: the untrained
        baseline that pretraining has to beat, with an empty ``history_``.
    batch_size : int, default=16
    lr : float, default=1e-3
        Peak learning rate (official: 1e-3).
    start_lr : float or None, default=None
        Learning rate at step 0; None means ``0.05 * lr`` (official 5e-5 / 1e-3).
    final_lr : float, default=1e-6
    warmup_epochs : float or None, default=None
        Length of the linear warm-up; None means 40/300 of ``max_epochs``, the
        official proportion.
    weight_decay, final_weight_decay : float, default=0.04, 0.4
        Cosine ramp of AdamW's weight decay (matrices only).
    ema : tuple of float, default=(0.996, 1.0)
        EMA momentum ramp; it reaches the end value at the last step.
    accumulation_steps : int, default=1
        Mini-batches per optimiser step.
    collapse_threshold : float, default=0.05
        Warn with ``RepresentationCollapseWarning`` when the spread of the
        normalised target features across tokens (every token the same
        vector), or across the samples of a batch (features that encode only
        token positions), falls below this value at the last epoch. The
        warning names the likely cause: input dominated by constant ROI
        offsets, or a positional collapse.
    monitor : tuple (X_val, y_val) or None, default=None
        Held-out time series and labels for an online linear probe: every
        ``monitor_every`` epochs the target encoder's features of ``X_val``
        (readout ``monitor_readout``) are scored by 5-fold cross-validation
        (balanced accuracy of a logistic regression for classes, R^2 of a
        ridge regression for a continuous label) and logged as
        ``monitor_score``. The score tracks what pretraining does to the
        features; do not use it to pick the epoch you report on the same data.
    monitor_every : int, default=1
        Epochs between two probe scores (the last epoch is always scored).
    monitor_readout : {"mean", "roi", "connectivity", "lagged"}, default="mean"
        Readout of the monitored features (see ``sk_brainjepa.nn.read_out``).
    precision : {"auto", "float32", "bfloat16"}, default="auto"
        ``"auto"`` uses bfloat16 autocast on CUDA and float32 on the CPU.
    device : str, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    embed_window : {"center", "start", "average"}, default="center"
        Window of a longer run used by ``transform``.
    embed_batch_size : int, default=32
    checkpoint_path : str, path or None, default=None
        Where to write training checkpoints (every ``checkpoint_every`` epochs
        and after the last one). Each is written atomically: a run killed while
        saving leaves the previous checkpoint intact. A checkpoint holds the
        three modules, the optimiser, the step counters, the mask and data
        generators' states and the history, and also loads as a fitted model
        with :meth:`load`.
    checkpoint_every : int, default=1
        Epochs between checkpoints.
    resume : bool, default=False
        Continue from ``checkpoint_path`` when it exists (training from the
        start otherwise). The other parameters must equal those of the
        interrupted run, except the runtime ones (device, verbose, workers,
        checkpointing, ``distributed``, the monitor); ``gradients`` may take
        any form that gives the same positions. The data must be the same,
        with the same scaling: the checkpoint records a fingerprint of both
        and a mismatch is refused by name. On the CPU the resumed model
        equals the one an uninterrupted run gives, bit for bit.
        ``max_epochs`` may be raised to continue a finished run: the learning
        rate, weight decay and EMA schedules then follow the new length from
        the step reached (so the result differs from a run planned with the
        new length from the start only in the epochs already done).
    distributed : {"auto", "off"}, default="auto"
        Under ``torchrun --nproc_per_node N`` (or in a process group that is
        already initialised), ``"auto"`` trains data-parallel with
        ``DistributedDataParallel`` (NCCL on GPUs, gloo on CPUs): ``batch_size``
        is the global batch, split evenly over the ranks, every rank draws the
        same masks and windows for it, and only rank 0 writes checkpoints and
        logs. ``"off"`` trains in this process only.
    num_workers : int, default=0
        Worker processes that load and crop batches (0 loads in this process).
    compile : bool, default=False
        Run the modules through :func:`torch.compile`.
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, the masks, the shuffling and the crops. With an int,
        two fits on the CPU give identical models.
    verbose : int, default=0
        0 is silent; 1 shows a progress bar and logs each epoch at INFO.

    Attributes
    ----------
    encoder_ : BrainJEPAEncoder
        Observation encoder (on the CPU, in eval mode after ``fit``).
    target_encoder_ : BrainJEPAEncoder
        EMA target encoder; used for features.
    predictor_ : BrainJEPAPredictor
    gradients_ : ndarray of shape (n_rois, m)
    history_ : list of dict
        One record per epoch: ``epoch``; ``loss`` (the weighted total) and
        each term of the objective (``prediction_loss``, and
        ``variance_loss``/``covariance_loss``, ``sigreg_loss``,
        ``reconstruction_loss`` when on), means over the epoch's batches;
        ``spread`` and ``sample_spread`` (spread of the layer-normalised target
        features across tokens and across the samples of a training batch);
        measured at the epoch's end on a fixed set of up to 64 training
        windows: ``online_sample_spread`` and ``target_sample_spread``
        (between-subject spread of each encoder's layer-normalised features),
        ``position_share`` (share of the target features' energy explained by
        token position alone) and ``rankme`` (effective rank of the target
        encoder's mean features over subjects); ``monitor_score`` (NaN on
        epochs without a probe) when ``monitor`` is set; ``lr``,
        ``momentum``, ``seconds``.
    objective_ : dict
        The objective settings the run used (``recipe`` resolved).
    reconstruction_head_ : torch.nn.Linear or None
        Maps predicted features to raw patch frames when
        ``reconstruction_weight > 0``.
    input_offset_ratio_ : float
        Median over the diagnostic windows and ROIs of ``|mean| / sd`` of the
        input: about 0 for per-subject scaled data.
    n_rois_, n_features_in_ : int
    device_ : torch.device
        Device used for training.

    Examples
    --------
    >>> from sk_brainjepa import BrainJEPAPretrainer, make_brain_dynamics
    >>> X, _ = make_brain_dynamics(n_subjects=8, n_rois=10, n_timepoints=64,
    ...                            random_state=0)
    >>> pre = BrainJEPAPretrainer(n_timepoints=32, max_epochs=1, batch_size=4,
    ...                           random_state=0).fit(X)
    >>> pre.transform(X).shape
    (8, 64)
    """

    def __init__(
        self,
        model="tiny",
        *,
        model_params=None,
        patch_size=16,
        n_timepoints=160,
        layout="rois_x_time",
        gradients=None,
        recipe="vicreg",
        masking=None,
        masking_params=None,
        loss=None,
        target_norm=None,
        content_gain=None,
        vicreg_weight=None,
        sigreg_weight=None,
        reconstruction_weight=None,
        consistency_weight=None,
        consistency_readout=None,
        ema_schedule=None,
        max_epochs=10,
        batch_size=16,
        lr=1e-3,
        start_lr=None,
        final_lr=1e-6,
        warmup_epochs=None,
        weight_decay=0.04,
        final_weight_decay=0.4,
        ema=(0.996, 1.0),
        accumulation_steps=1,
        collapse_threshold=0.05,
        monitor=None,
        monitor_every=1,
        monitor_readout="mean",
        precision="auto",
        device="auto",
        embed_window="center",
        embed_batch_size=32,
        checkpoint_path=None,
        checkpoint_every=1,
        resume=False,
        distributed="auto",
        num_workers=0,
        compile=False,
        random_state=None,
        verbose=0,
    ):
        self.model = model
        self.model_params = model_params
        self.patch_size = patch_size
        self.n_timepoints = n_timepoints
        self.layout = layout
        self.gradients = gradients
        self.recipe = recipe
        self.masking = masking
        self.masking_params = masking_params
        self.loss = loss
        self.target_norm = target_norm
        self.content_gain = content_gain
        self.vicreg_weight = vicreg_weight
        self.sigreg_weight = sigreg_weight
        self.reconstruction_weight = reconstruction_weight
        self.consistency_weight = consistency_weight
        self.consistency_readout = consistency_readout
        self.ema_schedule = ema_schedule
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.start_lr = start_lr
        self.final_lr = final_lr
        self.warmup_epochs = warmup_epochs
        self.weight_decay = weight_decay
        self.final_weight_decay = final_weight_decay
        self.ema = ema
        self.accumulation_steps = accumulation_steps
        self.collapse_threshold = collapse_threshold
        self.monitor = monitor
        self.monitor_every = monitor_every
        self.monitor_readout = monitor_readout
        self.precision = precision
        self.device = device
        self.embed_window = embed_window
        self.embed_batch_size = embed_batch_size
        self.checkpoint_path = checkpoint_path
        self.checkpoint_every = checkpoint_every
        self.resume = resume
        self.distributed = distributed
        self.num_workers = num_workers
        self.compile = compile
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ checks
    _parameter_constraints = PRETRAINER_CONSTRAINTS

    def _check_params(self) -> None:
        """Every parameter checked before any data is read (see ``_constraints``)."""
        self._validate_params()
        check_pretrainer_relations(self)
        # The loss terms validate their names and weights themselves.
        self._objective(self._objective_settings())
        if self.checkpoint_path is not None and Path(self.checkpoint_path).is_dir():
            raise ValueError(
                f"checkpoint_path={str(self.checkpoint_path)!r} is a folder; give a "
                "file path such as 'run/checkpoint.pt'."
            )

    def _objective_settings(self) -> dict:
        """The recipe's objective settings with the explicit parameters applied."""
        return resolve_recipe(
            self.recipe, {name: getattr(self, name) for name in RECIPE_PARAMS}
        )

    @staticmethod
    def _objective(settings: dict) -> Objective:
        """The loss terms of the run (validates their names and weights)."""
        return Objective(
            loss=settings["loss"],
            target_norm=settings["target_norm"],
            vicreg_weight=settings["vicreg_weight"],
            sigreg_weight=settings["sigreg_weight"],
            reconstruction_weight=settings["reconstruction_weight"],
            consistency_weight=settings["consistency_weight"],
            consistency_readout=settings["consistency_readout"],
        )

    def _configs(
        self, n_rois: int, gradient_dim: int
    ) -> tuple[EncoderConfig, PredictorConfig]:
        overrides = dict(self.model_params or {})
        overrides.setdefault("patch_size", self.patch_size)
        overrides.setdefault("gradient_dim", gradient_dim)
        return model_config(self.model, n_rois=n_rois, **overrides)

    def _autocast_dtype(self, device: torch.device):
        if self.precision == "bfloat16" or (
            self.precision == "auto" and device.type == "cuda"
        ):
            return torch.bfloat16
        return None

    # --------------------------------------------------------------------- fit
    def fit(self, X, y=None):
        """Pretrain on time series.

        Parameters
        ----------
        X : array-like of shape (n_subjects, n_rois, n_timepoints), list of arrays, \
np.memmap, path or TimeSeriesSource
            ROI time series, robust-scaled (see :class:`ROIRobustScaler`, or
            wrap the data in :class:`~sk_brainjepa.datasets.ScaledSource` to
            scale as windows are read); subjects may differ in length but must
            be at least ``n_timepoints`` long. Memory-mapped arrays, a 3-D
            ``.npy`` path, and folders or lists of per-subject files are
            streamed window by window (see
            :func:`~sk_brainjepa.datasets.as_source`): memory does not grow
            with the number of subjects.
        y : None
            Ignored.

        Returns
        -------
        self : BrainJEPAPretrainer
        """
        self._check_params()
        device = resolve_device(self.device)
        context = setup_distributed(self.distributed, device.type)
        device = _rank_device(device, context)
        source = as_source(X, layout=self.layout)
        source.check_lengths(self.n_timepoints)
        n_rois, n_subjects = source.n_rois, len(source)
        if n_rois < 2:
            raise ValueError(f"X must have at least 2 ROIs; got {n_rois}.")
        if self.batch_size % context.world_size:
            raise ValueError(
                f"batch_size={self.batch_size} is the global batch and must be a "
                f"multiple of the number of processes ({context.world_size})."
            )
        resumed = load_resume_checkpoint(self, source) if self.resume else None
        settings = self._objective_settings()
        # Seeds 4 and 5 were added after the first three: spawn_seeds keeps the
        # first ones unchanged, so runs without the new terms are as before.
        init_seed, mask_seed, data_seed, regularizer_seed, monitor_seed = shared_seeds(
            spawn_seeds(self.random_state, 5), context
        )
        monitor = check_monitor(self.monitor)
        diagnostic_x = torch.from_numpy(
            diagnostic_windows(source, self.n_timepoints)
        ).to(device)
        if resumed is not None:
            gradients = resumed["gradients"].numpy()
            if self.gradients is not None:
                check_same_gradients(
                    gradients,
                    resolve_gradients(
                        self.gradients, source, n_rois, init_seed % (2**32)
                    ),
                    self.checkpoint_path,
                )
        else:
            gradients = resolve_gradients(
                self.gradients, source, n_rois, init_seed % (2**32)
            )
        check_n_rois(
            n_rois,
            gradients.shape[0],
            "gradients",
            n_timepoints=source.lengths,
        )
        enc_cfg, pred_cfg = self._configs(n_rois, gradients.shape[1])

        init_gen = torch.Generator().manual_seed(init_seed)
        grads_t = torch.from_numpy(gradients)
        encoder = BrainJEPAEncoder(enc_cfg, grads_t, generator=init_gen)
        predictor = BrainJEPAPredictor(pred_cfg, grads_t, generator=init_gen)
        if resumed is not None:
            gain = float(resumed["encoder_config"].get("patch_gain", 1.0))
        elif settings["content_gain"] == "auto":
            gain = balancing_gain(encoder, diagnostic_x.cpu())
        else:
            gain = float(settings["content_gain"])
        encoder.config = replace(encoder.config, patch_gain=gain)
        head = None
        if settings["reconstruction_weight"] > 0:
            head = reconstruction_head(enc_cfg.embed_dim, self.patch_size, init_gen)
        target_encoder = copy.deepcopy(encoder)
        target_encoder.requires_grad_(False)
        if resumed is not None:
            modules = [
                (encoder, "encoder"),
                (predictor, "predictor"),
                (target_encoder, "target_encoder"),
            ]
            if head is not None:
                modules.append((head, "reconstruction_head"))
            for module, key in modules:
                _load_module(module, resumed[key], self.checkpoint_path)
        for module in (encoder, predictor, target_encoder, head):
            if module is not None:
                module.to(device)
        settings["content_gain"] = gain
        input_offset = offset_ratio(diagnostic_x)
        if context.is_main:
            warn_if_unscaled(diagnostic_x, input_offset)

        trainer = JEPATrainer(
            *self._compiled(
                wrap_data_parallel(encoder, context, device),
                wrap_data_parallel(predictor, context, device),
                target_encoder,
            ),
            make_masker(
                settings["masking"],
                n_rois,
                self.n_timepoints // self.patch_size,
                **(self.masking_params or {}),
            ),
            mask_generator=torch.Generator().manual_seed(mask_seed),
            **self._schedule(n_subjects),
            objective=self._objective(settings),
            ema_schedule=settings["ema_schedule"],
            ema_iterations=int(np.ceil(n_subjects / self.batch_size)) * self.max_epochs,
            reconstruction_head=None
            if head is None
            else wrap_data_parallel(head, context, device),
            regularizer_generator=torch.Generator().manual_seed(regularizer_seed),
            accumulation_steps=self.accumulation_steps,
            autocast_dtype=self._autocast_dtype(device),
            context=context,
        )
        data_rng = np.random.default_rng(data_seed)
        planner = EpochPlanner(
            source.lengths,
            self.n_timepoints,
            batch_size=self.batch_size,
            rank=context.rank,
            world_size=context.world_size,
        )
        loader = make_loader(
            source, self.n_timepoints, num_workers=self.num_workers, device=device
        )
        history, first_epoch = [], 1
        fingerprint = (
            data_fingerprint(source) if self.checkpoint_path is not None else None
        )
        if resumed is not None:
            state = resumed["training"]
            trainer.load_state_dict(state["trainer"])
            data_rng.bit_generator.state = json.loads(state["data_rng"])
            history = [dict(h) for h in resumed["history"]]
            first_epoch = int(state["epoch"]) + 1
            if context.is_main:
                logger.info(
                    "resuming from %s after epoch %d of %d",
                    self.checkpoint_path,
                    first_epoch - 1,
                    self.max_epochs,
                )

        epochs = range(first_epoch, self.max_epochs + 1)
        progress = None
        if self.verbose and context.is_main:
            from tqdm.auto import tqdm

            progress = tqdm(
                epochs,
                desc="Brain-JEPA pretraining",
                unit="epoch",
                initial=first_epoch - 1,
                total=self.max_epochs,
            )
            epochs = progress
        for epoch in epochs:
            # Windows and order come from data_rng in this process; workers only read.
            loader.batch_sampler.set_plan(planner.plan(data_rng))
            record = self._train_epoch(trainer, loader, context, device)
            record["epoch"] = epoch
            record.update(collapse_diagnostics(encoder, target_encoder, diagnostic_x))
            if monitor is not None:
                record["monitor_score"] = float("nan")
                due = epoch % self.monitor_every == 0 or epoch == self.max_epochs
                if due and context.is_main:
                    record["monitor_score"] = self._monitor_score(
                        target_encoder, monitor, device, monitor_seed % (2**32)
                    )
            history.append(record)
            if self.verbose and context.is_main:
                progress.set_postfix(
                    loss=f"{record['loss']:.4f}", spread=f"{record['spread']:.3f}"
                )
                logger.info(
                    "epoch %d/%d loss %.5f spread %.4f lr %.2e (%.1f s)",
                    epoch,
                    self.max_epochs,
                    record["loss"],
                    record["spread"],
                    record["lr"],
                    record["seconds"],
                )
            if self.checkpoint_path is not None and (
                epoch % self.checkpoint_every == 0 or epoch == self.max_epochs
            ):
                if context.is_main:
                    payload = self._model_payload(
                        encoder,
                        predictor,
                        target_encoder,
                        gradients,
                        history,
                        n_rois,
                        head,
                    )
                    payload["training"] = {
                        "epoch": epoch,
                        "n_subjects": n_subjects,
                        "data": fingerprint,
                        "trainer": trainer.state_dict(),
                        "data_rng": json.dumps(data_rng.bit_generator.state),
                    }
                    save_checkpoint(payload, self.checkpoint_path)
                # No rank may go on (or finish) before the checkpoint is complete.
                barrier(context)
        if history and context.is_main:
            self._warn_if_collapsed(history[-1], input_offset)
        if context.enabled:
            _release_data_parallel(trainer)

        self.encoder_ = encoder.cpu().eval()
        self.predictor_ = predictor.cpu().eval()
        self.target_encoder_ = target_encoder.cpu().eval()
        self.reconstruction_head_ = None if head is None else head.cpu().eval()
        self.objective_ = settings
        self.input_offset_ratio_ = input_offset
        self.gradients_ = gradients
        self.history_ = history
        self.device_ = device
        self.n_rois_ = n_rois
        self.n_features_in_ = n_rois
        return self

    def _schedule(self, n_subjects: int) -> dict:
        """Step counts and schedule values of :class:`JEPATrainer`."""
        batches_per_epoch = int(np.ceil(n_subjects / self.batch_size))
        steps_per_epoch = int(np.ceil(batches_per_epoch / self.accumulation_steps))
        warmup_epochs = (
            self.max_epochs * 40 / 300
            if self.warmup_epochs is None
            else self.warmup_epochs
        )
        return {
            "total_steps": steps_per_epoch * self.max_epochs,
            "warmup_steps": int(round(warmup_epochs * steps_per_epoch)),
            "lr": self.lr,
            "start_lr": 0.05 * self.lr if self.start_lr is None else self.start_lr,
            "final_lr": self.final_lr,
            "weight_decay": self.weight_decay,
            "final_weight_decay": self.final_weight_decay,
            "ema": tuple(self.ema),
        }

    def _compiled(self, encoder, predictor, target_encoder):
        """The three modules, through ``torch.compile`` when ``compile=True``."""
        if not self.compile:
            return encoder, predictor, target_encoder
        return tuple(torch.compile(m) for m in (encoder, predictor, target_encoder))

    def _train_epoch(self, trainer, loader, context, device) -> dict:
        """One pass over the loader's plan; returns the epoch's history record."""
        tic = time.perf_counter()
        records = []
        n_batches = len(loader)
        for i, batch in enumerate(iter_batches(loader)):
            records.append(
                trainer.train_batch(
                    batch.to(device, non_blocking=True), sync=i == n_batches - 1
                )
            )
        trainer.optimizer_step()  # apply a partial accumulation at the epoch's end
        # The loss is already a mean over ranks; the other terms and statistics
        # are this rank's, averaged here (NaN-aware: a batch of one sample has
        # no sample spread).
        loss = float(np.mean([r["loss"] for r in records]))
        names = [name for name in records[0] if name != "loss"]
        means = average_across_ranks(
            [float(np.nanmean([r[name] for r in records])) for name in names], context
        )
        return {
            "epoch": None,
            "loss": loss,
            **dict(zip(names, means, strict=True)),
            "lr": trainer.current_lr(),
            "momentum": trainer.current_momentum(),
            "seconds": time.perf_counter() - tic,
        }

    def _monitor_score(self, target_encoder, monitor, device, seed: int) -> float:
        """The online linear probe's score of the target encoder's features."""
        X_val, y_val = monitor
        features = embed(
            target_encoder,
            as_source(X_val, layout=self.layout),
            n_timepoints=self.n_timepoints,
            window=self.embed_window,
            readout=self.monitor_readout,
            batch_size=self.embed_batch_size,
            device=device,
        )
        return probe_score(features, y_val, seed)

    def _warn_if_collapsed(self, last: dict, input_offset: float) -> None:
        """Warn when a collapse statistic of the last epoch is below threshold.

        The message names the likely cause: input dominated by constant ROI
        offsets (the encoder sees a constant per ROI, whatever the subject),
        every token mapped to one vector, or a positional collapse (each token
        its position's vector, the same for every subject).
        """
        threshold = self.collapse_threshold
        spread, across = last["spread"], last["sample_spread"]
        if spread >= threshold and across >= threshold:
            return
        if input_offset > _OFFSET_RATIO_LIMIT:
            message = (
                "The target representations barely vary (spread across tokens "
                f"{spread:.4f}, across samples {across:.4f}; collapse_threshold="
                f"{threshold}) and the input is dominated by constant ROI offsets: "
                f"the median |mean| / sd of a ROI's series is {input_offset:.1f}. "
                "Scale each subject's ROIs first (SubjectRobustScaling, or "
                "ROIRobustScaler with per-subject statistics)."
            )
        elif spread < threshold:
            message = (
                "The target representations collapsed: their spread across tokens "
                f"is {spread:.4f} (< collapse_threshold={threshold}) and the loss "
                f"is {last['loss']:.4g}. Features will carry little information; "
                "try a higher EMA start (ema), a lower lr, or more data."
            )
        else:
            share = last.get("position_share", float("nan"))
            message = (
                "Positional collapse: the target representations barely differ "
                f"between subjects (spread across samples {across:.4f} < "
                f"collapse_threshold={threshold}, across tokens {spread:.4f}); "
                f"{share:.1%} of their energy is the same for every subject at a "
                "token position. They encode where a token is, not what the "
                "subject's signal does there; downstream scores may be at chance. "
                "Use recipe='vicreg' (the default) or recipe='balanced' (targets "
                "standardised per token position, content rebalanced against "
                "position), or add sigreg_weight / vicreg_weight."
            )
        warnings.warn(message, RepresentationCollapseWarning, stacklevel=3)

    # --------------------------------------------------------------- features
    def transform(self, X):
        """Mean token features of the target encoder.

        Parameters
        ----------
        X : array-like of shape (n_subjects, n_rois, n_timepoints) or list of arrays
            In ``layout``, as for ``fit``.

        Returns
        -------
        features : ndarray of shape (n_subjects, embed_dim), float32
        """
        check_is_fitted(self)
        source = as_source(X, layout=self.layout)
        check_n_rois(
            source.n_rois,
            self.n_rois_,
            type(self).__name__,
            n_timepoints=source.lengths,
        )
        device = resolve_device(self.device)
        encoder = self.target_encoder_.to(device)
        try:
            return embed(
                encoder,
                source,
                n_timepoints=self.n_timepoints,
                window=self.embed_window,
                readout="mean",
                batch_size=self.embed_batch_size,
                device=device,
            )
        finally:
            self.target_encoder_.cpu()

    def get_feature_names_out(self, input_features=None):
        """Names ``brainjepapretrainer0``, ... of the embedding features."""
        check_is_fitted(self)
        width = self.target_encoder_.config.embed_dim
        return np.asarray(
            [f"brainjepapretrainer{i}" for i in range(width)], dtype=object
        )

    # ------------------------------------------------------------ persistence
    def save(self, path):
        """Write the fitted model to ``path`` (atomically; read with ``load``).

        The file holds the three modules' state dicts, their configs, the
        gradients, the history, the parameters (as JSON) and the package
        version; it is read back with ``torch.load(weights_only=True)``.

        Parameters
        ----------
        path : str or os.PathLike

        Returns
        -------
        path : pathlib.Path
        """
        check_is_fitted(self)
        payload = self._model_payload(
            self.encoder_,
            self.predictor_,
            self.target_encoder_,
            self.gradients_,
            self.history_,
            self.n_rois_,
            self.reconstruction_head_,
        )
        return save_checkpoint(payload, path)

    def _model_payload(
        self, encoder, predictor, target_encoder, gradients, history, n_rois, head
    ) -> dict:
        """What :meth:`save` writes (training checkpoints add a ``training`` key)."""
        payload = {
            "format": CHECKPOINT_FORMAT,
            "version": __version__,
            "params": params_to_json(self.get_params(deep=False)),
            "encoder_config": asdict(encoder.config),
            "predictor_config": asdict(predictor.config),
            "encoder": _cpu_state(encoder),
            "target_encoder": _cpu_state(target_encoder),
            "predictor": _cpu_state(predictor),
            "gradients": torch.from_numpy(np.ascontiguousarray(gradients)),
            "history": [dict(h) for h in history],
            "n_rois": int(n_rois),
        }
        if head is not None:
            payload["reconstruction_head"] = _cpu_state(head)
        return payload

    @classmethod
    def load(cls, path, *, device="cpu"):
        """Rebuild a fitted pretrainer from a file written by :meth:`save`.

        Parameters
        ----------
        path : str or os.PathLike
        device : str, default="cpu"
            Stored as the ``device`` parameter of the returned estimator.

        Returns
        -------
        pretrainer : BrainJEPAPretrainer
            Fitted; ``transform`` gives the same features as the saved model.
        """
        payload = load_checkpoint(path)
        if payload.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(
                f"{path} is not a BrainJEPAPretrainer checkpoint (format "
                f"{payload.get('format')!r}). For the official Brain-JEPA checkpoint, "
                "use BrainJEPAEmbedder(checkpoint=..., gradients=...)."
            )
        require_keys(
            payload,
            (
                "params",
                "encoder_config",
                "predictor_config",
                "encoder",
                "target_encoder",
                "predictor",
                "gradients",
                "history",
                "n_rois",
            ),
            path,
            "BrainJEPAPretrainer.load",
        )
        names = set(inspect.signature(cls.__init__).parameters) - {"self"}
        params = params_from_json(payload["params"], names)
        params["device"] = device
        est = cls(**params)
        gradients = payload["gradients"]
        enc_cfg = EncoderConfig(**payload["encoder_config"])
        pred_cfg = PredictorConfig(**payload["predictor_config"])
        est.encoder_ = _load_module(
            BrainJEPAEncoder(enc_cfg, gradients), payload["encoder"], path
        )
        est.target_encoder_ = _load_module(
            BrainJEPAEncoder(enc_cfg, gradients), payload["target_encoder"], path
        )
        est.predictor_ = _load_module(
            BrainJEPAPredictor(pred_cfg, gradients), payload["predictor"], path
        )
        est.target_encoder_.requires_grad_(False)
        est.reconstruction_head_ = None
        if "reconstruction_head" in payload:
            est.reconstruction_head_ = _load_module(
                reconstruction_head(enc_cfg.embed_dim, enc_cfg.patch_size, None),
                payload["reconstruction_head"],
                path,
            )
        est.objective_ = {
            **est._objective_settings(),
            "content_gain": enc_cfg.patch_gain,
        }
        history = list(payload["history"])
        est.input_offset_ratio_ = float("nan")
        est.gradients_ = gradients.numpy()
        est.history_ = history
        est.device_ = torch.device("cpu")
        est.n_rois_ = est.n_features_in_ = int(payload["n_rois"])
        return est


def diagnostic_windows(source, n_timepoints: int) -> np.ndarray:
    """The fixed windows the epoch diagnostics are measured on.

    The centre window of each of the first ``_DIAGNOSTIC_SUBJECTS`` subjects
    (all of them when there are fewer): the same input at every epoch, so the
    statistics compare across epochs.

    Returns
    -------
    windows : ndarray of shape (min(n_subjects, 64), n_rois, n_timepoints), float32
    """
    n = min(len(source), _DIAGNOSTIC_SUBJECTS)
    return np.stack(
        [
            source.window(i, (int(source.lengths[i]) - n_timepoints) // 2, n_timepoints)
            for i in range(n)
        ]
    ).astype(np.float32)


@torch.no_grad()
def balancing_gain(encoder: BrainJEPAEncoder, x: torch.Tensor) -> float:
    """Patch gain that gives the content of ``x`` the RMS of the positional code.

    Parameters
    ----------
    encoder : BrainJEPAEncoder
        At its initial weights (its current ``patch_gain`` is ignored).
    x : Tensor of shape (B, R, T)

    Returns
    -------
    gain : float
        ``rms(positional code) / rms(patch embedding of x)``; 1.0 when the
        content is all zero or not finite.
    """
    content = encoder.patch_embed(x.to(encoder.patch_embed.proj.weight.device))
    position = encoder.positional_embedding(encoder.n_time_patches(x.shape[-1]))
    content_rms = float(content.double().pow(2).mean().sqrt())
    # All-zero or overflowing input: leave the model as it is (training then
    # reports the overflow as a diverged loss).
    if not 0.0 < content_rms < float("inf"):
        return 1.0
    return float(position.float().pow(2).mean().sqrt()) / content_rms


def reconstruction_head(
    embed_dim: int, patch_size: int, generator: torch.Generator | None
) -> torch.nn.Linear:
    """Linear map from predicted features (..., D) to raw patch frames (..., p)."""
    with torch.device("meta"):
        head = torch.nn.Linear(embed_dim, patch_size)
    head.to_empty(device="cpu")
    init_weights_(head, fresh_generator(generator))
    return head


def _release_data_parallel(trainer) -> None:
    """Free the trainer's DistributedDataParallel wrappers now, not at exit.

    DDP modules sit in reference cycles, so they outlive ``fit`` until a
    cyclic garbage collection, which may come only at interpreter shutdown,
    after or while the process group is torn down. Before this, a gloo rank
    aborted at exit ("terminate called without an active exception") in about
    one two-process test run in 30.
    """
    trainer.encoder = trainer.predictor = trainer.reconstruction_head = None
    gc.collect()


def _rank_device(device: torch.device, context: DistributedContext) -> torch.device:
    """The GPU this process trains on, with an index, made current.

    A bare ``"cuda"`` means this rank's own GPU in a multi-GPU run and the
    current GPU otherwise; ``torch.cuda.set_device`` needs the index.
    Other devices are returned unchanged.
    """
    if device.type != "cuda":
        return device
    if device.index is None:
        index = context.local_rank if context.enabled else torch.cuda.current_device()
        device = torch.device("cuda", index)
    torch.cuda.set_device(device)
    return device


def _cpu_state(module: torch.nn.Module) -> dict:
    """A state dict on the CPU (cloned: later training must not change it)."""
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}


def _load_module(module: torch.nn.Module, state_dict: dict, path) -> torch.nn.Module:
    try:
        module.load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:
        raise ValueError(
            f"The weights in {path} do not fit the model they describe: {exc}"
        ) from exc
    return module.eval()
