"""Preprocessing transformers for ROI time series (scaling, resampling, FC).

Also :class:`DynamicFeatures`, hand-made lagged, higher-moment and
connectivity-state features of the time series. Every transformer takes
``layout="rois_x_time"`` (or ``"time_x_rois"``) and returns time series in
the layout it was given. The streaming forms of the scalings
(:class:`SubjectRobustScaling`, :class:`SampleZScoring`,
:class:`ROIScalerTransform`) scale one window at a time inside a
:class:`~sk_brainjepa.sources.ScaledSource`, and :func:`group_fc` averages
a source's connectivity one subject at a time.
:class:`ComBatHarmonizer` removes site (scanner) effects from 2-D features
(FC vectors, Brain-JEPA features), fitted on the training sites.
"""

from sk_brainjepa.preprocessing._connectivity import (
    FunctionalConnectivity,
    fisher_z,
    fisher_z_mean,
    sym_matrix_to_vec,
    vec_to_sym_matrix,
)
from sk_brainjepa.preprocessing._dynamics import DynamicFeatures
from sk_brainjepa.preprocessing._harmonize import ComBatHarmonizer
from sk_brainjepa.preprocessing._official_scaling import SampleZScore, official_scaling
from sk_brainjepa.preprocessing._resample import TemporalResampler
from sk_brainjepa.preprocessing._scaling import (
    ROIRobustScaler,
    SubjectRobustScaler,
    robust_scale_subject,
)
from sk_brainjepa.preprocessing._streaming import (
    ROIScalerTransform,
    SampleZScoring,
    SubjectRobustScaling,
    group_fc,
)
from sk_brainjepa.preprocessing._tangent import TangentConnectivity

__all__ = [
    "ComBatHarmonizer",
    "DynamicFeatures",
    "FunctionalConnectivity",
    "ROIRobustScaler",
    "ROIScalerTransform",
    "SampleZScore",
    "SampleZScoring",
    "SubjectRobustScaler",
    "SubjectRobustScaling",
    "TangentConnectivity",
    "TemporalResampler",
    "fisher_z",
    "fisher_z_mean",
    "group_fc",
    "official_scaling",
    "robust_scale_subject",
    "sym_matrix_to_vec",
    "vec_to_sym_matrix",
]
