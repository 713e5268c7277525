"""What ``BrainJEPAEmbedder`` does with the input of a pretrained folder.

A folder records the scaling its model was trained with, its TR and its
atlas. Here: open a ``checkpoint`` argument (a folder, a Hub repo id or a
file), refuse data whose TR is far from the model's, name the model and its
atlas when the ROI count differs, and apply the recorded scaling to a source,
in memory or as windows are read.
"""

from __future__ import annotations

import logging

import numpy as np

from sk_brainjepa.estimators._hub import locate_pretrained
from sk_brainjepa.estimators._preprocessing_record import (
    TemporalResampler,
    changes_length,
    steps_of,
)
from sk_brainjepa.estimators._pretrained_folder import (
    TR_TOLERANCE,
    model_tr,
    read_pretrained,
)
from sk_brainjepa.sources import ArraySource, ScaledSource, as_source

__all__ = [
    "PREPROCESSING_OPTIONS",
    "RunPreprocessing",
    "check_input_tr",
    "model_owner",
    "open_checkpoint",
    "preprocessed_source",
]

logger = logging.getLogger(__name__)

PREPROCESSING_OPTIONS = ("auto", "none")


def open_checkpoint(checkpoint, pretrainer):
    """The local path of ``checkpoint`` and, for a pretrained folder, its contents.

    Parameters
    ----------
    checkpoint : str, os.PathLike or None
    pretrainer : estimator or None
        When given (or ``checkpoint`` is None), nothing is opened here: the
        loader reports the conflict or reads the pretrainer.

    Returns
    -------
    checkpoint : path, str or None
        A local path for a file or folder (a Hub repo id is fetched).
    read : ReadFolder or None
        The folder's config, weights and gradients.
    preprocessing : Pipeline, transformer or None
        The folder's recorded scaling, fitted.
    """
    if checkpoint is None or pretrainer is not None:
        return checkpoint, None, None
    location = locate_pretrained(checkpoint)
    if not location.is_dir():
        return location, None, None
    read, preprocessing = read_pretrained(location)
    return location, read, preprocessing


def model_owner(checkpoint, config: dict) -> str:
    """How a ROI-count error names a pretrained folder's model and its atlas."""
    atlas = config.get("atlas")
    return (
        f"the pretrained model {str(checkpoint)!r} (atlas: "
        f"{atlas if atlas else 'not recorded'})"
    )


def _resampler(preprocessing):
    steps = [s for _, s in steps_of(preprocessing) if isinstance(s, TemporalResampler)]
    return steps[-1] if steps else None


def check_input_tr(tr, config: dict, preprocessing, *, n_timepoints: int) -> None:
    """Refuse data at a TR more than 5 % from the one the model expects.

    Parameters
    ----------
    tr : float
        The user's TR in seconds.
    config : dict
        The folder's config (its ``tr`` is that of the frames the encoder saw).
    preprocessing : Pipeline, transformer or None
        What is applied before the encoder: a ``TemporalResampler`` in it
        with a ``tr`` expects raw data at that TR.
    n_timepoints : int
        The model window, for the suggested fix.

    Raises
    ------
    ValueError
        Naming both TRs and the one-line fix.
    """
    model = model_tr(config)
    if model is None:
        logger.info("the model records no TR: tr=%s s is not checked", tr)
        return
    resampler = _resampler(preprocessing)
    expected = model
    if resampler is not None and resampler.tr is not None:
        expected = float(resampler.tr)
    if abs(tr - expected) <= TR_TOLERANCE * expected:
        return
    if resampler is not None:
        raise ValueError(
            f"tr={tr:g} s, but the model's recorded preprocessing expects data at TR "
            f"{expected:g} s (its TemporalResampler makes {model:g} s frames). Pass "
            "preprocessing=None and resample after your scaling: "
            f"TemporalResampler(tr={tr:g}, target_tr={model:g}, n_timepoints=None)."
        )
    raise ValueError(
        f"tr={tr:g} s is more than {TR_TOLERANCE:.0%} from the TR of the frames the "
        f"model was trained on, {model:g} s. Resample first: X = "
        f"TemporalResampler(tr={tr:g}, target_tr={model:g}, n_timepoints=None)"
        f".fit_transform(X) (the model reads windows of {n_timepoints} frames)."
    )


class RunPreprocessing:
    """A ``ScaledSource`` transform that applies fitted preprocessing to one run.

    ``needs_full_run`` is True: the statistics are those of the whole run,
    as when the same steps scale an in-memory array.
    """

    needs_full_run = True

    def __init__(self, preprocessing):
        self.preprocessing = preprocessing

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Scale ``x`` of shape (n_rois, n_timepoints) (float32 out)."""
        return self.preprocessing.transform(x[np.newaxis])[0].astype(
            np.float32, copy=False
        )

    def __repr__(self) -> str:
        return f"RunPreprocessing({self.preprocessing!r})"


def preprocessed_source(preprocessing, source):
    """``source`` with the recorded preprocessing applied.

    Parameters
    ----------
    preprocessing : Pipeline or transformer
        Fitted, in the ``rois_x_time`` layout.
    source : TimeSeriesSource

    Returns
    -------
    source : TimeSeriesSource
        In memory: the steps' output on the whole array (what a ``Pipeline``
        of them computes). Read lazily: scaled as each run is read, or, when
        a step changes the run's length, every run read, transformed and
        kept in memory.
    """
    if source.in_memory and isinstance(source, ArraySource):
        return as_source(preprocessing.transform(source.data))
    if not changes_length(preprocessing):
        return ScaledSource(source, RunPreprocessing(preprocessing))
    logger.info(
        "reading %d subjects into memory: the recorded preprocessing changes the "
        "length of their runs",
        len(source),
    )
    return as_source(preprocessing.transform([source[i] for i in range(len(source))]))
