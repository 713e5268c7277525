"""Connectivity gradients for Brain-JEPA's gradient positioning.

Diffusion-map gradients of functional connectivity (BrainSpace's algorithm,
with an exact eigensolver), their Procrustes alignment, the
:class:`GradientPositioner` estimator and CSV input/output in the layout of the
official ``gradient_mapping_450.csv``; :func:`gradient_array` and
:func:`resolve_gradients` turn a ``gradients`` parameter into an array.
"""

from sk_brainjepa.gradients._alignment import procrustes_align
from sk_brainjepa.gradients._embedding import diffusion_gradients
from sk_brainjepa.gradients._io import read_gradient_csv, write_gradient_csv
from sk_brainjepa.gradients._kernels import compute_affinity
from sk_brainjepa.gradients._positioner import GradientPositioner
from sk_brainjepa.gradients._resolve import gradient_array, resolve_gradients

__all__ = [
    "GradientPositioner",
    "compute_affinity",
    "diffusion_gradients",
    "gradient_array",
    "procrustes_align",
    "read_gradient_csv",
    "resolve_gradients",
    "write_gradient_csv",
]
