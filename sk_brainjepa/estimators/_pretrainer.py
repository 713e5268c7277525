"""BrainJEPAPretrainer: self-supervised Brain-JEPA pretraining, as an estimator."""

from __future__ import annotations

import copy
import gc
import inspect
import json
import logging
import time
import warnings
from dataclasses import asdict
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
from sk_brainjepa.estimators._common import (
    WINDOWS,
    embed,
    params_from_json,
    params_to_json,
    resolve_device,
    resolve_gradients,
)
from sk_brainjepa.masking import make_masker
from sk_brainjepa.nn import (
    BrainJEPAEncoder,
    BrainJEPAPredictor,
    EncoderConfig,
    PredictorConfig,
    model_config,
)
from sk_brainjepa.training import (
    LOSSES,
    JEPATrainer,
    load_checkpoint,
    save_checkpoint,
)
from sk_brainjepa.training._distributed import (
    DISTRIBUTED_MODES,
    DistributedContext,
    average_across_ranks,
    barrier,
    setup_distributed,
    shared_seeds,
    wrap_data_parallel,
)

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "sk_brainjepa.pretrainer"
MASKINGS = ("spatiotemporal", "official", "random")
# Parameters that may change between an interrupted run and its resumption:
# they decide where and how the run executes, not what it computes.
_RUNTIME_PARAMS = frozenset(
    {
        "checkpoint_path",
        "checkpoint_every",
        "resume",
        "distributed",
        "num_workers",
        "device",
        "verbose",
        "embed_window",
        "embed_batch_size",
    }
)


