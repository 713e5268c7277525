"""ROI time series from 4-D BOLD images and a label atlas, with nilearn."""

from __future__ import annotations

import json
import os
from numbers import Real
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from sk_brainjepa._utils._validation import LAYOUTS

_INSTALL = 'pip install "sk_brainjepa[nifti]"'
_STANDARDIZE = ("zscore_sample", "psc")


def _nilearn():
    """The nilearn and nibabel modules, or an ImportError naming the extra."""
    try:
        import nibabel
        import nilearn
    except ImportError as exc:
        raise ImportError(
            f"Reading NIfTI images needs nilearn and nibabel: {_INSTALL}"
        ) from exc
    return nilearn, nibabel


def _describe(img) -> str:
    """How an image is named in messages: its path, else its type."""
    if isinstance(img, (str, os.PathLike)):
        return str(img)
    filename = getattr(img, "get_filename", lambda: None)()
    return str(filename) if filename else f"in-memory {type(img).__name__}"


def _load(img, nib, what: str):
    if isinstance(img, (str, os.PathLike)):
        path = Path(img)
        if not path.is_file():
            raise FileNotFoundError(f"{what} {path} does not exist.")
        return nib.load(str(path))
    if not hasattr(img, "affine") or not hasattr(img, "shape"):
        raise TypeError(
            f"{what} must be a path or a nibabel image; got {type(img).__name__}."
        )
    return img


def _image_path(img) -> Path | None:
    if isinstance(img, (str, os.PathLike)):
        return Path(img)
    filename = getattr(img, "get_filename", lambda: None)()
    return Path(filename) if filename else None


def _sidecar(path: Path) -> Path:
    """The BIDS JSON sidecar of an image: same name, ``.json`` extension."""
    name = path.name
    for ext in (".nii.gz", ".nii", ".dtseries.nii"):
        if name.endswith(ext):
            return path.with_name(name[: -len(ext)] + ".json")
    return path.with_suffix(".json")


def read_repetition_time(img) -> float:
    """``RepetitionTime`` (seconds) from the JSON sidecar next to an image.

    Parameters
    ----------
    img : str, path-like or nibabel image loaded from a file
        A BIDS image, e.g. ``sub-01_task-rest_desc-preproc_bold.nii.gz``,
        whose sidecar is ``sub-01_task-rest_desc-preproc_bold.json``.

    Returns
    -------
    t_r : float

    Raises
    ------
    ValueError
        If the image has no file, no sidecar, or a sidecar without a positive
        ``RepetitionTime``.
    """
    path = _image_path(img)
    if path is None:
        raise ValueError(
            f"no RepetitionTime: {_describe(img)} has no file to find a JSON "
            "sidecar next to; give t_r=."
        )
    sidecar = _sidecar(path)
    if not sidecar.is_file():
        raise ValueError(
            f"no RepetitionTime: give t_r= or add {sidecar.name} next to {path}."
        )
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"no RepetitionTime: cannot read {sidecar}: {exc}") from exc
    t_r = meta.get("RepetitionTime") if isinstance(meta, dict) else None
    if not isinstance(t_r, Real) or isinstance(t_r, bool) or not t_r > 0:
        raise ValueError(
            f"no RepetitionTime: {sidecar} has RepetitionTime={t_r!r}; give t_r= "
            "or set a positive RepetitionTime (seconds) in the sidecar."
        )
    return float(t_r)


