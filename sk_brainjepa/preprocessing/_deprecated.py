"""Former names of ``sk_brainjepa.preprocessing``, kept for one release.

Each scaling has one public name, its estimator; the window-by-window form
that :class:`~sk_brainjepa.sources.ScaledSource` applies is made by the
estimator's ``to_window_transform()``. The classes that implement it keep
their names (checkpoints record the scaling of their data by that class
name, see ``estimators._resume.describe_scaling``), but reading them from
the package warns.
"""

from __future__ import annotations

import warnings

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

    Serves the module-level ``__getattr__`` (PEP 562) of
    ``sk_brainjepa.preprocessing``, so that ``from sk_brainjepa.preprocessing
    import SubjectRobustScaling`` keeps working, with a warning, for one
    release.

    Parameters
    ----------
    module_name : str
        Module whose attribute lookup failed (for the AttributeError).
    name : str
        Attribute looked up.

    Returns
    -------
    cls : type
        The class that ``to_window_transform()`` instantiates, so old code
        gives the same numbers (and ``isinstance`` still holds).

    Raises
    ------
    AttributeError
        If ``name`` is no former name.
    """
    if name not in _DEPRECATED:
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
    cls, replacement = _DEPRECATED[name]
    warnings.warn(
        f"sk_brainjepa.preprocessing.{name} is deprecated and will be removed in "
        f"the next release; use {replacement}.",
        FutureWarning,
        stacklevel=3,
    )
    return cls
