"""Load a cohort of ROI time series from an fMRIPrep derivatives folder."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from sk_brainjepa._utils._validation import check_timeseries
from sk_brainjepa.datasets import Cohort
from sk_brainjepa.imaging._extractor import ROITimeSeriesExtractor
from sk_brainjepa.preprocessing import TemporalResampler
from sk_brainjepa.sources import (
    align_phenotypes,
    bids_entities,
    file_subject_ids,
    participant_ids,
    read_phenotype_table,
)

logger = logging.getLogger(__name__)

_PATTERNS = (
    "sub-*/func/*_desc-preproc_bold.nii.gz",
    "sub-*/ses-*/func/*_desc-preproc_bold.nii.gz",
)
# Extractor parameters load_fmriprep sets itself.
_OWN = ("atlas", "labels", "confounds_strategy", "layout")


def _as_values(value) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, (str, int)):
        value = [value]
    return [str(v) for v in value]


def _same(entity: str, found: str | None, wanted: list[str]) -> bool:
    if found is None:
        return False
    for value in wanted:
        bare = value.split("-", 1)[1] if value.startswith(f"{entity}-") else value
        if found == bare or (
            entity == "run"
            and bare.isdigit()
            and found.isdigit()
            and int(found) == int(bare)
        ):
            return True
    return False


def find_fmriprep_runs(
    derivatives_dir, *, task=None, space=None, run=None, session=None
) -> list[Path]:
    """The preprocessed BOLD runs of an fMRIPrep folder, filtered by entity.

    Parameters
    ----------
    derivatives_dir : str or path-like
        The fMRIPrep output folder, holding ``sub-*/[ses-*/]func/``.
    task, space, run, session : str, int, list of them, or None
        Keep runs whose ``task-``, ``space-``, ``run-`` and ``ses-`` entities
        are one of these (with or without the ``key-`` prefix; runs compare
        as numbers, ``1`` matches ``run-01``); None keeps any.

    Returns
    -------
    runs : list of Path
        Sorted ``*_desc-preproc_bold.nii.gz`` paths.

    Raises
    ------
    FileNotFoundError
        If the folder does not exist or no run matches, naming the folder
        and the filters.
    """
    root = Path(derivatives_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"fMRIPrep folder {root} does not exist.")
    filters = {"task": task, "space": space, "run": run, "ses": session}
    wanted = {k: _as_values(v) for k, v in filters.items() if v is not None}
    runs = []
    for path in sorted({p for pattern in _PATTERNS for p in root.glob(pattern)}):
        entities = bids_entities(path)
        if all(_same(k, entities.get(k), v) for k, v in wanted.items()):
            runs.append(path)
    if not runs:
        shown = ", ".join(f"{k}={v!r}" for k, v in filters.items() if v is not None)
        raise FileNotFoundError(
            f"No fMRIPrep run sub-*/[ses-*/]func/*_desc-preproc_bold.nii.gz in "
            f"{root}{' with ' + shown if shown else ''}."
        )
    spaces = sorted({bids_entities(p).get("space", "") for p in runs})
    if len(spaces) > 1:
        raise ValueError(
            f"{root} holds runs in several spaces {spaces}; choose the atlas's "
            "with space=."
        )
    return runs


def _phenotype_table(phenotypes, root: Path):
    if isinstance(phenotypes, str) and phenotypes == "auto":
        candidates = [root / "participants.tsv", root.parent / "participants.tsv"]
        if root.parent.name == "derivatives":  # <bids>/derivatives/fmriprep
            candidates.append(root.parent.parent / "participants.tsv")
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            logger.info("No participants.tsv found near %s; no phenotypes.", root)
            return None
        return read_phenotype_table(found, None)
    if phenotypes is None:
        return None
    if isinstance(phenotypes, (str, os.PathLike, pd.DataFrame)):
        return read_phenotype_table(phenotypes, None)
    raise ValueError(
        "phenotypes must be 'auto', None, a path to a .csv/.tsv table or a "
        f"DataFrame; got {type(phenotypes).__name__}."
    )


def load_fmriprep(
    derivatives_dir,
    atlas,
    *,
    labels=None,
    task=None,
    space=None,
    run=None,
    session=None,
    target_tr: float | None = None,
    n_timepoints: int | None = None,
    confounds_strategy: Sequence[str] | None = ("motion", "wm_csf"),
    phenotypes="auto",
    extractor_params: dict | None = None,
    verbose: int = 0,
) -> Cohort:
    """Brain-JEPA input from fMRIPrep outputs: ROI time series of every run.

    Finds the preprocessed runs ``sub-*/[ses-*/]func/*_desc-preproc_bold.nii.gz``,
    extracts each atlas region's mean signal with
    :class:`ROITimeSeriesExtractor` (denoised with fMRIPrep's confounds), and
    brings the runs to one repetition time with
    :class:`~sk_brainjepa.preprocessing.TemporalResampler`.

    Parameters
    ----------
    derivatives_dir : str or path-like
        The fMRIPrep output folder.
    atlas : str, path-like or nibabel image
        3-D label image in the runs' space.
    labels : None, list of str, str or path-like, default=None
        Region names; see :class:`ROITimeSeriesExtractor`.
    task, space, run, session : str, int, list or None, default=None
        Keep only runs with these BIDS entities; see
        :func:`find_fmriprep_runs`. Runs found in several spaces need
        ``space``.
    target_tr : float or None, default=None
        Repetition time (s) of the output. None keeps the runs' TR when they
        all share it, else uses the largest one (the other runs are
        down-sampled).
    n_timepoints : int or None, default=None
        Crop (centred) or zero-pad every run to this many frames after
        resampling. None keeps every frame.
    confounds_strategy : tuple of str or None, default=("motion", "wm_csf")
        fMRIPrep denoising strategies (nilearn ``load_confounds``).
    phenotypes : "auto", None, path or DataFrame, default="auto"
        Table joined on ``participant_id``. ``"auto"`` reads
        ``participants.tsv`` from ``derivatives_dir``, else its parent (or
        the BIDS root above a ``derivatives`` folder), and gives None when
        there is none.
    extractor_params : dict or None, default=None
        Further :class:`ROITimeSeriesExtractor` parameters (``standardize``,
        ``confounds_params``, ``t_r``, ``resampling_target``, ...).
    verbose : int, default=0
        Show a progress bar over runs when positive.

    Returns
    -------
    cohort : Cohort
        ``(X, subject_ids, phenotypes)``: ``X`` a float32 array of shape
        (n_runs, n_rois, n_timepoints) when all runs end with the same length,
        else a list of (n_rois, n_timepoints_i) arrays; ``subject_ids``
        ``sub-<label>``, plus ``ses-``/``run-`` (etc.) when a subject has
        several runs; ``phenotypes`` aligned to them (index ``subject_id``,
        one row per run, the participant's row repeated) with a last column
        ``participant_id``, or None. ``cohort.participant_ids`` gives the
        participant of every run even without a table: pass it as
        ``groups=`` so that a participant's runs never straddle a split.

    Raises
    ------
    FileNotFoundError
        If no run matches (the folder and filters are named).
    ValueError
        On a missing ``RepetitionTime`` sidecar, an atlas off the runs' grid,
        labels that do not match the atlas, or subjects without a phenotype
        row.
    """
    root = Path(derivatives_dir)
    params = dict(extractor_params or {})
    clash = sorted(set(params) & set(_OWN))
    if clash:
        raise ValueError(
            f"extractor_params cannot set {clash}; they are load_fmriprep "
            "arguments (layout is always 'rois_x_time')."
        )
    runs = find_fmriprep_runs(root, task=task, space=space, run=run, session=session)
    subject_ids = file_subject_ids(runs)
    table = _phenotype_table(phenotypes, root)

    extractor = ROITimeSeriesExtractor(
        atlas,
        labels,
        confounds_strategy=None
        if not confounds_strategy
        else tuple(confounds_strategy),
        layout="rois_x_time",
        **params,
    ).fit()

    from tqdm.auto import tqdm

    series, t_rs = [], []
    for path in tqdm(runs, desc="Extracting runs", disable=not verbose):
        series.extend(extractor.transform(path))
        t_rs.extend(extractor.t_rs_)

    distinct = sorted(set(t_rs))
    target = float(target_tr) if target_tr is not None else distinct[-1]
    if len(distinct) > 1 or target_tr is not None or n_timepoints is not None:
        if len(distinct) > 1 or any(not np.isclose(t, target) for t in t_rs):
            logger.info("Resampling runs at TR %s s to TR %s s.", distinct, target)
        resampled = []
        for x, t_r in zip(series, t_rs, strict=True):
            resampler = TemporalResampler(
                tr=None if np.isclose(t_r, target) else t_r,
                target_tr=target,
                n_timepoints=n_timepoints,
            )
            resampled.append(resampler.fit_transform(x[None])[0])
        series = resampled

    if len({x.shape for x in series}) == 1:
        X = check_timeseries(np.stack(series))
    else:
        X = check_timeseries(series)
    if table is not None:
        table = align_phenotypes(table, subject_ids)
        # Rows are runs: the index names the run, a column its participant
        # (a column named like the index would make groupby ambiguous).
        table.index.name = "subject_id"
        table["participant_id"] = participant_ids(subject_ids)
    logger.debug("Loaded %d run(s) from %s.", len(runs), root)
    return Cohort(X, subject_ids, table)
