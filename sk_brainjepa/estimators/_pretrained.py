"""``save_pretrained`` and ``load_pretrained``: models that carry what they need.

:func:`save_pretrained` takes a fitted :class:`BrainJEPAPretrainer` or a
fitted ``Pipeline`` of scalers ending with one and writes it as a folder;
:func:`load_pretrained` rebuilds everything the folder holds. What the folder
contains and how it is read is in :mod:`._pretrained_folder`.
"""

from __future__ import annotations

from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline

from sk_brainjepa.estimators._pretrained_folder import (
    pretrained_from_folder,
    write_pretrained,
)
from sk_brainjepa.estimators._pretrainer import BrainJEPAPretrainer

__all__ = ["load_pretrained", "save_pretrained"]


def _split_pipeline(model, preprocessing):
    """The pretrainer and its preprocessing, from a pretrainer or a Pipeline."""
    if isinstance(model, FrozenEstimator):
        model = model.estimator
    if not isinstance(model, Pipeline):
        if not isinstance(model, BrainJEPAPretrainer):
            raise TypeError(
                "model must be a fitted BrainJEPAPretrainer or a fitted Pipeline of "
                f"scalers ending with one; got {type(model).__name__}."
            )
        return model, preprocessing
    steps = model.steps
    last = steps[-1][1]
    last = last.estimator if isinstance(last, FrozenEstimator) else last
    if not isinstance(last, BrainJEPAPretrainer):
        where = [
            i for i, (_, s) in enumerate(steps)
            if isinstance(s.estimator if isinstance(s, FrozenEstimator) else s,
                          BrainJEPAPretrainer)
        ]  # fmt: skip
        hint = (
            f"; save the part up to it: save_pretrained(pipeline[:{where[0] + 1}], ...)"
            if where
            else ""
        )
        raise ValueError(
            "A Pipeline given to save_pretrained must end with the "
            f"BrainJEPAPretrainer (its last step is {type(last).__name__}){hint}."
        )
    if preprocessing is not None:
        raise ValueError(
            "Give the preprocessing either as the pipeline's steps or as "
            "preprocessing=, not both."
        )
    return last, (Pipeline(steps[:-1]) if len(steps) > 1 else None)


def save_pretrained(
    model,
    folder,
    *,
    preprocessing=None,
    tr=None,
    atlas=None,
    roi_names=None,
    description=None,
    overwrite=False,
):
    """Write a fitted model as a folder that carries what it needs to be reused.

    The folder holds ``model.safetensors`` (encoder, target encoder,
    predictor and any reconstruction head, plus the gradient matrix),
    ``config.json`` (format tag and version, module configs, ROI count,
    window and patch size, the TR, the atlas and ROI names, the estimator's
    parameters and recipe, the software version, the history),
    ``gradients.csv`` (header-less, the official layout),
    ``preprocessing.safetensors`` (fitted scaling statistics, when there are
    some) and a ``README.md`` model card. Nothing in it is pickled. It is
    written to a temporary folder beside ``folder`` and renamed into place.

    Parameters
    ----------
    model : BrainJEPAPretrainer or Pipeline
        A fitted pretrainer, or a fitted ``Pipeline`` of scalers whose last
        step is the pretrainer (then the scalers are the preprocessing).
    folder : str or os.PathLike
        Destination; it must not exist, or be empty, unless ``overwrite``.
    preprocessing : transformer, Pipeline or None, default=None
        The scaling the model was trained with, applied by
        ``BrainJEPAEmbedder(checkpoint=folder)`` to raw input by default.
        Supported: ``ROIRobustScaler`` (fitted), ``SubjectRobustScaler``,
        ``SampleZScore``, ``TemporalResampler``, the ``to_window_transform()``
        of the first three (``over="run"``), or a ``Pipeline`` of them;
        anything else is refused with the list.
    tr : float or None, default=None
        Seconds between the frames the encoder saw (after the
        preprocessing's ``TemporalResampler``, whose ``target_tr`` is taken
        when ``tr`` is None). Loading checks a user's TR against it.
    atlas : str or None, default=None
        Name of the parcellation, named when data with another ROI count is
        refused (e.g. ``"Schaefer-2018 400, 17 networks"``).
    roi_names : sequence of str or None, default=None
        One name per ROI, in row order.
    description : str or None, default=None
        Free text for the model card.
    overwrite : bool, default=False
        Replace a non-empty existing folder (only once the new one is complete).

    Returns
    -------
    folder : pathlib.Path

    Raises
    ------
    ValueError
        For an unfitted model, an unsupported preprocessing step, ROI names or
        a fitted scaler with another ROI count, a ``tr`` that contradicts the
        resampler, or a non-empty ``folder`` without ``overwrite``.

    See Also
    --------
    load_pretrained, BrainJEPAPretrainer.from_pretrained, push_to_hub

    Examples
    --------
    >>> import tempfile
    >>> from sklearn.pipeline import Pipeline
    >>> from sk_brainjepa import (BrainJEPAEmbedder, BrainJEPAPretrainer,
    ...                           SubjectRobustScaler, make_brain_dynamics)
    >>> X, _ = make_brain_dynamics(n_subjects=6, n_rois=8, n_timepoints=64,
    ...                            random_state=0)
    >>> jepa = BrainJEPAPretrainer(window_length=32, max_epochs=1, batch_size=3,
    ...                            random_state=0)
    >>> pipe = Pipeline([("scale", SubjectRobustScaler()), ("jepa", jepa)]).fit(X)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     folder = save_pretrained(pipe, tmp + "/model", tr=2.0)
    ...     features = BrainJEPAEmbedder(checkpoint=folder).fit_transform(X)
    >>> bool((features == pipe.transform(X)).all())
    True
    """
    pre, preprocessing = _split_pipeline(model, preprocessing)
    return write_pretrained(
        pre,
        folder,
        preprocessing=preprocessing,
        tr=tr,
        atlas=atlas,
        roi_names=roi_names,
        description=description,
        overwrite=overwrite,
    )


def load_pretrained(folder, *, device="cpu", revision=None, cls=None):
    """Everything a pretrained folder holds, rebuilt.

    Parameters
    ----------
    folder : str or os.PathLike
        A folder written by :func:`save_pretrained` or
        :func:`convert_official_checkpoint`, or a Hugging Face Hub repo id
        (``"org/name"``; needs the ``hub`` extra).
    device : str, default="cpu"
        The ``device`` parameter of the returned pretrainer.
    revision : str or None, default=None
        Hub revision of a repo id.
    cls : type or None, default=None
        The pretrainer class (a subclass of ``BrainJEPAPretrainer``).

    Returns
    -------
    model : sklearn.utils.Bunch
        ``pretrainer`` (fitted, the saved weights bit for bit),
        ``preprocessing`` (fitted scaling or None), ``pipeline`` (the
        preprocessing steps then ``("pretrainer", pretrainer)``, as the
        model was trained), ``config`` (dict) and ``path``.
    """
    return pretrained_from_folder(
        folder, cls or BrainJEPAPretrainer, device=device, revision=revision
    )
