"""An online linear probe: how well pretrained features predict a label, mid-run."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_brainjepa._utils._targets import resolve_task

_FOLDS = 5


def check_monitor(monitor, task: str = "auto") -> tuple[object, np.ndarray, str] | None:
    """Validate the ``monitor`` parameter: None or a pair ``(X_val, y_val)``.

    Parameters
    ----------
    monitor : tuple (X_val, y_val) or None
    task : {"auto", "classification", "regression"}, default="auto"
        The pretrainer's ``monitor_task``; decided as ``linear_probe`` decides
        (and warns when "auto" has to guess).

    Returns
    -------
    checked : tuple (X_val, y_val, task) or None
    """
    if monitor is None:
        return None
    if not isinstance(monitor, (tuple, list)) or len(monitor) != 2:
        raise ValueError(
            "monitor must be None or a pair (X_val, y_val) of time series and "
            f"labels; got {type(monitor).__name__}."
        )
    X_val, y_val = monitor
    y = np.asarray(y_val)
    if y.ndim != 1:
        raise ValueError(f"monitor's y_val must be 1-D; got shape {y.shape}.")
    if len(y) != len(X_val):
        raise ValueError(
            f"monitor's X_val has {len(X_val)} subjects but y_val has {len(y)} labels."
        )
    if len(np.unique(y)) < 2:
        raise ValueError("monitor's y_val holds a single value: nothing to probe.")
    # stacklevel 6: the warning points at the user's fit call.
    task, y = resolve_task(y_val, task, name="monitor's y_val", stacklevel=6)
    if task == "classification":
        classes, counts = np.unique(y, return_counts=True)
        if counts.min() < 2:
            rare = classes[counts < 2].tolist()
            raise ValueError(
                f"monitor's y_val has classes with a single subject ({rare}); the "
                "cross-validated probe needs at least 2 subjects per class."
            )
    return X_val, y, task


def probe_score(
    features: np.ndarray, y: np.ndarray, random_state: int, task: str
) -> float:
    """Cross-validated linear-probe score of frozen features.

    Standardised features and a logistic regression (balanced accuracy) for
    classification, a ridge regression with internal alpha search (R^2) for
    regression; 5 folds, stratified for classes.

    Parameters
    ----------
    features : ndarray of shape (n_subjects, n_features)
    y : ndarray of shape (n_subjects,)
    random_state : int
        Seeds the fold assignment.
    task : {"classification", "regression"}
        As :func:`check_monitor` resolved it.

    Returns
    -------
    score : float
        Mean over the folds.
    """
    if task == "classification":
        _, counts = np.unique(y, return_counts=True)
        # check_monitor guarantees at least 2 subjects per class.
        folds = StratifiedKFold(
            min(_FOLDS, int(counts.min())), shuffle=True, random_state=random_state
        )
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        scoring = "balanced_accuracy"
    else:
        folds = KFold(_FOLDS, shuffle=True, random_state=random_state)
        model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-2, 4, 13)))
        scoring = "r2"
    return float(
        np.mean(cross_val_score(model, features, y, cv=folds, scoring=scoring))
    )
