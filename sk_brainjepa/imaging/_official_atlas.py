"""The official Brain-JEPA ROI layout: Tian Scale-III subcortex, then Schaefer-400.

The official model, its checkpoint and ``gradient_mapping_450.csv`` use 450
ROIs: the 50 subcortical regions of the Tian et al. (2020) Scale-III atlas
first, then the 400 cortical parcels of Schaefer et al. (2018) in their
17-network order. :func:`official_brainjepa_atlas` builds one label image with
that order from the user's two atlas files, so that any masker that orders
regions by label value (``nilearn``'s ``NiftiLabelsMasker``, our extractor)
gives rows in the order of the official gradient file.

How the order was established, and what is uncertain, is in the user guide
("The official 450-ROI atlas").
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from sk_brainjepa._utils._validation import ROI_COUNT_OFFICIAL

__all__ = [
    "N_SCHAEFER_OFFICIAL",
    "N_TIAN_OFFICIAL",
    "ROI_COUNT_OFFICIAL",
    "official_brainjepa_atlas",
]

N_TIAN_OFFICIAL = 50
N_SCHAEFER_OFFICIAL = 400
# File names written with output_dir= (BIDS-like derivatives names).
_MAPS_NAME = "atlas-BrainJEPA450_dseg.nii.gz"
_LUT_NAME = "atlas-BrainJEPA450_dseg.tsv"
_SEVEN_NETWORKS = re.compile(r"^7Networks_")


def official_brainjepa_atlas(
    schaefer400,
    tian_s3,
    *,
    schaefer_labels=None,
    tian_labels=None,
    resample_to=None,
    output_dir=None,
):
    """One 450-region label image in the ROI order of the official Brain-JEPA.

    Label values 1-50 are the Tian Scale-III subcortical regions (in the order
    of their own label values), 51-450 the Schaefer-2018 400 parcels (17-network
    order, likewise): row ``k - 1`` of ``gradient_mapping_450.csv`` belongs to
    label ``k``. Maskers that sort regions by label value therefore give
    (450, n_timepoints) series the official checkpoint can read.

    Neither atlas is downloaded: pass your own files (e.g. nilearn's
    ``fetch_atlas_schaefer_2018(n_rois=400, yeo_networks=17)`` and the
    ``Tian_Subcortex_S3_3T`` NIfTI of the Melbourne Subcortex Atlas), in the
    same template space as your BOLD data.

    Parameters
    ----------
    schaefer400 : str, path-like, nibabel image or Bunch
        The Schaefer-2018 400-parcel atlas, **17-network order**, as a 3-D
        integer label image (400 distinct non-zero labels). A nilearn atlas
        Bunch (``maps`` and ``labels``/``lut``) gives its names too.
    tian_s3 : str, path-like, nibabel image or Bunch
        The Tian Scale-III subcortical atlas: a 3-D label image with 50
        distinct non-zero labels.
    schaefer_labels, tian_labels : sequence of str, DataFrame or path, optional
        Region names in the order of each atlas's label values (400 and 50; a
        leading "Background" is dropped). A path is a .tsv/.csv with a ``name``
        column, or a text file with one region a line (the first field that is
        not a number is the name, so Schaefer's ``*_order.txt`` files work).
        Names that start with ``7Networks_`` are refused: the official order is
        the 17-network one. Default: the Bunch's names, else
        ``Tian_S3_<k>`` and ``Schaefer400_<k>``.
    resample_to : str, path-like or nibabel image, optional
        Put the atlas on this image's grid (nearest-neighbour), e.g. a BOLD
        reference of your data. Default: the Schaefer image's grid (the Tian
        image is resampled onto it when the grids differ).
    output_dir : str or path-like, optional
        Also write ``atlas-BrainJEPA450_dseg.nii.gz`` and
        ``atlas-BrainJEPA450_dseg.tsv`` (columns ``index``, ``name``, ``atlas``,
        ``network``) there; their paths are in the result.

    Returns
    -------
    atlas : sklearn.utils.Bunch
        ``maps``: the label image (int16, labels 1..450); ``labels``: the 450
        names in ROI order; ``lut``: DataFrame with ``index`` (label value),
        ``name``, ``atlas`` (``"Tian_S3"`` or ``"Schaefer400_17"``) and
        ``network`` (the Schaefer network, ``"Subcortical"`` for Tian: the
        ``network_labels`` of :func:`sk_brainjepa.inspection.network_attention`);
        ``n_overlap_voxels``: voxels labelled by both atlases, given to the
        subcortical region; ``maps_path``, ``labels_path``: the written files
        (None without ``output_dir``).

    Raises
    ------
    ValueError
        An atlas without exactly 400 (50) regions, a 4-D or non-integer image,
        7-network Schaefer names, a wrong number of names, or a region that no
        voxel keeps after resampling and merging.
    """
    import nibabel as nib

    schaefer_img, schaefer_bunch_names = _label_image(schaefer400, "schaefer400")
    tian_img, tian_bunch_names = _label_image(tian_s3, "tian_s3")
    # Region counts and orders come from the atlases as given, before any
    # resampling can drop a small region.
    schaefer_values = _region_values(schaefer_img, N_SCHAEFER_OFFICIAL, "schaefer400")
    tian_values = _region_values(tian_img, N_TIAN_OFFICIAL, "tian_s3")
    if resample_to is not None:
        target = _load_img(resample_to, "resample_to")
        schaefer_img = _resample(schaefer_img, target)
        tian_img = _resample(tian_img, target)
    elif not _same_grid(schaefer_img, tian_img):
        tian_img = _resample(tian_img, schaefer_img)
    schaefer = np.asarray(schaefer_img.dataobj).astype(np.int64)
    tian = np.asarray(tian_img.dataobj).astype(np.int64)
    # Values the nearest-neighbour resampling did not keep are not in these.
    schaefer[~np.isin(schaefer, schaefer_values)] = 0
    tian[~np.isin(tian, tian_values)] = 0

    merged = np.zeros(schaefer.shape, dtype=np.int16)
    # Label k = rank of the region's value within its atlas, Tian first.
    in_schaefer = schaefer != 0
    merged[in_schaefer] = (
        np.searchsorted(schaefer_values, schaefer[in_schaefer]) + 1 + N_TIAN_OFFICIAL
    )
    in_tian = tian != 0
    n_overlap = int(np.count_nonzero(in_tian & in_schaefer))
    merged[in_tian] = np.searchsorted(tian_values, tian[in_tian]) + 1
    if n_overlap:
        warnings.warn(
            f"{n_overlap} voxels are labelled by both atlases; they were given to "
            "the Tian (subcortical) region.",
            UserWarning,
            stacklevel=2,
        )
    present = np.unique(merged[merged != 0])
    if present.size != ROI_COUNT_OFFICIAL:
        missing = sorted(set(range(1, ROI_COUNT_OFFICIAL + 1)) - set(present.tolist()))
        raise ValueError(
            f"The merged atlas has {present.size} regions, not the "
            f"{ROI_COUNT_OFFICIAL} of the official layout: labels {missing[:10]} "
            "lost every voxel to resampling or to the other atlas. Use atlases "
            "at the data's resolution, or a finer resample_to grid."
        )

    tian_names = _names(
        tian_labels if tian_labels is not None else tian_bunch_names,
        N_TIAN_OFFICIAL,
        "tian_labels",
        default="Tian_S3_{}",
    )
    schaefer_names = _names(
        schaefer_labels if schaefer_labels is not None else schaefer_bunch_names,
        N_SCHAEFER_OFFICIAL,
        "schaefer_labels",
        default="Schaefer400_{}",
    )
    seven = [name for name in schaefer_names if _SEVEN_NETWORKS.match(name)]
    if seven:
        raise ValueError(
            f"schaefer400 is the 7-network version ({seven[0]!r}, ...): the official "
            "Brain-JEPA layout uses the 400 parcels in their 17-network order. "
            "Use e.g. nilearn's fetch_atlas_schaefer_2018(n_rois=400, "
            "yeo_networks=17)."
        )
    lut = pd.DataFrame(
        {
            "index": np.arange(1, ROI_COUNT_OFFICIAL + 1),
            "name": tian_names + schaefer_names,
            "atlas": ["Tian_S3"] * N_TIAN_OFFICIAL
            + ["Schaefer400_17"] * N_SCHAEFER_OFFICIAL,
            "network": ["Subcortical"] * N_TIAN_OFFICIAL
            + [_network(name) for name in schaefer_names],
        }
    )
    header = schaefer_img.header.copy()
    header.set_data_dtype(np.int16)
    maps = nib.Nifti1Image(merged, schaefer_img.affine, header)

    maps_path = labels_path = None
    if output_dir is not None:
        output_dir = Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        maps_path = output_dir / _MAPS_NAME
        labels_path = output_dir / _LUT_NAME
        maps.to_filename(maps_path)
        lut.to_csv(labels_path, sep="\t", index=False)
    return Bunch(
        maps=maps,
        labels=list(lut["name"]),
        lut=lut,
        n_overlap_voxels=n_overlap,
        maps_path=maps_path,
        labels_path=labels_path,
        description=(
            "Brain-JEPA official ROI order: Tian Scale-III subcortex (labels "
            "1-50), then Schaefer-2018 400 parcels, 17-network order (51-450)."
        ),
    )


# ----------------------------------------------------------------- helpers
def _load_img(img, name):
    import nibabel as nib

    if isinstance(img, (str, os.PathLike)):
        if not Path(img).is_file():
            raise FileNotFoundError(f"{name}: no such file: {img}")
        return nib.load(img)
    if isinstance(img, nib.spatialimages.SpatialImage):
        return img
    raise TypeError(
        f"{name} must be a NIfTI path, a nibabel image or an atlas Bunch; got "
        f"{type(img).__name__}."
    )


def _label_image(atlas, name):
    """The 3-D label image of ``atlas`` and the names a Bunch carries (or None)."""
    names = None
    if isinstance(atlas, dict) and "maps" in atlas:
        lut = atlas.get("lut")
        if isinstance(lut, pd.DataFrame) and "name" in lut:
            names = lut.loc[lut.get("index", pd.Series(1, lut.index)) != 0, "name"]
            names = [str(n) for n in names]
        elif atlas.get("labels") is not None:
            names = [_text(n) for n in atlas["labels"]]
        atlas = atlas["maps"]
    img = _load_img(atlas, name)
    if img.ndim == 4 and img.shape[3] == 1:
        import nibabel as nib

        img = nib.Nifti1Image(np.asarray(img.dataobj)[..., 0], img.affine, img.header)
    if img.ndim != 3:
        raise ValueError(
            f"{name} must be a 3-D label image (one integer label per voxel); got "
            f"shape {img.shape} (a probabilistic atlas is not a label atlas)."
        )
    return img, names


def _text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def _same_grid(a, b):
    return a.shape[:3] == b.shape[:3] and np.allclose(a.affine, b.affine, atol=1e-4)


def _resample(img, target):
    from nilearn.image import resample_to_img

    if _same_grid(img, target):
        return img
    return resample_to_img(
        img, target, interpolation="nearest", force_resample=True, copy_header=True
    )


def _region_values(img, expected, name):
    """Sorted non-zero label values of ``img``: the order of its regions."""
    data = np.asarray(img.dataobj)
    if not np.all(np.isfinite(data)) or not np.array_equal(data, np.round(data)):
        raise ValueError(
            f"{name} must hold integer labels; it has non-integer values (a "
            "probabilistic or interpolated map?)."
        )
    values = np.unique(data[data != 0]).astype(np.int64)
    if values.size != expected:
        atlas = (
            "Schaefer-2018 400-parcel atlas (17 networks)"
            if expected == N_SCHAEFER_OFFICIAL
            else "Tian Scale-III subcortical atlas (50 regions)"
        )
        raise ValueError(
            f"{name} has {values.size} regions (distinct non-zero labels), not "
            f"{expected}: the official Brain-JEPA layout needs the {atlas}."
        )
    return values


def _names(source, expected, name, *, default):
    if source is None:
        return [default.format(k) for k in range(1, expected + 1)]
    if isinstance(source, (str, os.PathLike)):
        source = _read_names(Path(source), name)
    elif isinstance(source, pd.DataFrame):
        if "name" not in source:
            raise ValueError(f"{name}: a DataFrame needs a 'name' column.")
        source = source["name"]
    names = [_text(n) for n in source]
    if len(names) == expected + 1 and names[0].strip().lower() in (
        "background",
        "unknown",
        "0",
    ):
        names = names[1:]
    if len(names) != expected:
        raise ValueError(
            f"{name} has {len(names)} names, but the atlas has {expected} regions."
        )
    return names


def _read_names(path, name):
    if not path.is_file():
        raise FileNotFoundError(f"{name}: no such file: {path}")
    if path.suffix.lower() in (".tsv", ".csv"):
        table = pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",")
        if "name" in table:
            if "index" in table:
                table = table[table["index"] != 0].sort_values("index")
            return list(table["name"].astype(str))
    names = []
    for line in path.read_text().splitlines():
        fields = [f for f in re.split(r"[\t,]| {2,}", line.strip()) if f]
        words = [f for f in fields if not re.fullmatch(r"[-+]?\d+(\.\d*)?", f)]
        if words:
            names.append(words[0])
    return names


def _network(name):
    """The network of a Schaefer name (``17Networks_LH_VisCent_ExStr_1``)."""
    parts = name.split("_")
    if len(parts) >= 3 and parts[0].endswith("Networks"):
        return parts[2]
    return "Cortical"