class RepresentationCollapseWarning(UserWarning):
    """The target representations stopped varying across tokens."""


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
    gradients : None, ndarray, str, path or GradientPositioner, default=None
        ROI positions. An array of shape (n_rois, m); a path to a gradient CSV
        in the official layout; a ``GradientPositioner`` (fitted on the FC of
        ``X`` when not fitted yet); or None, which fits a 30-component
        positioner on the FC of ``X``.
    masking : {"spatiotemporal", "official", "random"}, default="spatiotemporal"
        The paper's spatiotemporal masking; a reproduction of the official
        collator (its ranges and quirks); or random token masking (ablation).
    masking_params : dict or None, default=None
        Keyword arguments of the masker (see ``sk_brainjepa.masking``).
    loss : {"l2", "smooth_l1"}, default="l2"
        Squared error as the paper writes the objective, or smooth-L1
        (beta 1) as the official code optimises.
    max_epochs : int, default=10
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
        token positions), falls below this value at the last epoch.
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
        checkpointing, ``distributed``). On the CPU the resumed model equals
        the one an uninterrupted run gives, bit for bit.
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
        One record per epoch: ``epoch``, ``loss``, ``spread`` and
        ``sample_spread`` (the collapse statistics: spread of the normalised
        target features across tokens and across samples), ``lr``,
        ``momentum``, ``seconds``.
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
        gradients=None,
        masking="spatiotemporal",
        masking_params=None,
        loss="l2",
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
        self.gradients = gradients
        self.masking = masking
        self.masking_params = masking_params
        self.loss = loss
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
    def _check_params(self) -> None:
        def positive_int(name):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, np.integer))
                or value < 1
            ):
                raise ValueError(f"{name} must be a positive integer; got {value!r}.")

        for name in (
            "patch_size",
            "n_timepoints",
            "max_epochs",
            "batch_size",
            "accumulation_steps",
            "embed_batch_size",
            "checkpoint_every",
        ):
            positive_int(name)
        if (
            isinstance(self.num_workers, bool)
            or not isinstance(self.num_workers, (int, np.integer))
            or self.num_workers < 0
        ):
            raise ValueError(
                f"num_workers must be an integer >= 0; got {self.num_workers!r}."
            )
        for name in ("resume", "compile"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(
                    f"{name} must be True or False; got {getattr(self, name)!r}."
                )
        if self.n_timepoints % self.patch_size:
            raise ValueError(
                f"n_timepoints={self.n_timepoints} must be a multiple of "
                f"patch_size={self.patch_size}."
            )
        for name, allowed in (
            ("masking", MASKINGS),
            ("loss", LOSSES),
            ("precision", ("auto", "float32", "bfloat16")),
            ("embed_window", WINDOWS),
            ("distributed", DISTRIBUTED_MODES),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"{name} must be one of {allowed}; got {getattr(self, name)!r}."
                )
        for name in ("lr", "final_lr", "weight_decay", "final_weight_decay"):
            value = getattr(self, name)
            if (
                not isinstance(value, (int, float))
                or value < 0
                or not np.isfinite(value)
            ):
                raise ValueError(f"{name} must be a finite number >= 0; got {value!r}.")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0; got {self.lr!r}.")
        try:
            m0, m1 = (float(m) for m in self.ema)
        except (TypeError, ValueError):
            raise ValueError(
                f"ema must be a pair (start, end); got {self.ema!r}."
            ) from None
        if not 0.0 <= m0 <= m1 <= 1.0:
            raise ValueError(
                f"ema must satisfy 0 <= start <= end <= 1; got {self.ema!r}."
            )
        for name in ("model_params", "masking_params"):
            if getattr(self, name) is not None and not isinstance(
                getattr(self, name), dict
            ):
                raise ValueError(
                    f"{name} must be a dict or None; got {getattr(self, name)!r}."
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
        source = as_source(X)
        source.check_lengths(self.n_timepoints)
        n_rois, n_subjects = source.n_rois, len(source)
        if n_rois < 2:
            raise ValueError(f"X must have at least 2 ROIs; got {n_rois}.")
        if self.batch_size % context.world_size:
            raise ValueError(
                f"batch_size={self.batch_size} is the global batch and must be a "
                f"multiple of the number of processes ({context.world_size})."
            )
        resumed = self._resume_payload(n_rois, n_subjects)
        init_seed, mask_seed, data_seed = shared_seeds(
            spawn_seeds(self.random_state, 3), context
        )
        if resumed is not None:
            gradients = resumed["gradients"].numpy()
        else:
            gradients = resolve_gradients(
                self.gradients, source, n_rois, init_seed % (2**32)
            )
        enc_cfg, pred_cfg = self._configs(n_rois, gradients.shape[1])

        init_gen = torch.Generator().manual_seed(init_seed)
        grads_t = torch.from_numpy(gradients)
        encoder = BrainJEPAEncoder(enc_cfg, grads_t, generator=init_gen)
        predictor = BrainJEPAPredictor(pred_cfg, grads_t, generator=init_gen)
        target_encoder = copy.deepcopy(encoder)
        target_encoder.requires_grad_(False)
        if resumed is not None:
            for module, key in (
                (encoder, "encoder"),
                (predictor, "predictor"),
                (target_encoder, "target_encoder"),
            ):
                _load_module(module, resumed[key], self.checkpoint_path)
        for module in (encoder, predictor, target_encoder):
            module.to(device)

        trainer = JEPATrainer(
            *self._compiled(
                wrap_data_parallel(encoder, context, device),
                wrap_data_parallel(predictor, context, device),
                target_encoder,
            ),
            make_masker(
                self.masking,
                n_rois,
                self.n_timepoints // self.patch_size,
                **(self.masking_params or {}),
            ),
            mask_generator=torch.Generator().manual_seed(mask_seed),
            **self._schedule(n_subjects),
            loss=self.loss,
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
                        encoder, predictor, target_encoder, gradients, history, n_rois
                    )
                    payload["training"] = {
                        "epoch": epoch,
                        "n_subjects": n_subjects,
                        "trainer": trainer.state_dict(),
                        "data_rng": json.dumps(data_rng.bit_generator.state),
                    }
                    save_checkpoint(payload, self.checkpoint_path)
                # No rank may go on (or finish) before the checkpoint is complete.
                barrier(context)
        if history and context.is_main:
            self._warn_if_collapsed(history[-1])
        if context.enabled:
            _release_data_parallel(trainer)

        self.encoder_ = encoder.cpu().eval()
        self.predictor_ = predictor.cpu().eval()
        self.target_encoder_ = target_encoder.cpu().eval()
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
        losses, spreads, sample_spreads = [], [], []
        n_batches = len(loader)
        for i, batch in enumerate(loader):
            loss, spread, across_samples = trainer.train_batch(
                batch.to(device, non_blocking=True), sync=i == n_batches - 1
            )
            losses.append(loss)
            spreads.append(spread)
            sample_spreads.append(across_samples)
        trainer.optimizer_step()  # apply a partial accumulation at the epoch's end
        spread, sample_spread_ = average_across_ranks(
            [np.mean(spreads), np.nanmean(sample_spreads)], context
        )
        return {
            "epoch": None,
            "loss": float(np.mean(losses)),
            "spread": spread,
            "sample_spread": sample_spread_,
            "lr": trainer.current_lr(),
            "momentum": trainer.current_momentum(),
            "seconds": time.perf_counter() - tic,
        }

    def _resume_payload(self, n_rois: int, n_subjects: int) -> dict | None:
        """The checkpoint to continue from, or None to start afresh."""
        if not self.resume:
            return None
        if self.checkpoint_path is None:
            raise ValueError("resume=True needs checkpoint_path to be set.")
        path = Path(self.checkpoint_path)
        if not path.exists():
            logger.info("no checkpoint at %s yet: training from the start", path)
            return None
        payload = load_checkpoint(path)
        if payload.get("format") != CHECKPOINT_FORMAT or "training" not in payload:
            raise ValueError(
                f"{path} is not a training checkpoint of BrainJEPAPretrainer "
                "(written with checkpoint_path during fit); cannot resume from it."
            )
        names = set(inspect.signature(type(self).__init__).parameters) - {"self"}
        saved = params_from_json(payload["params"], names)
        ours = self.get_params(deep=False)
        changed = sorted(
            name
            for name in names - _RUNTIME_PARAMS
            if params_to_json({name: saved.get(name)})
            != params_to_json({name: ours.get(name)})
        )
        if changed:
            raise ValueError(
                f"Cannot resume from {path}: it was trained with other values of "
                f"{', '.join(changed)} (saved: "
                + ", ".join(f"{n}={saved.get(n)!r}" for n in changed)
                + ")."
            )
        state = payload["training"]
        if (int(payload["n_rois"]), int(state["n_subjects"])) != (n_rois, n_subjects):
            raise ValueError(
                f"Cannot resume from {path}: it was trained on {state['n_subjects']} "
                f"subjects x {payload['n_rois']} ROIs; X has {n_subjects} x {n_rois}."
            )
        return payload

    def _warn_if_collapsed(self, last: dict) -> None:
        """Warn when either collapse statistic of the last epoch is below threshold."""
        if last["spread"] < self.collapse_threshold:
            warnings.warn(
                "The target representations collapsed: their spread across tokens "
                f"is {last['spread']:.4f} (< collapse_threshold="
                f"{self.collapse_threshold}) and the loss is {last['loss']:.4g}. "
                "Features will carry little information; try a higher EMA start "
                "(ema), a lower lr, or more data.",
                RepresentationCollapseWarning,
                stacklevel=3,
            )
        elif last["sample_spread"] < self.collapse_threshold:
            warnings.warn(
                "The target representations barely differ between subjects: their "
                f"spread across samples is {last['sample_spread']:.4f} (< "
                f"collapse_threshold={self.collapse_threshold}) while their spread "
                f"across tokens is {last['spread']:.4f}. They mostly encode token "
                "positions; downstream scores may be at chance. Train longer, on "
                "more subjects, or check the input scaling.",
                RepresentationCollapseWarning,
                stacklevel=3,
            )

    # --------------------------------------------------------------- features
    def transform(self, X):
        """Mean token features of the target encoder.

        Parameters
        ----------
        X : array-like of shape (n_subjects, n_rois, n_timepoints) or list of arrays

        Returns
        -------
        features : ndarray of shape (n_subjects, embed_dim), float32
        """
        check_is_fitted(self)
        source = as_source(X)
        check_n_rois(source.n_rois, self.n_rois_, type(self).__name__)
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
        )
        return save_checkpoint(payload, path)

    def _model_payload(
        self, encoder, predictor, target_encoder, gradients, history, n_rois
    ) -> dict:
        """What :meth:`save` writes (training checkpoints add a ``training`` key)."""
        return {
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
        est.gradients_ = gradients.numpy()
        est.history_ = list(payload["history"])
        est.device_ = torch.device("cpu")
        est.n_rois_ = est.n_features_in_ = int(payload["n_rois"])
        return est


def _release_data_parallel(trainer) -> None:
    """Free the trainer's DistributedDataParallel wrappers now, not at exit.

    DDP modules sit in reference cycles, so they outlive ``fit`` until a
    cyclic garbage collection, which may come only at interpreter shutdown,
    after or while the process group is torn down. Before this, a gloo rank
    aborted at exit ("terminate called without an active exception") in about
    one two-process test run in 30.
    """
    trainer.encoder = trainer.predictor = None
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
