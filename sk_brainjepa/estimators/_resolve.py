"""Resolve any accepted ``model`` argument to a fitted :class:`BrainJEPAEmbedder`.

Above both :mod:`~sk_brainjepa.estimators._embedder` and
:mod:`~sk_brainjepa.estimators._loading`, which it uses: the embedder loads its
encoder through ``_loading``, and this module builds embedders.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from sk_brainjepa._utils._deprecation import REMOVED_IN
from sk_brainjepa.estimators._embedder import EMBEDDER_RENAMES, BrainJEPAEmbedder
from sk_brainjepa.estimators._loading import unfreeze
from sk_brainjepa.estimators._pretrainer import BrainJEPAPretrainer

# Embedder parameters read when the encoder is loaded (fit); the others only
# shape what transform computes from it.
_LOAD_PARAMS = frozenset(
    (
        "checkpoint",
        "pretrainer",
        "gradients",
        "source_encoder",
        "window_length",
        "n_heads",
        "preprocessing",
        "tr",
    )
)


def _same_value(a, b) -> bool:
    """Whether two parameter values are the same (arrays only by identity)."""
    if a is b:
        return True
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # arrays: an element-wise comparison
        return False


def resolve_model(
    model,
    *,
    readout=None,
    source_encoder=None,
    window_position=None,
    window_length=None,
    gradients=None,
    layout=None,
    encoder=None,
    window=None,
    n_timepoints=None,
):
    """The fitted :class:`BrainJEPAEmbedder` behind any accepted ``model`` argument.

    The one place that decides what functions taking a ``model``
    (``linear_probe``, ``roi_attention``, ``network_attention``) accept. The
    user's object is never modified or refitted: a setting that differs from
    a given embedder's is applied to a new embedder with the same parameters
    (``set_params``), which shares the fitted encoder when only
    transform-time settings (``readout``, ``window_position``, ``layout``)
    change and
    loads it again from the embedder's pretrainer or checkpoint otherwise.

    Parameters
    ----------
    model : BrainJEPAPretrainer, BrainJEPAEmbedder, FrozenEstimator, str or os.PathLike
        A fitted pretrainer; an embedder, fitted or holding a fitted
        pretrainer or a checkpoint path; either wrapped in
        ``sklearn.frozen.FrozenEstimator``; or a checkpoint path (ours, or the
        official one, which also needs ``gradients``).
    readout, source_encoder, window_position, window_length : optional
        :class:`BrainJEPAEmbedder` parameters to apply (as ``gradients`` and
        ``layout``); None keeps the embedder's own, or for a pretrainer or a
        path the embedder defaults, except ``window_position`` and
        ``layout``, which follow the pretrainer's.
    gradients, layout : optional
        :class:`BrainJEPAEmbedder` parameters to apply, as ``readout``.
    encoder, window, n_timepoints : optional
        .. deprecated:: 0.2
           Use ``source_encoder``, ``window_position`` and ``window_length``;
           removed in 0.3.

    Returns
    -------
    embedder : BrainJEPAEmbedder
        Fitted. ``model`` itself when it is a fitted embedder whose parameters
        already equal every given setting.

    Raises
    ------
    TypeError
        When ``model`` is none of the accepted types.
    ValueError
        When the encoder cannot be loaded (an unfitted pretrainer, an embedder
        with neither pretrainer nor checkpoint, a missing file) or a setting
        is invalid; for a fitted embedder the message says which setting
        needed the encoder to be loaded again.

    Examples
    --------
    >>> from sk_brainjepa import BrainJEPAPretrainer, make_brain_dynamics
    >>> X, _ = make_brain_dynamics(n_subjects=4, n_rois=6, n_timepoints=32,
    ...                            random_state=0)
    >>> pre = BrainJEPAPretrainer(window_length=32, max_epochs=1, batch_size=4,
    ...                           random_state=0).fit(X)
    >>> resolve_model(pre, readout="roi").readout
    'roi'
    """
    settings = {
        "readout": readout,
        "source_encoder": source_encoder,
        "window_position": window_position,
        "window_length": window_length,
        "gradients": gradients,
        "layout": layout,
    }
    old_names = {"encoder": encoder, "window": window, "n_timepoints": n_timepoints}
    for old, value in old_names.items():
        if value is None:
            continue
        new = EMBEDDER_RENAMES[old]
        if settings[new] is not None and not _same_value(settings[new], value):
            raise ValueError(
                f"resolve_model: {old}={value!r} and {new}={settings[new]!r} were "
                f"both given; {old!r} is the old name of {new!r}. Pass only {new}."
            )
        warnings.warn(
            f"resolve_model: the argument {old!r} was renamed {new!r} and will be "
            f"removed in {REMOVED_IN}; pass {new}={value!r} instead.",
            FutureWarning,
            stacklevel=2,
        )
        settings[new] = value
    settings = {name: value for name, value in settings.items() if value is not None}
    model = unfreeze(model)
    if isinstance(model, BrainJEPAEmbedder):
        return _from_embedder(model, settings)
    if isinstance(model, BrainJEPAPretrainer):
        # The windows and layout the pretrainer's own transform uses.
        params = {
            "pretrainer": model,
            "window_position": model._window_position(),
            "layout": getattr(model, "layout", "rois_x_time"),
        }
    elif isinstance(model, (str, os.PathLike)):
        params = {"checkpoint": model}
    else:
        raise TypeError(
            "model must be a fitted BrainJEPAPretrainer, a BrainJEPAEmbedder "
            "(fitted, or holding a fitted pretrainer or a checkpoint) or a "
            f"checkpoint path (str or os.PathLike); got {type(model).__name__}."
        )
    return BrainJEPAEmbedder(**params).set_params(**settings).fit()


def _from_embedder(model, settings: dict):
    """A fitted embedder like ``model`` with ``settings`` applied (``model`` kept)."""
    # The renamed parameters under their new names only (an old name, if the
    # user still sets it, is read here once): settings compare with the
    # values the embedder uses, and the new embedder is built without the old
    # names.
    param_names = set(model.get_params(deep=False))
    params = {
        name: value
        for name, value in model.get_params(deep=False).items()
        if name not in EMBEDDER_RENAMES
    }
    params.update(model._renamed_params())
    changed = {
        name: value
        for name, value in settings.items()
        if not _same_value(params[name], value)
    }
    try:
        check_is_fitted(model)
        fitted = True
    except NotFittedError:
        fitted = False
    if fitted and not changed:
        return model
    new = type(model)(**params).set_params(**changed)
    if fitted and not _LOAD_PARAMS.intersection(changed):
        # Only what transform computes changes: share the loaded encoder (and
        # any set_output configuration) instead of loading it again.
        new._check_params()
        for name, value in vars(model).items():
            if name not in param_names:
                setattr(new, name, value)
        return new
    if not fitted:
        return new.fit()
    source = "checkpoint" if params["checkpoint"] is not None else "pretrainer"
    try:
        return new.fit()
    except ValueError as exc:
        shown = ", ".join(
            f"{name}=<array of shape {np.shape(value)}>"
            if isinstance(value, np.ndarray)
            else f"{name}={value!r}"
            for name, value in changed.items()
        )
        raise ValueError(
            f"Cannot apply {shown} to the given fitted BrainJEPAEmbedder: its "
            f"encoder must be loaded again from its {source}, which failed: {exc}"
        ) from exc
