"""An online linear probe: how well pretrained features predict a label, mid-run."""

from __future__ import annotations

import numpy as np

from sk_brainjepa._utils._probe_protocol import (
    DEFAULT_GRID,
    MIN_PER_CLASS,
    min_units,
    probe_split,
    three_way_split,
)
from sk_brainjepa._utils._random import spawn_seeds
from sk_brainjepa._utils._targets import resolve_task

# linear_probe's defaults: 5 repeats of a 6/2/2 train/validation/test split.
_REPEATS = 5
_RATIOS = (0.6, 0.2, 0.2)
# Fewest subjects of a regression: two to train, one to validate, two to test.
_MIN_REGRESSION = (2, 1, 2)


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
        if counts.min() < MIN_PER_CLASS:
            rare = classes[counts < MIN_PER_CLASS].tolist()
            raise ValueError(
                f"monitor's y_val has classes with fewer than {MIN_PER_CLASS} "
                f"subjects ({rare}); the probe's stratified train/validation/test "
                f"splits need at least {MIN_PER_CLASS} subjects per class."
            )
        k = len(classes)
        needed = max(min_units(_RATIOS, (k, k, k)), MIN_PER_CLASS * k)
    else:
        needed = min_units(_RATIOS, _MIN_REGRESSION)
    if len(y) < needed:
        raise ValueError(
            f"monitor's y_val has {len(y)} subjects; the probe's 6/2/2 "
            f"train/validation/test splits need at least {needed}."
        )
    return X_val, y, task


def probe_score(
    features: np.ndarray, y: np.ndarray, random_state: int, task: str
) -> float:
    """Linear-probe score of frozen features, by ``linear_probe``'s protocol.

    The protocol of :func:`sk_brainjepa.model_selection.probe_features` with
    its defaults: 5 repeats of a 6/2/2 train / validation / test split
    (stratified for classes); on each, standardised features and a logistic
    regression (classes) or ridge (real values) for every value of the
    default grid (``10**-4`` ... ``10**4``), the one with the best validation
    score kept and scored on the test part. The score is the mean over the
    repeats of the test balanced accuracy (classification) or R^2
    (regression), so a monitor curve reads on the scale of ``linear_probe``'s
    ``mean`` row for the same features and seed.

    Before #22 the monitor scored a 5-fold cross-validation with its own
    models (a logistic regression at ``C=1``, ``RidgeCV``); its
    numbers were not comparable with ``linear_probe``'s and have changed.

    Parameters
    ----------
    features : ndarray of shape (n_subjects, n_features)
    y : ndarray of shape (n_subjects,)
    random_state : int
        Seeds the splits, as ``random_state`` seeds ``probe_features``'.
    task : {"classification", "regression"}
        As :func:`check_monitor` resolved it.

    Returns
    -------
    score : float
        Mean over the repeats.
    """
    classification = task == "classification"
    features = np.asarray(features, dtype=np.float64)
    metric = "balanced_accuracy" if classification else "r2"
    n_subjects = len(y)
    scores = [
        probe_split(
            features,
            y,
            three_way_split(
                n_subjects,
                y if classification else None,
                None,
                _RATIOS,
                classification,
                seed,
            ),
            classification,
            DEFAULT_GRID,
            repeat,
        )[metric]
        for repeat, seed in enumerate(spawn_seeds(random_state, _REPEATS))
    ]
    return float(np.mean(scores))
