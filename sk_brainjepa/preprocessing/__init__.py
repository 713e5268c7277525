"""Preprocessing transformers for ROI time series (scaling, resampling, FC).

Also :class:`DynamicFeatures`, hand-made lagged, higher-moment and
connectivity-state features of the time series. Every transformer takes
``layout="rois_x_time"`` (or ``"time_x_rois"``) and returns time series in
the layout it was given. Each scaler's ``to_window_transform()``
(:class:`SubjectRobustScaler`, :class:`SampleZScore`, a fitted
:class:`ROIRobustScaler`) gives its scaling one window at a time, for a
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
from sk_brainjepa.preprocessing._deprecated import deprecated_attribute
from sk_brainjepa.preprocessing._dynamics import DynamicFeatures
from sk_brainjepa.preprocessing._harmonize import ComBatHarmonizer
from sk_brainjepa.preprocessing._official_scaling import SampleZScore, official_scaling
from sk_brainjepa.preprocessing._resample import TemporalResampler
from sk_brainjepa.preprocessing._roi_scaling import ROIRobustScaler
from sk_brainjepa.preprocessing._scaling import (
    SubjectRobustScaler,
    robust_scale_subject,
)
from sk_brainjepa.preprocessing._streaming import group_fc
from sk_brainjepa.preprocessing._tangent import TangentConnectivity

__all__ = [
    "ComBatHarmonizer",
    "DynamicFeatures",
    "FunctionalConnectivity",
    "ROIRobustScaler",
    "SampleZScore",
    "SubjectRobustScaler",
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


def __getattr__(name: str):
    # Former names (PEP 562): SubjectRobustScaling, SampleZScoring and
    # ROIScalerTransform warn on access and hand out the class that the
    # scalers' to_window_transform() builds; see _deprecated._DEPRECATED.
    return deprecated_attribute(__name__, name)
