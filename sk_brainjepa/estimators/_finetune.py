"""BrainJEPAClassifier / BrainJEPARegressor: skorch fine-tuning of Brain-JEPA."""

from __future__ import annotations

import copy
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from skorch import NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import LRScheduler

from sk_brainjepa._utils._validation import (
    LAYOUTS,
    apply_layout,
    check_layout,
    check_n_rois,
    check_timeseries,
    n_rois_of,
)
from sk_brainjepa.estimators._loading import load_pretrained_encoder
from sk_brainjepa.estimators._nets import SeededNetMixin
from sk_brainjepa.nn import BrainJEPAPredictionModel, layer_decay_groups
from sk_brainjepa.sources import crop


class _FineTuneMixin(SeededNetMixin):
    """Builds the model from a checkpoint or pretrainer in ``initialize_module``.

    Every (re)initialisation loads the pretrained weights afresh, so each clone
    that ``GridSearchCV`` fits starts from the same pretrained encoder, and the
    head is seeded by ``random_state``.
    """

    _parameter_constraints: dict = {
        **SeededNetMixin._parameter_constraints,
        # The model source is checked when it is loaded (exactly one of
        # checkpoint and pretrainer; the gradients against the checkpoint).
        "checkpoint": "no_validation",
        "pretrainer": "no_validation",
        "gradients": "no_validation",
        "n_timepoints": [Interval(Integral, 1, None, closed="left"), None],
        "layout": [StrOptions(set(LAYOUTS))],
        "freeze_encoder": ["boolean"],
        "layer_decay": [Interval(Real, 0, 1, closed="right")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "min_lr": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        checkpoint=None,
        *,
        pretrainer=None,
        gradients=None,
        n_timepoints=None,
        layout="rois_x_time",
        freeze_encoder=False,
        layer_decay=0.75,
        weight_decay=0.05,
        min_lr=1e-6,
        **kwargs,
    ):
        kwargs.setdefault("module", BrainJEPAPredictionModel)
        kwargs.setdefault("optimizer", torch.optim.AdamW)
        kwargs.setdefault("lr", 1e-4)
        kwargs.setdefault("max_epochs", 50)
        kwargs.setdefault("batch_size", 16)
        super().__init__(**kwargs)
        self.checkpoint = checkpoint
        self.pretrainer = pretrainer
        self.gradients = gradients
        self.n_timepoints = n_timepoints
        self.layout = layout
        self.freeze_encoder = freeze_encoder
        self.layer_decay = layer_decay
        self.weight_decay = weight_decay
        self.min_lr = min_lr

    def __sklearn_clone__(self):
        """An unfitted copy that shares ``pretrainer`` instead of unfitting it.

        scikit-learn's ``clone`` (as ``GridSearchCV`` calls it) clones nested
        estimators, which would drop a fitted pretrainer's weights. Every fit
        starts from a fresh copy of its encoder (``initialize_module``), so the
        pretrainer is only read and sharing it is safe.

        Returns
        -------
        clone : same class as ``self``
        """
        stand_in = copy.copy(self)
        stand_in.pretrainer = None
        twin = super(_FineTuneMixin, stand_in).__sklearn_clone__()
        twin.pretrainer = self.pretrainer
        return twin

    def initialize_module(self):
        """Load the pretrained encoder and put a freshly seeded head on it."""
        encoder, window = load_pretrained_encoder(
            checkpoint=self.checkpoint,
            pretrainer=self.pretrainer,
            gradients=self.gradients,
            n_timepoints=self.n_timepoints,
        )
        kwargs = self.get_params_for("module")
        kwargs.setdefault("n_outputs", 2 if self._is_classifier_net else 1)
        self.module_ = self.module(
            encoder,
            freeze_encoder=self.freeze_encoder,
            squeeze_output=not self._is_classifier_net,
            n_timepoints=window,
            generator=self.init_generator(),
            **kwargs,
        )
        self.n_timepoints_ = window
        return self

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
        """Adds a cosine learning-rate decay to ``min_lr`` over ``max_epochs``."""
        return [
            *super().get_default_callbacks(),
            (
                "lr_scheduler",
                LRScheduler(
                    policy="CosineAnnealingLR",
                    T_max=self.max_epochs,
                    eta_min=self.min_lr,
                ),
            ),
        ]

    def get_dataset(self, X, y=None):
        """Validated time series as one float32 array (centre windows if ragged)."""
        if not isinstance(X, torch.utils.data.Dataset):
            X = check_timeseries(apply_layout(X, check_layout(self.layout)))
            module = getattr(self, "module_", None)
            if module is not None:
                lengths = [x.shape[-1] for x in X]
                check_n_rois(
                    n_rois_of(X),
                    module.encoder.config.n_rois,
                    "the pretrained encoder",
                    n_timepoints=lengths,
                )
            if isinstance(X, list):
                window = min(x.shape[1] for x in X)
                X = np.stack([crop(x, window, "center") for x in X])
            X = np.asarray(X, dtype=np.float32)
        return super().get_dataset(X, y)


class BrainJEPAClassifier(_FineTuneMixin, NeuralNetClassifier):
    """Fine-tune (or linearly probe) Brain-JEPA for classification, with skorch.

    The model is the pretrained target encoder, a mean over its tokens,
    LayerNorm and a linear layer to one logit per class, trained with
    cross-entropy. All of skorch's parameters (``lr``, ``max_epochs``,
    ``batch_size``, ``optimizer__*``, ``module__*``, ``callbacks``, ``device``)
    work, also inside ``Pipeline`` and ``GridSearchCV``; for instance
    ``module__readout="connectivity", module__head_norm="batchnorm"`` puts the
    head on the correlation between ROIs of their token trajectories instead
    of the mean (see :class:`sk_brainjepa.nn.BrainJEPAPredictionModel`).

    Parameters
    ----------
    checkpoint : str, os.PathLike or None, default=None
        Our checkpoint or the official one (then also give ``gradients``).
    pretrainer : BrainJEPAPretrainer, FrozenEstimator or None, default=None
        A fitted pretrainer instead of a file; ``clone`` (and so
        ``GridSearchCV``) keeps it fitted and shared.
    gradients : None, array-like or path, default=None
        Gradients of an official checkpoint.
    n_timepoints : int or None, default=None
        Model window; longer series are centre-cropped.
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
        End of the cosine learning-rate decay.
    random_state : int, RandomState instance or None, default=None
        Seeds the head, the validation split, shuffling and dropout.
    valid_fraction : float or None, default=0.25
        Validation share of the training data (6/2 of a 6/2/2 split), used
        for early stopping; or pass ``train_split=predefined_split(...)``.
    patience : int or None, default=10
        Early-stopping patience on the validation loss; the best weights are
        restored at the end.
    **kwargs
        skorch parameters; defaults: ``optimizer=torch.optim.AdamW``,
        ``lr=1e-4``, ``max_epochs=50``, ``batch_size=16``, ``verbose=0``.

    Attributes
    ----------
    module_ : BrainJEPAPredictionModel
    classes_ : ndarray
    history_ : skorch.History

    Examples
    --------
    >>> from sk_brainjepa import (BrainJEPAClassifier, BrainJEPAPretrainer,
    ...                           make_brain_dynamics)
    >>> X, pheno = make_brain_dynamics(n_subjects=20, n_rois=6, n_timepoints=32,
    ...                                random_state=0)
    >>> pre = BrainJEPAPretrainer(n_timepoints=32, max_epochs=1, batch_size=10,
    ...                           random_state=0).fit(X)
    >>> clf = BrainJEPAClassifier(pretrainer=pre, max_epochs=2, random_state=0)
    >>> clf.fit(X, pheno["sex"]).predict(X).shape
    (20,)
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
        returned in the original units.

    Examples
    --------
    >>> from sk_brainjepa import (BrainJEPAPretrainer, BrainJEPARegressor,
    ...                           make_brain_dynamics)
    >>> X, pheno = make_brain_dynamics(n_subjects=20, n_rois=6, n_timepoints=32,
    ...                                random_state=0)
    >>> pre = BrainJEPAPretrainer(n_timepoints=32, max_epochs=1, batch_size=10,
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