def _read_labels(labels, region_ids: np.ndarray, atlas_name: str) -> list[str]:
    """One name per region of the atlas, in the order of ``region_ids``."""
    n = len(region_ids)
    if labels is None:
        return [str(int(r)) if float(r).is_integer() else str(r) for r in region_ids]
    if isinstance(labels, (str, os.PathLike)):
        path = Path(labels)
        if not path.is_file():
            raise FileNotFoundError(f"labels table {path} does not exist.")
        sep = "\t" if path.suffix.lower() == ".tsv" else ","
        table = pd.read_csv(path, sep=sep)
        missing = {"index", "name"} - set(table.columns)
        if missing:
            raise ValueError(
                f"labels table {path} needs columns 'index' and 'name'; it has "
                f"{list(table.columns)}."
            )
        table = table[table["index"] != 0]  # a background row, if listed
        names = dict(
            zip(table["index"].astype(float), table["name"].astype(str), strict=True)
        )
        if len(names) != n or set(names) != {float(r) for r in region_ids}:
            raise ValueError(
                f"atlas {atlas_name} has {n} regions but labels table {path} lists "
                f"{len(names)}; their indices must be the atlas values "
                f"{[int(r) for r in region_ids[:10]]}{' ...' if n > 10 else ''}."
            )
        return [names[float(r)] for r in region_ids]
    names = [str(name) for name in labels]
    if len(names) != n:
        raise ValueError(
            f"atlas {atlas_name} has {n} regions but {len(names)} labels were given "
            "(one name per non-zero atlas value, in increasing order)."
        )
    return names


