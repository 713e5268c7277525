"""BrainJEPAClassifier / BrainJEPARegressor: skorch fine-tuning of Brain-JEPA."""

from __future__ import annotations

from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Hidden, Interval, StrOptions
from skorch import NeuralNetClassifier, NeuralNetRegressor

from sk_brainjepa._utils._base import TimeSeriesEstimatorMixin
from sk_brainjepa._utils._deprecation import (
    DEPRECATED,
)
from sk_brainjepa._utils._docstrings import fill_doc
from sk_brainjepa._utils._validation import (
    LAYOUTS,
)
from sk_brainjepa.estimators._finetune_callbacks import (
    FineTuneDiagnostics,
    WarmupCosineLR,
    fit_probe_head,
    purpose_seed,
)
from sk_brainjepa.estimators._finetune_inputs import FineTuneInputsMixin
from sk_brainjepa.estimators._loading import ENCODERS, load_pretrained_encoder
from sk_brainjepa.estimators._nets import SeededNetMixin
from sk_brainjepa.estimators._renamed import RenamedParamsMixin
from sk_brainjepa.estimators._shared_pretrainer import SharedPretrainerMixin
from sk_brainjepa.nn import (
    BrainJEPAFineTuneModel,
    layer_decay_groups,
    reset_top_blocks_,
)

#: Old parameter name -> new one (deprecated in 0.2, removed in 0.3).
FINETUNE_RENAMES = {"encoder": "source_encoder", "n_timepoints": "window_length"}


