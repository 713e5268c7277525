"""Former names of ``sk_brainjepa.preprocessing``, kept for one release.

Each scaling has one public name, its estimator; the window-by-window form
that :class:`~sk_brainjepa.sources.ScaledSource` applies is made by the
estimator's ``to_window_transform()``. The classes that implement it keep
their names (checkpoints record the scaling of their data by that class
name, see ``estimators._resume.describe_scaling``), but reading them from
the package warns.
"""

from __future__ import annotations

from sk_brainjepa._utils._deprecation import former_attribute
from sk_brainjepa.preprocessing._official_scaling import SampleZScoring
from sk_brainjepa.preprocessing._roi_scaling import ROIScalerTransform
from sk_brainjepa.preprocessing._scaling import SubjectRobustScaling

# Former public name -> (the class it names, the spelling that replaces it).
_DEPRECATED = {
    "SubjectRobustScaling": (
        SubjectRobustScaling,
        "SubjectRobustScaler(...).to_window_transform(over=...)",
    ),
    "SampleZScoring": (
        SampleZScoring,
        "SampleZScore(...).to_window_transform(over=...)",
    ),
    "ROIScalerTransform": (
        ROIScalerTransform,
        "the fitted ROIRobustScaler's to_window_transform()",
    ),
}


def deprecated_attribute(module_name: str, name: str):
    """The class formerly public as ``name``, with a FutureWarning naming its successor.

    Serves the module-level ``__getattr__`` of ``sk_brainjepa.preprocessing``;
    the class returned is the one ``to_window_transform()`` instantiates, so
    old code gives the same numbers (and ``isinstance`` still holds). See
    :func:`sk_brainjepa._utils._deprecation.former_attribute`.
    """
    return former_attribute(
        module_name, name, _DEPRECATED, package="sk_brainjepa.preprocessing"
    )
