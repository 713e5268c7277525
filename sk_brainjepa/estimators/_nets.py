"""What every skorch network of the project shares (fine-tuners and baselines).

skorch turns a torch training loop into a scikit-learn estimator, but leaves
randomness to the global RNG, holds out a fresh 20% fold with no seed, and
prints. :class:`SeededNetMixin` adds what the project's conventions ask for:

- ``random_state`` seeds the weights, the validation split, the shuffling and
  dropout, without touching the global RNG (dropout runs inside
  ``torch.random.fork_rng``);
- the validation part is ``valid_fraction`` of the training data (0.25, i.e.
  the 2 of a 6/2 train/validation split; stratified for classifiers), or an
  explicit ``train_split=skorch.helper.predefined_split(...)``;
- early stopping on the validation loss restores the best weights;
- the output width follows ``y`` (number of classes, or 1 for regression);
- class labels of any type; 1-D float targets for regression, standardised
  for training when the regressor's ``standardize_target`` is set;
- logging instead of printing (``verbose=0`` by default).

Only skorch's documented extension points are overridden.
"""

from __future__ import annotations

import logging
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import Interval
from skorch.callbacks import Callback, EarlyStopping
from skorch.dataset import ValidSplit

from sk_brainjepa._utils._random import spawn_seeds
from sk_brainjepa._utils._targets import check_target_values

logger = logging.getLogger(__name__)


class ModuleShapeSetter(Callback):
    """Fit the module's shape to the data before training.

    skorch builds the module before it sees the data; this callback asks the
    net for the shape ``X`` and ``y`` need (``n_outputs``, and for the
    baselines ``n_rois``) and re-initialises the module once when it differs.
    It also records the target scaling of regressors.
    """

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        if y is None:
            return
        y = np.asarray(y)
        if not is_classifier(net):
            # Targets of any scale (age in years, scores in the hundreds) train
            # at the same learning rate once standardised; predict undoes it.
            standardize = getattr(net, "standardize_target", False)
            std = y.std(axis=0) if standardize else 1.0
            net.target_center_ = y.mean(axis=0) if standardize else 0.0
            net.target_scale_ = np.where(std > 0, std, 1.0) if standardize else 1.0
        # ROIs are the features of fMRI-shaped input (time series or FC).
        if hasattr(X, "shape") and len(X.shape) >= 2:
            net.n_features_in_ = int(X.shape[1])
        wanted = net.module_shape(X, y)
        changed = {
            f"module__{k}": v
            for k, v in wanted.items()
            if getattr(net.module_, k, None) != v
        }
        if changed:
            net.set_params(**changed)