class ROITimeSeriesExtractor(TransformerMixin, BaseEstimator):
    """Mean BOLD signal of each atlas region, optionally denoised (nilearn).

    A thin, validated wrapper around :class:`nilearn.maskers.NiftiLabelsMasker`
    that returns Brain-JEPA's input: one float32 array of shape
    (n_rois, n_timepoints) per run. Confounds are read from fMRIPrep's
    ``*_desc-confounds_timeseries.tsv`` with
    :func:`nilearn.interfaces.fmriprep.load_confounds`, and the repetition
    time from each image's BIDS JSON sidecar. Needs the optional
    ``nifti`` extra (``pip install "sk_brainjepa[nifti]"``).

    Parameters
    ----------
    atlas : str, path-like or nibabel image
        3-D label image: 0 is background, every other value one region.
    labels : None, list of str, str or path-like, default=None
        Region names. None names regions by their atlas value; a list gives
        one name per region in increasing value order; a path is a
        ``.tsv``/``.csv`` table with columns ``index`` (atlas value) and
        ``name``. Its regions must be exactly the atlas's.
    confounds_strategy : None or tuple of str, default=None
        fMRIPrep denoising strategies for
        :func:`~nilearn.interfaces.fmriprep.load_confounds`, e.g.
        ``("motion", "wm_csf")``. None regresses nothing. Needs image paths
        inside an fMRIPrep ``func`` folder.
    confounds_params : dict or None, default=None
        Further arguments of ``load_confounds`` (``motion="basic"``,
        ``wm_csf="full"``, ``scrub=...``, ...). Frames that scrubbing or
        non-steady-state detection remove are dropped from the output.
    standardize : {"zscore_sample", "psc"}, False or None, default="zscore_sample"
        Per-run, per-region scaling after extraction, with nilearn's
        meanings: ``"zscore_sample"`` zero mean and unit (sample) variance,
        ``"psc"`` percent signal change, False/None the raw mean signal.
        Z-scoring is the default so that runs from different scanners share
        a scale and padding with zeros (``TemporalResampler``) pads with the
        mean; Brain-JEPA's robust scaling (:class:`ROIRobustScaler`) still
        applies on top.
    detrend : bool, default=False
        Remove a linear trend from each region's signal.
    low_pass, high_pass : float or None, default=None
        Butterworth filter cut-offs in Hz (need a repetition time).
    t_r : float or None, default=None
        Repetition time in seconds, for every image. None reads
        ``RepetitionTime`` from each image's JSON sidecar
        (``sub-01_task-rest_desc-preproc_bold.json`` next to
        ``sub-01_task-rest_desc-preproc_bold.nii.gz``).
    resampling_target : {"data"} or None, default=None
        None refuses an image whose voxel grid (shape and affine) differs from
        the atlas's, naming both; ``"data"`` resamples the atlas to each
        image (nearest neighbour) instead.
    layout : {"rois_x_time", "time_x_rois"}, default="rois_x_time"
        Orientation of each returned array.

    Attributes
    ----------
    atlas_img_ : nibabel image
        The loaded atlas.
    region_ids_ : ndarray of shape (n_rois,)
        Atlas values of the regions, increasing.
    labels_ : list of str
        Region names, in the order of the output rows.
    n_rois_ : int
        Number of regions.
    t_rs_ : list of float
        Repetition time of each image of the last ``transform`` call.

    Examples
    --------
    >>> from sk_brainjepa.imaging import ROITimeSeriesExtractor
    >>> ext = ROITimeSeriesExtractor("atlas.nii.gz", confounds_strategy=("motion",))
    >>> X = ext.fit_transform(["sub-01_desc-preproc_bold.nii.gz"])  # doctest: +SKIP
    """

    _parameter_constraints: dict = {
        "atlas": [str, os.PathLike, HasMethods(["get_fdata"])],
        "labels": [None, list, tuple, str, os.PathLike],
        "confounds_strategy": [None, tuple, list],
        "confounds_params": [None, dict],
        "standardize": [StrOptions(set(_STANDARDIZE)), "boolean", None],
        "detrend": ["boolean"],
        "low_pass": [Interval(Real, 0, None, closed="neither"), None],
        "high_pass": [Interval(Real, 0, None, closed="neither"), None],
        "t_r": [Interval(Real, 0, None, closed="neither"), None],
        "resampling_target": [StrOptions({"data"}), None],
        "layout": [StrOptions(set(LAYOUTS))],
    }

    def __init__(
        self,
        atlas,
        labels=None,
        *,
        confounds_strategy=None,
        confounds_params=None,
        standardize="zscore_sample",
        detrend=False,
        low_pass=None,
        high_pass=None,
        t_r=None,
        resampling_target=None,
        layout="rois_x_time",
    ):
        self.atlas = atlas
        self.labels = labels
        self.confounds_strategy = confounds_strategy
        self.confounds_params = confounds_params
        self.standardize = standardize
        self.detrend = detrend
        self.low_pass = low_pass
        self.high_pass = high_pass
        self.t_r = t_r
        self.resampling_target = resampling_target
        self.layout = layout

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        return tags

    def fit(self, imgs=None, y=None):
        """Load and check the atlas and its labels; ``imgs`` is ignored.

        Returns
        -------
        self : ROITimeSeriesExtractor
        """
        self._validate_params()
        if self.standardize is True:
            raise ValueError(
                "standardize=True is ambiguous across nilearn versions; use "
                "standardize='zscore_sample'."
            )
        _, nib = _nilearn()
        atlas = _load(self.atlas, nib, "atlas")
        name = _describe(self.atlas)
        if len(atlas.shape) != 3 and not (
            len(atlas.shape) == 4 and atlas.shape[3] == 1
        ):
            raise ValueError(
                f"atlas {name} must be a 3-D label image; got shape {atlas.shape}."
            )
        data = np.asarray(atlas.dataobj).reshape(atlas.shape[:3])
        if not np.all(np.isfinite(data)) or not np.allclose(data, np.round(data)):
            raise ValueError(
                f"atlas {name} must hold integer labels (0 for background); "
                "a probabilistic atlas needs nilearn's NiftiMapsMasker."
            )
        region_ids = np.unique(data)
        region_ids = region_ids[region_ids != 0]
        if region_ids.size == 0:
            raise ValueError(f"atlas {name} has no region (every voxel is 0).")
        self.labels_ = _read_labels(self.labels, region_ids, name)
        if len(atlas.shape) == 4:
            atlas = nib.Nifti1Image(data, atlas.affine, atlas.header)
        self.atlas_img_ = atlas
        self.region_ids_ = region_ids
        self.n_rois_ = int(region_ids.size)
        return self

    def _check_grid(self, img, name: str) -> None:
        if self.resampling_target is not None:
            return
        same_shape = tuple(img.shape[:3]) == tuple(self.atlas_img_.shape[:3])
        if not same_shape or not np.allclose(img.affine, self.atlas_img_.affine):
            raise ValueError(
                f"image {name} (shape {tuple(img.shape[:3])}) is not on the atlas's "
                f"voxel grid (shape {tuple(self.atlas_img_.shape[:3])}, or the "
                "affines differ); give an atlas in the images' space or set "
                "resampling_target='data' to resample the atlas to each image."
            )

    def _confounds(self, img, name: str):
        if not self.confounds_strategy:
            return None, None
        path = _image_path(img)
        if path is None:
            raise ValueError(
                f"confounds_strategy needs image paths in an fMRIPrep folder; "
                f"{name} has no file."
            )
        from nilearn.interfaces.fmriprep import load_confounds

        try:
            confounds, sample_mask = load_confounds(
                str(path),
                strategy=tuple(self.confounds_strategy),
                **(self.confounds_params or {}),
            )
        except ValueError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ValueError(
                f"cannot load the fMRIPrep confounds of {name} "
                f"(strategy={tuple(self.confounds_strategy)}): {first} "
                "Set confounds_strategy=None to extract without denoising."
            ) from exc
        return confounds, sample_mask

    def _masker(self, t_r: float):
        from nilearn import __version__ as nilearn_version
        from nilearn.maskers import NiftiLabelsMasker

        standardize = self.standardize
        if standardize in (False, None):
            major, minor = (int(v) for v in nilearn_version.split(".")[:2])
            standardize = None if (major, minor) >= (0, 13) else False
        return NiftiLabelsMasker(
            labels_img=self.atlas_img_,
            standardize=standardize,
            detrend=self.detrend,
            low_pass=self.low_pass,
            high_pass=self.high_pass,
            t_r=t_r,
            resampling_target=self.resampling_target,
        )

    def transform(self, imgs):
        """Extract each region's time series from one image or a list.

        Parameters
        ----------
        imgs : str, path-like, nibabel image, or list of them
            4-D BOLD images.

        Returns
        -------
        X : list of ndarray of shape (n_rois, n_timepoints_i)
            One float32 array per image (in ``layout``), rows in the order of
            ``labels_``; a list even for a single image.
        """
        check_is_fitted(self, "atlas_img_")
        _, nib = _nilearn()
        if isinstance(imgs, (str, os.PathLike)) or hasattr(imgs, "affine"):
            imgs = [imgs]
        imgs = list(imgs)
        if not imgs:
            raise ValueError("transform needs at least one image; got an empty list.")
        out, t_rs = [], []
        for item in imgs:
            name = _describe(item)
            img = _load(item, nib, "image")
            if len(img.shape) != 4:
                raise ValueError(
                    f"image {name} is {len(img.shape)}-D (shape {img.shape}); "
                    "expected a 4-D BOLD series (x, y, z, time)."
                )
            self._check_grid(img, name)
            t_r = float(self.t_r) if self.t_r is not None else None
            if t_r is None:
                t_r = read_repetition_time(item)
            confounds, sample_mask = self._confounds(item, name)
            masker = self._masker(t_r).fit(img)
            series = masker.transform(img, confounds=confounds, sample_mask=sample_mask)
            series = np.asarray(series, dtype=np.float32)
            if series.shape[1] != self.n_rois_:
                raise ValueError(
                    f"image {name} covers {series.shape[1]} of the atlas's "
                    f"{self.n_rois_} regions; check that it is in the atlas's space."
                )
            out.append(series.T.copy() if self.layout == "rois_x_time" else series)
            t_rs.append(t_r)
        self.t_rs_ = t_rs
        return out

    def fit_transform(self, imgs, y=None):
        """Fit on the atlas, then extract ``imgs``; see :meth:`transform`."""
        return self.fit(imgs).transform(imgs)
