"""Preprocessing that streams: group FC, one subject in memory at a time.

:func:`group_fc` averages the functional connectivity of a source one subject
at a time. The scalings applied window by window come from each scaler's
``to_window_transform()``; the classes that implement them
(``ROIScalerTransform``, ``SubjectRobustScaling``, ``SampleZScoring``) live
beside their estimators and are imported here, their former home, so that
objects pickled before the move still load.
"""

from __future__ import annotations

import numpy as np

from sk_brainjepa.preprocessing._connectivity import (
    FunctionalConnectivity,
    fisher_z_mean,
)
from sk_brainjepa.preprocessing._official_scaling import (  # noqa: F401
    SampleZScoring,
)
from sk_brainjepa.preprocessing._roi_scaling import (  # noqa: F401
    ROIScalerTransform,
)
from sk_brainjepa.preprocessing._scaling import (  # noqa: F401
    SubjectRobustScaling,
)
from sk_brainjepa.sources import as_source


def group_fc(source, *, average: str = "fisher") -> np.ndarray:
    """Group functional connectivity, one subject in memory at a time.

    Gives what :class:`~sk_brainjepa.GradientPositioner` computes from
    ``FunctionalConnectivity().fit_transform(X)`` for float32 ``X`` (which is
    what sources return), without holding the (n_subjects, n_rois, n_rois)
    stack: pass the result to ``positioner.fit``.

    Parameters
    ----------
    source : TimeSeriesSource, array-like or path-like
        Anything :func:`~sk_brainjepa.sources.as_source` accepts.
    average : {"fisher", "mean"}, default="fisher"
        Fisher z averaging (the positioner's, for correlation kernels), or the
        plain mean (its rule for ``kernel="precomputed"``).

    Returns
    -------
    fc : ndarray of shape (n_rois, n_rois)
        float64; a single subject's float32 matrix when there is one subject.
    """
    if average not in ("fisher", "mean"):
        raise ValueError(f"average must be 'fisher' or 'mean'; got {average!r}.")
    source = as_source(source)
    measure = FunctionalConnectivity()

    def matrices():
        for index in range(len(source)):
            try:
                fc = measure.fit_transform(source[index][np.newaxis])[0]
            except ValueError as exc:
                raise ValueError(f"{source.subject_name(index)}: {exc}") from exc
            yield fc

    if len(source) == 1:
        return next(matrices())
    if average == "fisher":
        return fisher_z_mean(matrices())
    # float32 running sum, as fc.mean(axis=0) reduces a float32 stack.
    plain_sum = np.zeros((source.n_rois, source.n_rois), dtype=np.float32)
    for fc in matrices():
        plain_sum += fc
    return plain_sum / len(source)
