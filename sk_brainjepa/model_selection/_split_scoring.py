"""How each kind of model of :func:`compare_models` is fitted and scored on a split.

Features + linear models get the linear readout's regularisation chosen on the
validation part; nets stop on it; estimators choose their grid point on it.
Every model is scored once on the test part.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import ParameterGrid

from sk_brainjepa.model_selection._contenders import EstimatorModel, FeatureModel
from sk_brainjepa.model_selection._metrics import (
    classification_scores,
    regression_scores,
)
from sk_brainjepa.model_selection._probe import _probe_one

__all__ = ["Harmonizer", "SplitScorer"]


class SplitScorer:
    """Scores of one model on every split; inputs shared across models are cached.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_rois, n_timepoints) or list of arrays
    y : ndarray of shape (n_samples,)
        Class indices 0..C-1 or real values.
    splits : list of (train, validation, test) index arrays
    classification : bool
    grid : list of float
        The linear readout's C / alpha candidates.
    harmonizer : Harmonizer or None
    net_seeds : list of int
        The nets' ``random_state`` per repeat.
    """

    def __init__(self, X, y, splits, classification, grid, harmonizer, net_seeds):
        self.X, self.y, self.splits = X, y, splits
        self.classification, self.grid = classification, grid
        self.harmonizer, self.net_seeds = harmonizer, net_seeds
        self._fc_matrices = None

    def fc_matrices(self):
        """Pearson FC matrices of X (float32), computed once for all FC nets."""
        if self._fc_matrices is None:
            from sk_brainjepa.preprocessing import FunctionalConnectivity

            fc = FunctionalConnectivity().fit_transform(self.X)
            self._fc_matrices = fc.astype(np.float32)
        return self._fc_matrices

    def score(self, model, advance) -> list[dict]:
        """One result dict per split (``selected`` and the test scores).

        ``advance(n)`` is called as splits are done (a progress bar's update).
        """
        if isinstance(model, FeatureModel):
            results = _feature_model_rows(
                model, self.X, self.y, self.splits, self.classification, self.grid,
                self.harmonizer,
            )  # fmt: skip
            advance(len(self.splits))
            return results
        if isinstance(model, EstimatorModel):
            results = []
            for split in self.splits:
                results.append(
                    _estimator_scores(model, self.X, self.y, split, self.classification)
                )
                advance(1)
            return results
        # A net: its inputs are the same for every split, except when ComBat
        # is fitted on each training part's FC.
        if model.input == "fc":
            inputs = self.fc_matrices()
        elif model.preprocess is not None:
            inputs = model.preprocess.transform(self.X)
        else:
            inputs = self.X
        results = []
        for split, seed in zip(self.splits, self.net_seeds, strict=True):
            split_inputs = inputs
            if model.input == "fc" and self.harmonizer is not None:
                split_inputs = _harmonized_matrices(inputs, split, self.harmonizer)
            results.append(
                _fit_net(model, split_inputs, self.y, split, self.classification, seed)
            )
            advance(1)
        return results


def _take(X, index):
    if isinstance(X, np.ndarray):
        return X[index]
    return [X[i] for i in index]


def _net_scores(net, X, y, split, classification):
    """Fit ``net`` on the training part (stopping on validation), score the test."""
    train, _, test = split
    net.fit(_take(X, train), y[train])
    valid_loss = net.history[:, "valid_loss"]
    scores = _test_scores(net, _take(X, test), y[test], classification)
    epochs = len(valid_loss)
    best = int(np.argmin(valid_loss)) + 1
    return {"selected": f"epoch {best} of {epochs}", **scores}


def _test_scores(estimator, X_test, y_test, classification) -> dict:
    """Every score of ``estimator`` on a held-out part (AUC needs predict_proba)."""
    pred = estimator.predict(X_test)
    if not classification:
        return regression_scores(y_test, pred)
    proba = (
        estimator.predict_proba(X_test) if hasattr(estimator, "predict_proba") else None
    )
    return classification_scores(
        y_test, pred, proba, getattr(estimator, "classes_", None)
    )


def _validation_target(y, split, classification):
    """The validation targets as the nets train on them.

    ``predefined_split`` hands the validation set to skorch as it is, so the
    nets' own target encoding is not applied to it: classes are already
    0..C-1 here, and regression targets are standardised with the training
    part's mean and (population) sd, as the regressors do for training.
    """
    train, val, _ = split
    if classification:
        return y[val].astype(np.int64)
    center, scale = y[train].mean(), y[train].std()
    return ((y[val] - center) / (scale if scale > 0 else 1.0)).astype(np.float32)


def _estimator_scores(model: EstimatorModel, X, y, split, classification):
    """Each grid point fitted on train; the best on validation scored on test."""
    train, val, test = split
    grid = list(ParameterGrid(model.param_grid or {}))
    best, best_score, best_params = None, -np.inf, {}
    for params in grid:
        est = clone(model.estimator).set_params(**params)
        est.fit(_take(X, train), y[train])
        if classification:
            score = _test_scores(est, _take(X, val), y[val], True)["balanced_accuracy"]
        else:
            # MSE on validation, the rule of the linear readout.
            score = -float(np.mean((y[val] - est.predict(_take(X, val))) ** 2))
        # Strictly better to move on: ties keep the first grid point.
        if best is None or score > best_score:
            best, best_score, best_params = est, score, params
    selected = ", ".join(f"{k}={v}" for k, v in best_params.items())
    return {
        "selected": selected,
        **_test_scores(best, _take(X, test), y[test], classification),
    }


class Harmonizer:
    """ComBat fitted on each training part's features, sites as batches."""

    def __init__(self, sites, covariates):
        self.sites = sites
        self.covariates = covariates

    def __call__(self, features, split):
        """``features`` with ComBat fitted on the rows of ``split[0]``, all rows."""
        from sk_brainjepa.preprocessing import ComBatHarmonizer

        train = split[0]
        fit_cov = None if self.covariates is None else _rows(self.covariates, train)
        combat = ComBatHarmonizer().fit(
            features[train], sites=self.sites[train], covariates=fit_cov
        )
        return np.asarray(
            combat.transform(features, sites=self.sites, covariates=self.covariates),
            dtype=np.float64,
        )


def _rows(table, index):
    if isinstance(table, pd.DataFrame):
        return table.iloc[index]
    return np.asarray(table)[index]


def _feature_model_rows(model, X, y, splits, classification, grid, harmonizer):
    """The linear readout of one features model on every split."""
    shared = None
    if model.per_sample:
        shared = np.asarray(
            clone(model.transformer).fit(X).transform(X), dtype=np.float64
        )
        _check_features(shared, model.name)
    results = []
    for k, split in enumerate(splits):
        if shared is None:
            fitted = clone(model.transformer).fit(_take(X, split[0]))
            features = np.asarray(fitted.transform(X), dtype=np.float64)
            _check_features(features, model.name)
        else:
            features = shared
        if harmonizer is not None:
            features = harmonizer(features, split)
        result = _probe_one(features, y, split, classification, grid, k)
        for key in ("repeat", "n_train", "n_val", "n_test"):
            result.pop(key)
        reg = result.pop("regularization")
        result = {"selected": f"{'C' if classification else 'alpha'}={reg:g}", **result}
        results.append(result)
    return results


def _check_features(features, name):
    if features.ndim != 2:
        raise ValueError(
            f"model {name!r} gave features of shape {features.shape}; the linear "
            "readout needs 2-D (n_samples, n_features)."
        )
    if not np.all(np.isfinite(features)):
        raise ValueError(f"model {name!r} gave NaN or infinite features.")


def _harmonized_matrices(fc, split, harmonizer):
    from sk_brainjepa.preprocessing import sym_matrix_to_vec, vec_to_sym_matrix

    vectors = harmonizer(sym_matrix_to_vec(fc).astype(np.float64), split)
    return vec_to_sym_matrix(vectors, diagonal=1.0).astype(np.float32)


def _fit_net(model, inputs, y, split, classification, seed):
    from skorch.dataset import Dataset
    from skorch.helper import predefined_split

    val = split[1]
    valid = Dataset(_take(inputs, val), _validation_target(y, split, classification))
    net = model.make(classification, seed, predefined_split(valid))
    return _net_scores(net, inputs, y, split, classification)