class SeededNetMixin:
    """Seeds, validation split, early stopping and label handling for skorch nets.

    Parameters
    ----------
    random_state : int, RandomState instance or None, default=None
        Seeds weights, validation split, shuffling and dropout.
    valid_fraction : float or None, default=0.25
        Share of the training data held out for validation and early stopping
        when ``train_split`` is None; 0 or None trains on everything.
    patience : int or None, default=10
        Epochs without validation-loss improvement before stopping; the best
        weights are restored. None disables early stopping.
    **kwargs
        skorch ``NeuralNet`` parameters.
    """

    #: The parameters the project's nets add to skorch's, declared the
    #: scikit-learn way and checked at the start of ``fit`` (``initialize``);
    #: subclasses extend the dict. skorch checks its own parameters.
    _parameter_constraints: dict = {
        "random_state": ["random_state"],
        # 0 or None: no validation part (train on everything).
        "valid_fraction": [Interval(Real, 0, 1, closed="left"), None],
        "patience": [Interval(Integral, 1, None, closed="left"), None],
        # The regressors' (read by ModuleShapeSetter); absent from classifiers.
        "standardize_target": ["boolean"],
    }

    def __init__(
        self, *args, random_state=None, valid_fraction=0.25, patience=10, **kwargs
    ):
        kwargs.setdefault("train_split", None)
        kwargs.setdefault("verbose", 0)
        kwargs.setdefault("iterator_train__shuffle", True)
        super().__init__(*args, **kwargs)
        self.random_state = random_state
        self.valid_fraction = valid_fraction
        self.patience = patience

    # ------------------------------------------------------------ seeding
    def initialize(self):
        """Check the parameters, draw this fit's seeds, then initialise as skorch does.

        skorch's ``NeuralNet._validate_params`` (a check of argument names,
        run by skorch's ``initialize``) shadows scikit-learn's, so
        scikit-learn's is called by name: it reads ``_parameter_constraints``
        and skorch's ``get_params``; a bad value fails with scikit-learn's
        message naming the parameter, before any module is built.
        """
        BaseEstimator._validate_params(self)
        init, split, shuffle, dropout = spawn_seeds(self.random_state, 4)
        self.seeds_ = {"init": init, "split": split % 2**32, "dropout": dropout}
        self.shuffle_generator_ = torch.Generator().manual_seed(shuffle)
        self.train_steps_ = 0
        return super().initialize()

    def init_generator(self) -> torch.Generator:
        """A generator for initial weights, seeded from ``random_state``."""
        return torch.Generator().manual_seed(self.seeds_["init"])

    def get_iterator(self, dataset, training=False):
        """skorch's iterator, drawing from a seeded generator, never the global RNG.

        A ``DataLoader`` without a generator takes its base seed from the
        global torch RNG on every pass, even without shuffling; validation and
        prediction loaders therefore get a fixed generator of their own.
        """
        prefix = "iterator_train" if training else "iterator_valid"
        kwargs = self.get_params_for(prefix)
        if "generator" in kwargs:
            return super().get_iterator(dataset, training=training)
        kwargs.setdefault("batch_size", self.batch_size)
        if kwargs["batch_size"] == -1:
            kwargs["batch_size"] = len(dataset)
        generator = (
            self.shuffle_generator_ if training else torch.Generator().manual_seed(0)
        )
        iterator = self.iterator_train if training else self.iterator_valid
        return iterator(dataset, generator=generator, **kwargs)

    def train_step(self, batch, **fit_params):
        """One step with dropout drawn from a seeded, forked RNG (global state kept)."""
        self.train_steps_ += 1
        devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed((self.seeds_["dropout"] + self.train_steps_) % 2**63)
            return super().train_step(batch, **fit_params)

    # ---------------------------------------------------- validation split
    def get_split_datasets(self, X, y=None, **fit_params):
        """Hold out ``valid_fraction`` (seeded, stratified for classes) by default."""
        if self.train_split is not None or not self.valid_fraction:
            return super().get_split_datasets(X, y, **fit_params)
        dataset = self.get_dataset(X, y)
        splitter = ValidSplit(
            cv=float(self.valid_fraction),
            stratified=is_classifier(self),
            random_state=self.seeds_["split"],
        )
        return splitter(dataset, y, **fit_params)

    def _uses_validation(self) -> bool:
        return self.train_split is not None or bool(self.valid_fraction)

    def get_default_callbacks(self):
        """skorch's defaults (quiet unless verbose), module shape, early stopping."""
        # skorch's "valid_acc" compares predicted labels with the encoded
        # targets of the dataset, so it is left out; "valid_loss" remains.
        callbacks = [
            (name, cb)
            for name, cb in super().get_default_callbacks()
            if not (name == "print_log" and not self.verbose) and name != "valid_acc"
        ]
        callbacks.append(("module_shape", ModuleShapeSetter()))
        if not self._uses_validation():
            callbacks = [(n, cb) for n, cb in callbacks if not n.startswith("valid_")]
        if self.patience is not None and self._uses_validation():
            callbacks.append(
                (
                    "early_stopping",
                    EarlyStopping(
                        monitor="valid_loss",
                        patience=self.patience,
                        load_best=True,
                        sink=logger.info,
                    ),
                )
            )
        return callbacks

    # ------------------------------------------------------ targets, labels
    def fit(self, X, y=None, **fit_params):
        """Check ``y`` (missing, infinite, single class, constant), then fit."""
        if y is not None and not isinstance(y, torch.Tensor) and np.ndim(y) == 1:
            task = "classification" if is_classifier(self) else "regression"
            check_target_values(y, task)
        return super().fit(X, y, **fit_params)

    def module_shape(self, X, y) -> dict:
        """Module keyword arguments that depend on the data: ``n_outputs``."""
        y = np.asarray(y)
        if is_classifier(self):
            return {"n_outputs": len(np.unique(y))}
        return {"n_outputs": 1 if y.ndim == 1 else y.shape[1]}

    def get_dataset(self, X, y=None):
        """Encode class labels as 0..C-1 and cast regression targets to float32."""
        if y is not None:
            y = np.asarray(y)
            if is_classifier(self):
                y = np.searchsorted(self.classes_, y).astype(np.int64)
            else:
                y = ((y - self.target_center_) / self.target_scale_).astype(np.float32)
        return super().get_dataset(X, y)

    def get_loss(self, y_pred, y_true, *args, **kwargs):
        """The criterion, with regression targets shaped like the predictions."""
        if not is_classifier(self):
            y_true = y_true.to(y_pred.dtype).reshape(y_pred.shape)
        return super().get_loss(y_pred, y_true, *args, **kwargs)

    def __sklearn_is_fitted__(self) -> bool:
        return bool(getattr(self, "initialized_", False)) and len(self.history_) > 0

    def predict(self, X):
        """Class labels (as given in ``fit``) or real values of shape (n_samples,)."""
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet; call fit first."
            )
        if is_classifier(self):
            return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
        out = super().predict(X) * self.target_scale_ + self.target_center_
        return (
            out.reshape(len(out), -1)[:, 0]
            if out.ndim > 1 and out.shape[1] == 1
            else out
        )
