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
- the output width follows ``y`` (number of classes, or 1 for regression)
  and the baselines' ROI count follows ``X``: both are fitted attributes
  (``module_sizes_``), never parameters, so ``get_params`` is the same
  before and after ``fit``;
- ``X`` and ``y`` are converted and checked before anything else reads them
  (lists of lists, empty input, a continuous target given to a classifier),
  each with a one-line message;
- class labels of any type; 1-D float targets for regression, standardised
  for training when the regressor's ``standardize_target`` is set;
- an unknown keyword fails at construction, naming the nearest valid ones;
- logging instead of printing (``verbose=0`` by default).

Only skorch's documented extension points are overridden.
"""

from __future__ import annotations

import difflib
import inspect
import logging
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import Interval
from sklearn.utils.multiclass import type_of_target
from skorch.callbacks import EarlyStopping
from skorch.dataset import ValidSplit

from sk_brainjepa._utils._random import spawn_seeds
from sk_brainjepa._utils._targets import check_target_values, infer_task

logger = logging.getLogger(__name__)


# The components every net has; skorch registers them only in ``initialize``,
# so they are named here for the check of keyword names at construction.
_NET_COMPONENTS = ("module", "criterion", "optimizer")


def _init_parameter_names(cls) -> list[str]:
    """The named parameters of every ``__init__`` along ``cls``'s MRO."""
    names = set()
    for klass in cls.__mro__:
        init = vars(klass).get("__init__")
        if init is None or klass is object:
            continue
        for param in inspect.signature(init).parameters.values():
            if param.name != "self" and param.kind in (
                param.POSITIONAL_OR_KEYWORD,
                param.KEYWORD_ONLY,
            ):
                names.add(param.name)
    return sorted(names)


