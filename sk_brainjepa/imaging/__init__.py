"""From fMRIPrep outputs to ROI time series (nilearn), Brain-JEPA's input.

:class:`ROITimeSeriesExtractor` averages a 4-D BOLD image over the regions of
a label atlas, denoised with fMRIPrep's confounds; :func:`load_fmriprep`
does it for every run of a derivatives folder and returns a
:class:`~sk_brainjepa.datasets.Cohort`. nilearn and nibabel are an optional
extra (``pip install "sk_brainjepa[nifti]"``), imported only when used.
"""

from sk_brainjepa.imaging._extractor import (
    ROITimeSeriesExtractor,
    read_repetition_time,
)
from sk_brainjepa.imaging._fmriprep import find_fmriprep_runs, load_fmriprep
from sk_brainjepa.imaging._official_atlas import (
    N_SCHAEFER_OFFICIAL,
    N_TIAN_OFFICIAL,
    ROI_COUNT_OFFICIAL,
    official_brainjepa_atlas,
)
from sk_brainjepa.imaging._synthetic import make_fmriprep_derivatives

__all__ = [
    "N_SCHAEFER_OFFICIAL",
    "N_TIAN_OFFICIAL",
    "ROI_COUNT_OFFICIAL",
    "ROITimeSeriesExtractor",
    "find_fmriprep_runs",
    "load_fmriprep",
    "make_fmriprep_derivatives",
    "official_brainjepa_atlas",
    "read_repetition_time",
]
