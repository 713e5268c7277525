"""BrainJEPAPretrainer: self-supervised Brain-JEPA pretraining, as an estimator.

``fit`` runs the steps of ``_pretraining_steps``; warnings and diagnostics are in
``_pretraining_checks``, ``save`` and ``load`` in ``_persistence``,
``save_pretrained`` and ``from_pretrained`` in ``_pretrained_folder``, ``transform``
in ``_pretrainer_features``.
"""

from __future__ import annotations

from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)

from sk_brainjepa._utils._base import TimeSeriesEstimatorMixin
from sk_brainjepa._utils._deprecation import DEPRECATED
from sk_brainjepa._utils._docstrings import fill_doc
from sk_brainjepa.estimators._constraints import (
    PRETRAINER_CONSTRAINTS,
)
from sk_brainjepa.estimators._persistence import PretrainerPersistenceMixin
from sk_brainjepa.estimators._pretrained_folder import PretrainedFolderMixin
from sk_brainjepa.estimators._pretrainer_features import PretrainerFeaturesMixin
from sk_brainjepa.estimators._pretraining_checks import (
    RepresentationCollapseWarning,
    UnscaledInputWarning,
    warn_if_collapsed,
    warn_if_unscaled,
)
from sk_brainjepa.estimators._pretraining_settings import (
    PretrainingSettings,
    resolve_settings,
)
from sk_brainjepa.estimators._pretraining_steps import (
    build_modules,
    make_trainer,
    prepare_run,
    train_epochs,
)
from sk_brainjepa.training import offset_ratio, release_data_parallel

__all__ = [
    "BrainJEPAPretrainer",
    "RepresentationCollapseWarning",
    "UnscaledInputWarning",
]