def check_keyword_names(net) -> None:
    """Refuse keywords that are neither parameters nor skorch's prefixed ones.

    skorch stores any keyword and checks the names only in ``initialize``
    (``fit``), so ``BrainJEPAClassifier(encodr="online")`` would be accepted
    and fail later; a Python function would raise a ``TypeError`` at once.

    Parameters
    ----------
    net : SeededNetMixin
        Just constructed by skorch (its extra keywords are in
        ``_params_to_validate``).

    Raises
    ------
    TypeError
        Naming the keyword and the nearest valid names.
    """
    prefixes = (*net.prefixes_, *_NET_COMPONENTS)
    valid = _init_parameter_names(type(net))
    for key in sorted(net._params_to_validate):
        # skorch's own bookkeeping (clone passes it back) and fitted attributes.
        if key.startswith("_") or key.endswith("_"):
            continue
        prefix = next((p for p in prefixes if key.startswith(p)), None)
        if prefix is not None and (key == prefix or key.startswith(prefix + "__")):
            continue
        if prefix is not None:
            suggestion = f"{prefix}__{key[len(prefix) :].lstrip('_')}"
            hint = f"did you mean {suggestion!r}?"
        else:
            close = difflib.get_close_matches(key, valid, n=3, cutoff=0.6)
            hint = (
                f"did you mean {' or '.join(repr(c) for c in close)}?"
                if close
                else "see help(" + type(net).__name__ + ") for the parameters"
            )
        raise TypeError(
            f"{type(net).__name__}() got an unexpected keyword argument {key!r}; "
            f"{hint} (skorch's prefixed ones, such as module__*, optimizer__* "
            "and callbacks__*, are accepted too)"
        )


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
        # The regressors' (read by fit); absent from classifiers.
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
        check_keyword_names(self)

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
        """skorch's defaults (quiet unless verbose), then early stopping."""
        # skorch's "valid_acc" compares predicted labels with the encoded
        # targets of the dataset, so it is left out; "valid_loss" remains.
        callbacks = [
            (name, cb)
            for name, cb in super().get_default_callbacks()
            if not (name == "print_log" and not self.verbose) and name != "valid_acc"
        ]
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

    # ------------------------------------------------------ input, targets
    def check_input(self, X):
        """``X`` converted and checked, and its number of ROIs.

        Subclasses define it (time series for the fine-tuners, FC matrices
        for the baselines); ``fit`` calls it before anything else reads
        ``X``, so that lists of lists, empty and wrongly shaped input get the
        package's messages.

        Parameters
        ----------
        X : array-like

        Returns
        -------
        X_checked : ndarray or list of ndarray
        n_rois : int
        """
        raise NotImplementedError

    def _check_y(self, y, n_samples: int):
        """``y`` as an array with one target per subject, checked for the task."""
        if y is None or isinstance(y, torch.Tensor):
            return y
        y = np.asarray(y)
        if y.ndim == 0 or len(y) != n_samples:
            got = "a scalar" if y.ndim == 0 else f"{len(y)} targets"
            raise ValueError(
                f"y has {got} for the {n_samples} subjects of X; give one target "
                "per subject."
            )
        if y.ndim == 1:
            task = "classification" if is_classifier(self) else "regression"
            check_target_values(y, task)
            if is_classifier(self):
                self._check_not_continuous(y)
        return y

    def _check_not_continuous(self, y) -> None:
        """Refuse real values as classes, with the package's task rule.

        A classifier given ages would otherwise fail in the stratified
        validation split, listing every age as a class with one member.
        Integer codes with at least two subjects each stay classes, however
        many there are.
        """
        if infer_task(y)[0] != "regression":
            return
        values, counts = np.unique(y, return_counts=True)
        if type_of_target(y) != "continuous" and counts.min() >= 2:
            return
        shown = ", ".join(f"{v:.4g}" for v in values[:3])
        name = type(self).__name__
        regressor = name.replace("Classifier", "Regressor")
        raise ValueError(
            f"y looks continuous ({len(values)} distinct values such as {shown}), "
            f"not class labels: {name} predicts classes; use {regressor} for a "
            "real-valued target, or pass class labels."
        )

    def _prepare_fit(self, X, y, *, reset: bool):
        """Check parameters, ``X`` and ``y``; on ``reset``, learn what they fix.

        What the data fixes (``n_features_in_``, the module sizes, the target
        scaling of regressors) is stored as fitted attributes before the
        module is built, so that ``get_params`` never changes. A net that is
        trained further (``partial_fit``, ``warm_start``) keeps them and
        refuses data that would need another module.
        """
        # Parameter errors come before data errors, as in scikit-learn.
        BaseEstimator._validate_params(self)
        if isinstance(X, torch.utils.data.Dataset):
            return X, y  # skorch reads a Dataset's own targets
        try:
            n_subjects = len(X)
        except TypeError:  # a scalar: check_input names it
            n_subjects = None
        if n_subjects == 0:
            raise ValueError(
                f"{type(self).__name__}.fit got no subjects (X is empty); pass the "
                "training subjects and their targets y."
            )
        X, n_rois = self.check_input(X)
        y = self._check_y(y, len(X))
        if y is None:
            return X, y
        sizes = self.module_shape(X, y)
        if reset:
            self.n_features_in_ = n_rois
            self.module_sizes_ = sizes
            if not is_classifier(self):
                self._fit_target_scaling(y)
        elif sizes != getattr(self, "module_sizes_", sizes):
            raise ValueError(
                f"{type(self).__name__} was initialised for {self.module_sizes_}, "
                f"but this data needs {sizes}; call fit without warm_start to start "
                "over."
            )
        return X, y

    def _fit_target_scaling(self, y) -> None:
        """``target_center_`` and ``target_scale_`` of a regressor's targets."""
        # Targets of any scale (age in years, scores in the hundreds) train at
        # the same learning rate once standardised; predict undoes it.
        y = y.astype(np.float64)
        if getattr(self, "standardize_target", False):
            std = y.std(axis=0)
            self.target_center_ = y.mean(axis=0)
            self.target_scale_ = np.where(std > 0, std, 1.0)
        else:
            self.target_center_, self.target_scale_ = 0.0, 1.0

    def fit(self, X, y=None, **fit_params):
        """Check ``X`` and ``y``, size the module to them, then train.

        ``y`` is refused when nothing can be learnt from it (missing or
        infinite values, a single class, a constant) and, by a classifier,
        when it looks continuous.

        Parameters
        ----------
        X : array-like
            See the class; lists (of lists) are converted first.
        y : array-like of shape (n_samples,)
        **fit_params
            Passed to skorch's ``fit``.

        Returns
        -------
        self : object
        """
        reset = not (self.warm_start and self.initialized_)
        X, y = self._prepare_fit(X, y, reset=reset)
        return super().fit(X, y, **fit_params)

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Train further; an uninitialised net is first sized to ``X`` and ``y``.

        Parameters
        ----------
        X : array-like
        y : array-like of shape (n_samples,)
        classes : array-like or None, default=None
            Ignored, as by skorch.
        **fit_params
            Passed to skorch's ``partial_fit``.

        Returns
        -------
        self : object
        """
        X, y = self._prepare_fit(X, y, reset=not self.initialized_)
        return super().partial_fit(X, y, classes=classes, **fit_params)

    def module_shape(self, X, y) -> dict:
        """Module sizes that depend on the data: ``n_outputs``."""
        y = np.asarray(y)
        if is_classifier(self):
            classes = getattr(self, "classes", None)
            n = len(classes) if classes is not None else len(np.unique(y))
            return {"n_outputs": n}
        return {"n_outputs": 1 if y.ndim == 1 else y.shape[1]}

    def module_kwargs(self) -> dict:
        """The ``module__*`` parameters, with the sizes fitted to the data.

        Returns
        -------
        kwargs : dict
            ``get_params_for("module")`` updated with ``module_sizes_`` (set
            by ``fit``; absent before, when the module is a placeholder).
        """
        return {**self.get_params_for("module"), **getattr(self, "module_sizes_", {})}

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
