"""BrainNetCNN and BNT as estimators on FC matrices, and the FC-linear baseline."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from skorch import NeuralNetClassifier, NeuralNetRegressor

from sk_brainjepa._utils._base import ConnectivityEstimatorMixin
from sk_brainjepa._utils._validation import check_fc, check_n_rois
from sk_brainjepa.baselines._bnt import BrainNetworkTransformer
from sk_brainjepa.baselines._brainnetcnn import BrainNetCNN
from sk_brainjepa.estimators import SeededNetMixin
from sk_brainjepa.preprocessing import FunctionalConnectivity


class _FCNetMixin(ConnectivityEstimatorMixin, SeededNetMixin):
    """A skorch net over FC matrices whose module is sized by the data.

    ``fit`` records the ROI count and the output width in ``module_sizes_``
    (fitted attributes, not ``module__*`` parameters) before the module is
    built; before that the module has placeholder sizes.
    """

    def __init__(self, module, **kwargs):
        kwargs.setdefault("optimizer", torch.optim.Adam)
        kwargs.setdefault("lr", 1e-3)
        kwargs.setdefault("max_epochs", 100)
        kwargs.setdefault("batch_size", 16)
        kwargs.setdefault("optimizer__weight_decay", 5e-4)
        super().__init__(module=module, **kwargs)

    def module_shape(self, X, y) -> dict:
        """``n_outputs`` from ``y`` and ``n_rois`` from the FC matrices."""
        return {**super().module_shape(X, y), "n_rois": int(np.shape(X)[1])}

    def initialize_module(self):
        """Build the module from ``module__*`` parameters and the fitted sizes."""
        kwargs = self.module_kwargs()
        kwargs.setdefault("n_rois", 2)  # a placeholder until the data is seen
        kwargs.setdefault("n_outputs", 1)
        self.module_ = self.module(generator=self.init_generator(), **kwargs)
        return self

    def check_input(self, X):
        """FC matrices checked (square, symmetric, finite) and their ROI count.

        Parameters
        ----------
        X : array-like of shape (n_subjects, n_rois, n_rois)

        Returns
        -------
        fc : ndarray of shape (n_subjects, n_rois, n_rois)
        n_rois : int
        """
        fc = check_fc(X)
        return fc, fc.shape[1]

    def get_dataset(self, X, y=None):
        """FC matrices checked, with the fitted ROI count, and cast to float32."""
        if not isinstance(X, torch.utils.data.Dataset):
            X, n_rois = self.check_input(X)
            fitted = getattr(self, "module_sizes_", {}).get("n_rois")
            if fitted is not None:
                check_n_rois(n_rois, fitted, type(self).__name__)
            X = X.astype(np.float32)
        return super().get_dataset(X, y)


def _doc(model: str, task: str, reference: str) -> str:
    loss = "cross-entropy" if task == "classification" else "mean squared error"
    return f"""{model} for {task} on functional-connectivity matrices (skorch).

    Trained with Adam and {loss}; ``random_state`` seeds weights, validation
    split, shuffling and dropout. The validation part (``valid_fraction`` of the
    training data, or ``train_split=predefined_split(...)``) drives early
    stopping with ``patience``, restoring the best weights, as for the
    Brain-JEPA fine-tuners. Module options go through ``module__*`` (see
    ``sk_brainjepa.baselines.{reference}``). Put it after
    ``FunctionalConnectivity()`` in a ``Pipeline`` to start from time series.

    Parameters
    ----------
    random_state : int, RandomState instance or None, default=None
    valid_fraction : float or None, default=0.25
    patience : int or None, default=10
    **kwargs
        skorch parameters (an unknown name fails here, with a ``TypeError``
        naming the nearest valid ones); defaults ``optimizer=torch.optim.Adam``,
        ``lr=1e-3``, ``optimizer__weight_decay=5e-4``, ``max_epochs=100``,
        ``batch_size=16``, ``verbose=0``.

    Attributes
    ----------
    module_ : torch.nn.Module
    module_sizes_ : dict
        ``n_rois`` and ``n_outputs`` fitted to the data; never ``module__*``
        parameters, so ``get_params`` is the same before and after ``fit``.
    n_features_in_ : int
        The number of ROIs.
    """


class BrainNetCNNClassifier(_FCNetMixin, NeuralNetClassifier):
    __doc__ = _doc(
        "BrainNetCNN (Kawahara et al. 2017)", "classification", "BrainNetCNN"
    )

    def __init__(self, module=BrainNetCNN, **kwargs):
        kwargs.setdefault("criterion", torch.nn.CrossEntropyLoss)
        super().__init__(module, **kwargs)


class BrainNetCNNRegressor(_FCNetMixin, NeuralNetRegressor):
    __doc__ = _doc("BrainNetCNN (Kawahara et al. 2017)", "regression", "BrainNetCNN")

    def __init__(self, module=BrainNetCNN, *, standardize_target=True, **kwargs):
        kwargs.setdefault("criterion", torch.nn.MSELoss)
        super().__init__(module, **kwargs)
        self.standardize_target = standardize_target


class BNTClassifier(_FCNetMixin, NeuralNetClassifier):
    __doc__ = _doc(
        "Brain Network Transformer (Kan et al. 2022)",
        "classification",
        "BrainNetworkTransformer",
    )

    def __init__(self, module=BrainNetworkTransformer, **kwargs):
        kwargs.setdefault("criterion", torch.nn.CrossEntropyLoss)
        super().__init__(module, **kwargs)


class BNTRegressor(_FCNetMixin, NeuralNetRegressor):
    __doc__ = _doc(
        "Brain Network Transformer (Kan et al. 2022)",
        "regression",
        "BrainNetworkTransformer",
    )

    def __init__(
        self, module=BrainNetworkTransformer, *, standardize_target=True, **kwargs
    ):
        kwargs.setdefault("criterion", torch.nn.MSELoss)
        super().__init__(module, **kwargs)
        self.standardize_target = standardize_target


def fc_linear_baseline(
    task="classification", *, from_timeseries=True, C=1.0, alpha=1.0
):
    """The classical baseline: Fisher-z FC upper triangle into a linear model.

    Parameters
    ----------
    task : {"classification", "regression"}, default="classification"
        Logistic regression or ridge.
    from_timeseries : bool, default=True
        Start from time series (the pipeline computes FC); False starts from
        vectorised FC.
    C : float, default=1.0
        Inverse regularisation of the logistic regression.
    alpha : float, default=1.0
        Ridge penalty.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline

    Examples
    --------
    >>> from sk_brainjepa import make_brain_dynamics
    >>> from sk_brainjepa.baselines import fc_linear_baseline
    >>> X, pheno = make_brain_dynamics(n_subjects=30, n_rois=6, n_timepoints=40,
    ...                                random_state=0)
    >>> fc_linear_baseline().fit(X, pheno["sex"]).predict(X).shape
    (30,)
    """
    if task not in ("classification", "regression"):
        raise ValueError(
            f"task must be 'classification' or 'regression'; got {task!r}."
        )
    model = (
        LogisticRegression(C=C, max_iter=5000)
        if task == "classification"
        else Ridge(alpha=alpha)
    )
    steps = [("scale", StandardScaler()), ("model", model)]
    if from_timeseries:
        steps.insert(0, ("fc", FunctionalConnectivity(output="vector", fisher_z=True)))
    return Pipeline(steps)