class _FineTuneMixin(
    SharedPretrainerMixin,
    RenamedParamsMixin,
    FineTuneInputsMixin,
    TimeSeriesEstimatorMixin,
    SeededNetMixin,
):
    """Builds the model from a checkpoint or pretrainer in ``initialize_module``.

    Every (re)initialisation loads the pretrained weights afresh, so each clone
    that ``GridSearchCV`` fits starts from the same pretrained encoder, and the
    head (and any re-initialised block) is seeded by ``random_state``. With
    ``head_init="probe"`` the head is fitted as a linear probe at the start of
    the first epoch (:meth:`on_epoch_begin`).
    """

    _renames = FINETUNE_RENAMES

    _parameter_constraints: dict = {
        **SeededNetMixin._parameter_constraints,
        # The model source is checked when it is loaded (exactly one of
        # checkpoint and pretrainer; the gradients against the checkpoint).
        "checkpoint": "no_validation",
        "pretrainer": "no_validation",
        "gradients": "no_validation",
        "source_encoder": [StrOptions(set(ENCODERS))],
        "window_length": [Interval(Integral, 1, None, closed="left"), None],
        # The old names (renamed in 0.2): their values, or "deprecated" (unset).
        "encoder": [StrOptions(set(ENCODERS)), Hidden(StrOptions({DEPRECATED}))],
        "n_timepoints": [
            Interval(Integral, 1, None, closed="left"),
            None,
            Hidden(StrOptions({DEPRECATED})),
        ],
        "layout": [StrOptions(set(LAYOUTS))],
        "freeze_encoder": ["boolean"],
        "layer_decay": [Interval(Real, 0, 1, closed="right")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "min_lr": [Interval(Real, 0, None, closed="left")],
        "head_init": [StrOptions({"random", "probe"})],
        "reinit_blocks": [Interval(Integral, 0, None, closed="left")],
        "warmup_epochs": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        checkpoint=None,
        *,
        pretrainer=None,
        gradients=None,
        source_encoder="target",
        window_length=None,
        layout="rois_x_time",
        freeze_encoder=False,
        layer_decay=0.75,
        weight_decay=0.05,
        min_lr=1e-6,
        head_init="random",
        reinit_blocks=0,
        warmup_epochs=0,
        encoder=DEPRECATED,
        n_timepoints=DEPRECATED,
        **kwargs,
    ):
        if kwargs.setdefault("module", BrainJEPAFineTuneModel) is (
            BrainJEPAFineTuneModel
        ):
            # The head and rate that learn, chosen by benchmarks/transfer.py
            # (docs/research-notes.md, "Fine-tuning"): on a dynamics task that
            # fine-tuning from scratch can learn, the official mean head and
            # lr 1e-4 stayed at chance in 30 epochs from either start, the
            # connectivity head with BatchNorm at lr 1e-3 reached 0.95-0.98.
            kwargs.setdefault("module__readout", "connectivity")
            kwargs.setdefault("module__head_norm", "batchnorm")
        kwargs.setdefault("optimizer", torch.optim.AdamW)
        kwargs.setdefault("lr", 1e-3)
        kwargs.setdefault("max_epochs", 50)
        kwargs.setdefault("batch_size", 16)
        super().__init__(**kwargs)
        self.checkpoint = checkpoint
        self.pretrainer = pretrainer
        self.gradients = gradients
        self.source_encoder = source_encoder
        self.window_length = window_length
        self.layout = layout
        self.freeze_encoder = freeze_encoder
        self.layer_decay = layer_decay
        self.weight_decay = weight_decay
        self.min_lr = min_lr
        self.head_init = head_init
        self.reinit_blocks = reinit_blocks
        self.warmup_epochs = warmup_epochs
        self.encoder = encoder
        self.n_timepoints = n_timepoints

    def _generator(self, purpose: str) -> torch.Generator:
        """A generator for one use of randomness (see :func:`purpose_seed`)."""
        return torch.Generator().manual_seed(purpose_seed(self.seeds_["init"], purpose))

    def initialize_module(self):
        """Load the pretrained encoder, redraw its top blocks, add a seeded head."""
        encoder, window = load_pretrained_encoder(
            checkpoint=self.checkpoint,
            pretrainer=self.pretrainer,
            gradients=self.gradients,
            n_timepoints=self._renamed_value("n_timepoints", "window_length"),
            encoder=self._renamed_value("encoder", "source_encoder"),
        )
        depth = encoder.config.depth
        if self.reinit_blocks > depth:
            raise ValueError(
                f"reinit_blocks={self.reinit_blocks} exceeds the depth of the "
                f"pretrained encoder, depth={depth}; use at most {depth}."
            )
        reset_top_blocks_(encoder, self.reinit_blocks, self._generator("reinit"))
        kwargs = self.module_kwargs()
        kwargs.setdefault("n_outputs", 2 if self._is_classifier_net else 1)
        self.module_ = self.module(
            encoder,
            freeze_encoder=self.freeze_encoder,
            squeeze_output=not self._is_classifier_net,
            n_timepoints=window,
            generator=self.init_generator(),
            **kwargs,
        )
        self.window_length_ = window
        # A new head is random until the probe (if asked for) has fitted it.
        self.head_init_ = "random"
        self.probe_ = None
        return self

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        """Start an epoch; before the first one, fit the head as a linear probe.

        skorch calls this hook of the net before its callbacks', with the
        training part of its split, so the probe never sees the validation
        part and the diagnostics' reference comes after it. A head that the
        probe has already fitted (``partial_fit``, ``warm_start``) is kept.
        """
        super().on_epoch_begin(
            net, dataset_train=dataset_train, dataset_valid=dataset_valid, **kwargs
        )
        if self.head_init == "probe" and self.head_init_ == "random":
            seed = purpose_seed(self.seeds_["init"], "probe")
            self.probe_ = fit_probe_head(self, dataset_train, random_state=seed)
            self.head_init_ = "probe"

    def initialize_optimizer(self, *args, **kwargs):
        """AdamW with layer-wise learning-rate decay; no decay on biases and norms."""
        # A frozen encoder's parameters stay out of the optimiser altogether.
        named = [(n, p) for n, p in self.get_all_learnable_params() if p.requires_grad]
        _, opt_kwargs = self.get_params_for_optimizer("optimizer", named)
        lr = opt_kwargs.pop("lr", self.lr)
        opt_kwargs.pop("weight_decay", None)
        groups = layer_decay_groups(
            named,
            self.module_.encoder.config.depth,
            lr=lr,
            layer_decay=float(self.layer_decay),
            weight_decay=float(self.weight_decay),
        )
        self.optimizer_ = self.optimizer(groups, lr=lr, **opt_kwargs)
        return self

    def get_default_callbacks(self):
        """Adds the warm-up and cosine decay of the learning rate and the diagnostics.

        ``"lr_scheduler"``: :class:`WarmupCosineLR` (warm-up over
        ``warmup_epochs``, cosine decay to ``min_lr`` over ``max_epochs``);
        ``"diagnostics"``: :class:`FineTuneDiagnostics`. Either is replaced or
        switched off as skorch allows, e.g. ``callbacks__diagnostics=None``.
        """
        callbacks = super().get_default_callbacks()
        # Before early stopping, which ends the last epoch by raising: the
        # diagnostics of the epoch that stops training are recorded too.
        names = [name for name, _ in callbacks]
        at = names.index("early_stopping") if "early_stopping" in names else len(names)
        callbacks.insert(at, ("diagnostics", FineTuneDiagnostics()))
        callbacks.append(
            (
                "lr_scheduler",
                WarmupCosineLR(
                    self.max_epochs,
                    min_lr=self.min_lr,
                    warmup_epochs=self.warmup_epochs,
                ),
            )
        )
        return callbacks


@fill_doc
class BrainJEPAClassifier(_FineTuneMixin, NeuralNetClassifier):
    """Fine-tune (or linearly probe) Brain-JEPA for classification, with skorch.

    The model is the pretrained target encoder, the correlation between ROIs
    of their token trajectories (the connectivity readout), a BatchNorm and a
    linear layer to one logit per class, trained with cross-entropy. All of
    skorch's parameters (``lr``, ``max_epochs``, ``batch_size``,
    ``optimizer__*``, ``module__*``, ``callbacks``, ``device``) work, also
    inside ``Pipeline`` and ``GridSearchCV``; for instance
    ``module__readout="mean", module__head_norm="layernorm"`` gives the
    official head on the mean token (see
    :class:`sk_brainjepa.nn.BrainJEPAFineTuneModel`). The connectivity
    readout needs at least 2 time patches per window.

    Parameters
    ----------
    checkpoint : str, os.PathLike or None, default=None
        Our checkpoint or the official one (then also give ``gradients``).
    pretrainer : BrainJEPAPretrainer, FrozenEstimator or None, default=None
        A fitted pretrainer instead of a file; ``clone`` (and so
        ``GridSearchCV``) keeps it fitted and shared.
    %(gradients_official)s
    source_encoder : {"target", "online"}, default="target"
        Which of the pretrained model's encoders fine-tuning starts from: the
        EMA target encoder (the paper's, as the official downstream code
        loads) or the online context encoder that gradient descent trained
        (the pretrainer's online encoder, key ``encoder`` of a checkpoint),
        as ``source_encoder`` of :class:`BrainJEPAEmbedder`.
    window_length : int or None, default=None
        Model window in frames; None takes the pretrained model's. Longer
        series are centre-cropped, shorter ones are refused (pad them first,
        e.g. with ``TemporalResampler(n_timepoints=..., pad="edge")``).
    layout : {"rois_x_time", "time_x_rois"}, default="rois_x_time"
        How each subject's 2-D array is ordered; "time_x_rois" is what
        nilearn maskers return.
    freeze_encoder : bool, default=False
        Train only the head (linear probing by gradient descent, as the
        official code's linear probe).
    layer_decay : float, default=0.75
        Layer-wise learning-rate decay: block ``i`` of a depth-``L`` encoder
        learns at ``lr * layer_decay ** (L - i)``, the embeddings at
        ``lr * layer_decay ** (L + 1)``, the head at ``lr``. (The official
        code sets 0.75 but its grouping makes it a no-op.)
    weight_decay : float, default=0.05
        AdamW weight decay for matrices; biases and norms get none.
    min_lr : float, default=1e-6
        End of the cosine learning-rate decay. Every parameter group decays
        from its own rate (``lr`` scaled by ``layer_decay``) to ``min_lr``
        over ``max_epochs``, one step per epoch.
    head_init : {"random", "probe"}, default="random"
        How the head starts. "random": drawn from ``random_state``. "probe":
        LP-FT (Kumar et al., 2022), a linear probe fitted before the first
        epoch on the frozen readout features of the training part (never the
        validation part) after ``fc_norm`` (a BatchNorm ``fc_norm`` first gets
        the statistics of these features), then copied into the head; the
        whole model is then fine-tuned as usual. Classes: logistic
        regression, ``C`` chosen in 10^-3..10^3 by stratified 5-fold
        log-loss on the training part; targets: ridge regression, ``alpha``
        in 10^-3..10^3 by leave-one-out. ``partial_fit`` keeps a probed head.
    reinit_blocks : int, default=0
        Re-draw the top ``reinit_blocks`` transformer blocks of the encoder
        with the encoder's own initialisation (seeded from ``random_state``),
        keeping the lower blocks, the embeddings and the final norm
        pretrained. At most the encoder's depth.
    warmup_epochs : float, default=0
        Linear learning-rate warm-up, per batch, from about 0 to the
        (layer-decayed) rates over this many epochs, multiplying the cosine
        decay; 0 leaves the cosine rates exactly as they were before this
        parameter existed.
    encoder : {"target", "online"}, default="deprecated"
        .. deprecated:: 0.2
           Use ``source_encoder``; removed in 0.3.
    n_timepoints : int or None, default="deprecated"
        .. deprecated:: 0.2
           Use ``window_length``; removed in 0.3.
    random_state : int, RandomState instance or None, default=None
        Seeds the head, re-initialised blocks, the probe's folds, the
        validation split, shuffling, dropout and the diagnostics' subset.
    valid_fraction : float or None, default=0.25
        Validation share of the training data (6/2 of a 6/2/2 split), used
        for early stopping; or pass ``train_split=predefined_split(...)``.
    patience : int or None, default=10
        Early-stopping patience on the validation loss; the best weights are
        restored at the end.
    **kwargs
        skorch parameters (an unknown name fails here, with a
        ``TypeError`` naming the nearest valid ones); defaults:
        ``optimizer=torch.optim.AdamW``,
        ``lr=1e-3``, ``max_epochs=50``, ``batch_size=16``, ``verbose=0``,
        and with the default module ``module__readout="connectivity"``,
        ``module__head_norm="batchnorm"`` (the official code's fine-tuning
        head is ``module__readout="mean", module__head_norm="layernorm"``
        at lr 6.25e-5; see the Notes).

    Attributes
    ----------
    module_ : BrainJEPAFineTuneModel
    module_sizes_ : dict
        The module sizes fitted to the data (``n_outputs``: the number of
        classes); never a ``module__*`` parameter, so ``get_params`` is the
        same before and after ``fit``.
    n_features_in_ : int
        The number of ROIs.
    window_length_ : int
        The model window in frames (``window_length`` resolved).
    classes_ : ndarray
    history_ : skorch.History
        skorch's per-epoch records (``train_loss``, ``valid_loss``,
        ``event_lr``: the first parameter group's rate, i.e. the embeddings')
        and the diagnostics described in the Notes.
    head_init_ : {"random", "probe"}
        How the current head was initialised.
    probe_ : LogisticRegression, RidgeCV or None
        The fitted probe of ``head_init="probe"`` (its ``C`` or ``alpha_`` is
        the regularisation chosen); None otherwise.

    See Also
    --------
    sk_brainjepa.estimators.FineTuneDiagnostics : The diagnostics callback.
    sk_brainjepa.estimators.WarmupCosineLR : The learning-rate schedule.

    Notes
    -----
    **Defaults.** ``lr=1e-3`` with the connectivity head and BatchNorm were
    chosen by ``benchmarks/transfer.py`` (docs/research-notes.md): on a
    simulated directed-lag task that supervised training can learn, 30
    epochs at the former default (lr 1e-4, mean head) stayed at chance from
    the pretrained and from the untrained weights, while lr 1e-3 with the
    connectivity head reached 0.95 (untrained) and 0.98 (pretrained) balanced
    accuracy with 120 labels, and fine-tuning from the pretrained weights was
    never below fine-tuning from the same untrained weights by more than the
    spread over seeds.

    Every epoch, the default callback ``"diagnostics"``
    (:class:`~sk_brainjepa.estimators.FineTuneDiagnostics`) records in
    ``history_``, relative to the start of the current ``fit`` /
    ``partial_fit`` (after any probe and re-initialisation):

    - ``encoder_shift``: ``||theta - theta_0|| / ||theta_0||``, the relative
      L2 change of all encoder parameters (0 with ``freeze_encoder``);
    - ``feature_shift``: feature distortion, 1 minus the mean cosine
      similarity between the readout features of a fixed, seeded subset of up
      to 64 training windows now and at the start (eval mode, no gradients);
    - ``head_norm``: Frobenius norm of the head's weight;
    - ``grad_norm``: global L2 norm of the gradients of all trained
      parameters, averaged over the epoch's batches.

    They cost one forward pass over the subset per epoch and a copy of the
    encoder's parameters while training; ``callbacks__diagnostics=None``
    switches them off, without changing the training (nor does
    ``warmup_epochs=0``: the per-epoch learning rates are bit for bit those of
    the former ``CosineAnnealingLR`` schedule).

    References
    ----------
    Kumar, Raghunathan, Jones, Ma and Liang, "Fine-Tuning can Distort
    Pretrained Features and Underperform Out-of-Distribution", ICLR 2022,
    arXiv:2202.10054.

    Examples
    --------
    >>> from sk_brainjepa import (BrainJEPAClassifier, BrainJEPAPretrainer,
    ...                           make_brain_dynamics)
    >>> X, pheno = make_brain_dynamics(n_subjects=20, n_rois=6, n_timepoints=32,
    ...                                random_state=0)
    >>> pre = BrainJEPAPretrainer(window_length=32, max_epochs=1, batch_size=10,
    ...                           random_state=0).fit(X)
    >>> clf = BrainJEPAClassifier(pretrainer=pre, max_epochs=2, random_state=0)
    >>> clf.fit(X, pheno["sex"]).predict(X).shape
    (20,)
    >>> lpft = BrainJEPAClassifier(pretrainer=pre, head_init="probe", max_epochs=2,
    ...                            warmup_epochs=1, random_state=0)
    >>> lpft.fit(X, pheno["sex"]).head_init_
    'probe'
    >>> sorted(k for k in lpft.history_[-1] if k.endswith(("_shift", "_norm")))
    ['encoder_shift', 'feature_shift', 'grad_norm', 'head_norm']
    """

    _is_classifier_net = True

    def __init__(self, checkpoint=None, **kwargs):
        kwargs.setdefault("criterion", torch.nn.CrossEntropyLoss)
        super().__init__(checkpoint, **kwargs)


class BrainJEPARegressor(_FineTuneMixin, NeuralNetRegressor):
    """Fine-tune (or linearly probe) Brain-JEPA for regression, with skorch.

    Same model and parameters as :class:`BrainJEPAClassifier`, with one
    output trained by mean squared error; ``y`` is a 1-D array of floats and
    ``predict`` returns shape (n_samples,).

    Parameters
    ----------
    checkpoint : str, os.PathLike or None, default=None
        See :class:`BrainJEPAClassifier` for this and the other parameters.
    standardize_target : bool, default=True
        Train on ``(y - mean) / std`` of the training targets (so targets in
        years or hundreds learn at the usual learning rates); predictions are
        returned in the original units. With ``head_init="probe"`` the ridge
        probe is fitted on these standardised targets.

    Attributes
    ----------
    module_ : BrainJEPAFineTuneModel
    history_ : skorch.History
        With the diagnostics ``encoder_shift``, ``feature_shift``,
        ``head_norm`` and ``grad_norm`` of :class:`BrainJEPAClassifier`.
    head_init_ : {"random", "probe"}
    probe_ : RidgeCV or None
    target_center_, target_scale_ : float
        The standardisation of the targets.

    Examples
    --------
    >>> from sk_brainjepa import (BrainJEPAPretrainer, BrainJEPARegressor,
    ...                           make_brain_dynamics)
    >>> X, pheno = make_brain_dynamics(n_subjects=20, n_rois=6, n_timepoints=32,
    ...                                random_state=0)
    >>> pre = BrainJEPAPretrainer(window_length=32, max_epochs=1, batch_size=10,
    ...                           random_state=0).fit(X)
    >>> reg = BrainJEPARegressor(pretrainer=pre, max_epochs=2, random_state=0)
    >>> reg.fit(X, pheno["age"]).predict(X).shape
    (20,)
    """

    _is_classifier_net = False

    def __init__(self, checkpoint=None, *, standardize_target=True, **kwargs):
        kwargs.setdefault("criterion", torch.nn.MSELoss)
        super().__init__(checkpoint, **kwargs)
        self.standardize_target = standardize_target
