"""A tiny synthetic fMRIPrep derivatives tree with known ROI signals (for tests)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from sk_brainjepa._utils._random import numpy_generator

_MOTION = ("trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z")
_TISSUES = ("white_matter", "csf", "global_signal")
_BASELINE = 100.0


def _require_nibabel():
    try:
        import nibabel
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            'Writing NIfTI files needs nibabel: pip install "sk_brainjepa[nifti]"'
        ) from exc
    return nibabel


def _with_expansions(table: dict, name: str, values: np.ndarray) -> None:
    """Add a column with the derivative and power2 forms fMRIPrep writes."""
    derivative = np.concatenate([[0.0], np.diff(values)])
    table[name] = values
    table[f"{name}_derivative1"] = derivative
    table[f"{name}_power2"] = values**2
    table[f"{name}_derivative1_power2"] = derivative**2


def make_fmriprep_derivatives(
    path,
    *,
    n_subjects: int = 4,
    n_labels: int = 5,
    shape: tuple = (6, 6, 6),
    n_timepoints: int = 40,
    t_rs: tuple = (2.0,),
    confound_strength: float = 0.0,
    random_state=None,
) -> dict:
    """Write a tiny BIDS derivatives folder as fMRIPrep lays it out.

    Every voxel of label ``k`` holds exactly ``100 + signals[s, k - 1]``
    (plus ``confound_strength * confound[s]`` when that is positive), so the
    mean over a label is known in closed form.

    Parameters
    ----------
    path : str or path-like
        Folder to write into (created if needed).
    n_subjects : int, default=4
        Subjects ``sub-01``, ``sub-02``, ... one resting-state run each.
    n_labels : int, default=5
        Regions of the atlas, numbered 1 to ``n_labels``; voxels cycle through
        0 (background), 1, ..., ``n_labels``.
    shape : tuple of 3 int, default=(6, 6, 6)
        Voxel grid of the atlas and of every run (3 mm voxels).
    n_timepoints : int, default=40
        Frames per run.
    t_rs : tuple of float, default=(2.0,)
        Repetition times, given to the subjects in turn (subject ``i`` gets
        ``t_rs[i % len(t_rs)]``), in the images' headers and JSON sidecars.
    confound_strength : float, default=0.0
        Amplitude of a nuisance time course added to every labelled voxel and
        written as the ``white_matter`` column of the confounds table.
    random_state : int, RandomState instance or None, default=None
        Seeds the signals, confounds and motion parameters.

    Returns
    -------
    paths : dict
        ``root``, ``atlas``, ``labels`` (``atlas_labels.tsv``, columns
        ``index`` and ``name``), ``participants``, and per subject (in order)
        ``subject_ids``, ``bold``, ``sidecars``, ``confounds`` (file paths),
        ``t_rs`` (float), ``signals`` (ndarray of shape (n_subjects, n_labels,
        n_timepoints), the signal of each label without baseline or
        confound) and ``confound_signals`` (ndarray of shape (n_subjects,
        n_timepoints)).
    """
    nib = _require_nibabel()
    if n_subjects < 1 or n_labels < 1 or n_timepoints < 2 or len(t_rs) < 1:
        raise ValueError(
            "n_subjects and n_labels must be >= 1, n_timepoints >= 2, and t_rs "
            "must hold at least one TR."
        )
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or int(np.prod(shape)) < n_labels + 1:
        raise ValueError(
            f"shape must be 3 sizes with at least n_labels + 1 = {n_labels + 1} "
            f"voxels; got {shape}."
        )
    rng = numpy_generator(random_state)
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    affine[:3, 3] = -3.0 * np.asarray(shape) / 2

    atlas = (np.arange(int(np.prod(shape))) % (n_labels + 1)).reshape(shape)
    atlas_path = root / "atlas.nii.gz"
    nib.save(nib.Nifti1Image(atlas.astype(np.int16), affine), atlas_path)
    labels_path = root / "atlas_labels.tsv"
    pd.DataFrame(
        {
            "index": np.arange(1, n_labels + 1),
            "name": [f"region_{k}" for k in range(1, n_labels + 1)],
        }
    ).to_csv(labels_path, sep="\t", index=False)

    subject_ids = [f"sub-{i + 1:02d}" for i in range(n_subjects)]
    pd.DataFrame(
        {
            "participant_id": subject_ids,
            "age": rng.integers(20, 80, size=n_subjects),
            "sex": rng.choice(["F", "M"], size=n_subjects),
        }
    ).to_csv(root / "participants.tsv", sep="\t", index=False)

    signals = rng.standard_normal((n_subjects, n_labels, n_timepoints))
    confound_signals = rng.standard_normal((n_subjects, n_timepoints))
    out = {
        "root": root,
        "atlas": atlas_path,
        "labels": labels_path,
        "participants": root / "participants.tsv",
        "subject_ids": subject_ids,
        "bold": [],
        "sidecars": [],
        "confounds": [],
        "t_rs": [],
        "signals": signals,
        "confound_signals": confound_signals,
    }
    for i, subject in enumerate(subject_ids):
        t_r = float(t_rs[i % len(t_rs)])
        func = root / subject / "func"
        func.mkdir(parents=True, exist_ok=True)
        stem = f"{subject}_task-rest_space-MNI"
        data = np.zeros(shape + (n_timepoints,))
        for k in range(1, n_labels + 1):
            course = _BASELINE + signals[i, k - 1]
            if confound_strength > 0:
                course = course + confound_strength * confound_signals[i]
            data[atlas == k] = course
        img = nib.Nifti1Image(data.astype(np.float32), affine)
        img.header.set_xyzt_units("mm", "sec")
        img.header["pixdim"][4] = t_r
        bold = func / f"{stem}_desc-preproc_bold.nii.gz"
        nib.save(img, bold)
        sidecar = func / f"{stem}_desc-preproc_bold.json"
        sidecar.write_text(json.dumps({"RepetitionTime": t_r, "SkullStripped": False}))

        table: dict = {}
        for name in _MOTION:
            _with_expansions(table, name, 0.01 * rng.standard_normal(n_timepoints))
        tissues = {
            "white_matter": confound_signals[i],
            "csf": rng.standard_normal(n_timepoints),
            "global_signal": rng.standard_normal(n_timepoints),
        }
        for name in _TISSUES:
            _with_expansions(table, name, tissues[name])
        table["framewise_displacement"] = np.concatenate(
            [[np.nan], np.abs(0.01 * rng.standard_normal(n_timepoints - 1))]
        )
        confounds = func / f"{subject}_task-rest_desc-confounds_timeseries.tsv"
        pd.DataFrame(table).to_csv(confounds, sep="\t", index=False, na_rep="n/a")
        confounds.with_suffix(".json").write_text("{}")
        out["bold"].append(bold)
        out["sidecars"].append(sidecar)
        out["confounds"].append(confounds)
        out["t_rs"].append(t_r)
    return out