@fill_doc
class BrainJEPAPretrainer(
    ClassNamePrefixFeaturesOutMixin,
    TimeSeriesEstimatorMixin,
    PretrainerFeaturesMixin,
    PretrainerPersistenceMixin,
    PretrainedFolderMixin,
    TransformerMixin,
    BaseEstimator,
):
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
    window_length : int, default=160
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
        probes best in ``benchmarks/pretraining_value.py``
        (docs/research-notes.md).
    masking : {"spatiotemporal", "official", "random"} or None, default=None
        The paper's spatiotemporal masking; a reproduction of the official
        collator (its ranges and quirks); or random token masking (ablation).
        None: from ``recipe``.
    masking_params : dict or None, default=None
        Keyword arguments of the masker (see ``sk_brainjepa.masking``), e.g.
        ``{"forecast": True}`` to place the spatiotemporal masking's
        cross-time and double-cross targets after the observation window.
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
    context_loss_weight : float or None, default=None
        Weight of a dense loss on the context tokens with deep supervision
        (after V-JEPA 2.1): at the encoder's middle block and at its output,
        the online encoder's features of the observed tokens are pulled
        towards the target encoder's features of the same tokens computed
        with the whole window in view (both layer-normalised, squared error),
        so the context tokens keep what the full input gives them instead of
        collapsing into global aggregators. Recorded as ``context_loss`` in
        ``history_``; 0 is off. None: from ``recipe``.
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
        (readout ``monitor_readout``) are scored by ``linear_probe``'s
        protocol (5 repeated 6/2/2 train/validation/test splits, the
        regularisation chosen on validation from the default grid) and the
        mean test balanced accuracy (classes) or R^2 (a continuous label) is
        logged as ``monitor_score``, on the scale of ``probe_features``' mean
        row. ``y_val`` needs at least 3 subjects per class. The score tracks
        what pretraining does to the features; do not use it to pick the
        epoch you report on the same data.
    monitor_every : int, default=1
        Epochs between two probe scores (the last epoch is always scored).
    monitor_readout : {"mean", "roi", "connectivity", "lagged"}, default="mean"
        Readout of the monitored features (see ``sk_brainjepa.nn.read_out``).
    monitor_task : {"auto", "classification", "regression"}, default="auto"
        How ``y_val`` is probed; "auto" decides as ``linear_probe`` does and
        warns when a numeric label could be either.
    precision : {"auto", "float32", "bfloat16"}, default="auto"
        ``"auto"`` uses bfloat16 autocast on CUDA and float32 on the CPU.
    %(device)s
    window_position : {"center", "start", "average"}, default="center"
        Which window of a longer run ``transform`` reads: the central one,
        the first, or the average of the features of consecutive windows.
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
    n_timepoints : int

        .. deprecated:: 0.2
           Use ``window_length``; removed in 0.3.
    embed_window : str

        .. deprecated:: 0.2
           Use ``window_position``; removed in 0.3.
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, the masks, the shuffling and the crops. With an int,
        two fits on the CPU give identical models.
    verbose : int, default=0
        0 is silent; 1 shows a progress bar and logs each epoch at INFO.

    Attributes
    ----------
    online_encoder_ : BrainJEPAEncoder
        The observation (context) encoder that gradient descent trains (on the
        CPU, in eval mode after ``fit``). Named ``encoder_`` before 0.2 (that
        name still reads it, with a ``FutureWarning``, until 0.3).
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
    window_length_ : int
        The model window the run trained on (``window_length`` resolved).
    n_rois_, n_features_in_ : int
    n_subjects_ : int or None
        Subjects trained on (None for models saved before it was recorded).
    device_ : torch.device
        Device used for training.

    Examples
    --------
    >>> from sk_brainjepa import BrainJEPAPretrainer, make_brain_dynamics
    >>> X, _ = make_brain_dynamics(n_subjects=8, n_rois=10, n_timepoints=64,
    ...                            random_state=0)
    >>> pre = BrainJEPAPretrainer(window_length=32, max_epochs=1, batch_size=4,
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
        window_length=160,
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
        context_loss_weight=None,
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
        monitor_task="auto",
        precision="auto",
        device="auto",
        window_position="center",
        embed_batch_size=32,
        checkpoint_path=None,
        checkpoint_every=1,
        resume=False,
        distributed="auto",
        num_workers=0,
        compile=False,
        n_timepoints=DEPRECATED,
        embed_window=DEPRECATED,
        random_state=None,
        verbose=0,
    ):
        self.model = model
        self.model_params = model_params
        self.patch_size = patch_size
        self.window_length = window_length
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
        self.context_loss_weight = context_loss_weight
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
        self.monitor_task = monitor_task
        self.precision = precision
        self.device = device
        self.window_position = window_position
        self.embed_batch_size = embed_batch_size
        self.checkpoint_path = checkpoint_path
        self.checkpoint_every = checkpoint_every
        self.resume = resume
        self.distributed = distributed
        self.num_workers = num_workers
        self.compile = compile
        self.n_timepoints = n_timepoints
        self.embed_window = embed_window
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ checks
    _parameter_constraints = PRETRAINER_CONSTRAINTS

    def _resolve_settings(self) -> PretrainingSettings:
        """Every parameter checked, before any data is read, and resolved once."""
        self._validate_params()  # per parameter, from _constraints
        return resolve_settings(self)  # relations, recipe, renames, masker options

    # --------------------------------------------------------------------- fit
    def fit(self, X, y=None):
        """Pretrain on time series.

        Parameters
        ----------
        X : array-like of shape (n_subjects, n_rois, n_timepoints), list of arrays, \
np.memmap, path or TimeSeriesSource
            ROI time series, robust-scaled (see :class:`ROIRobustScaler`, or
            wrap the data in :class:`~sk_brainjepa.sources.ScaledSource` to
            scale as windows are read); subjects may differ in length but must
            be at least ``n_timepoints`` long. Memory-mapped arrays, a 3-D
            ``.npy`` path, and folders or lists of per-subject files are
            streamed window by window (see
            :func:`~sk_brainjepa.sources.as_source`): memory does not grow
            with the number of subjects.
        y : None
            Ignored.

        Returns
        -------
        self : BrainJEPAPretrainer
        """
        settings = self._resolve_settings()
        run = prepare_run(settings, X)
        modules = build_modules(
            settings.model, settings.objective, run, settings.checkpoint
        )
        input_offset = offset_ratio(run.diagnostic_x)
        if run.context.is_main:
            warn_if_unscaled(run.diagnostic_x, input_offset)
        trainer = make_trainer(settings, run, modules)
        history = train_epochs(settings, run, modules, trainer)
        if history and run.context.is_main:
            warn_if_collapsed(history[-1], input_offset, settings.collapse_threshold)
        if run.context.enabled:
            release_data_parallel(trainer)

        (
            self.online_encoder_,
            self.predictor_,
            self.target_encoder_,
            self.reconstruction_head_,
        ) = modules.fitted()
        self.objective_ = settings.objective_record(modules.content_gain)
        self.input_offset_ratio_ = input_offset
        self.gradients_ = run.gradients
        self.history_ = history
        self.device_ = run.device
        self.window_length_ = settings.model.window_length
        self.n_rois_ = run.n_rois
        self.n_features_in_ = run.n_rois
        self.n_subjects_ = len(run.source)
        return self
