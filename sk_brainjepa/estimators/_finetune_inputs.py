"""What the fine-tuners accept as time series, checked before anything reads them."""

from __future__ import annotations

import numpy as np
import torch

from sk_brainjepa._utils._validation import (
    apply_layout,
    check_layout,
    check_n_rois,
    check_timeseries,
    n_rois_of,
)
from sk_brainjepa.sources import crop

__all__ = ["FineTuneInputsMixin"]


class FineTuneInputsMixin:
    """``check_input`` and ``get_dataset`` of the fine-tuners (skorch hooks).

    Time series in ``layout`` (3-D arrays, lists of 2-D arrays, nested lists)
    are validated, their ROI count checked against the pretrained encoder and
    their length against the model window, before skorch makes a dataset.
    """

    def check_input(self, X):
        """Time series checked (3-D or a list of 2-D, finite) and their ROI count.

        Parameters
        ----------
        X : array-like of shape (n_subjects, n_rois, n_timepoints) or list
            In ``layout``; lists of lists are converted.

        Returns
        -------
        X_checked : ndarray or list of ndarray
            Still in ``layout`` (``get_dataset`` reads it in that layout).
        n_rois : int
        """
        layout = check_layout(self.layout)
        X = check_timeseries(apply_layout(X, layout))
        # Transposing back is a view: the data is not copied.
        return apply_layout(X, layout), n_rois_of(X)

    def _check_window(self, lengths) -> None:
        """Refuse subjects shorter than the model window, saying how to pad."""
        window = self.window_length_
        short = [i for i, n in enumerate(lengths) if n < window]
        if not short:
            return
        i = short[0]
        which = (
            f"X has {lengths[i]} frames per subject"
            if len(set(lengths)) == 1
            else f"X[{i}] has {lengths[i]} frames"
        )
        patch = self.module_.encoder.config.patch_size
        raise ValueError(
            f"{type(self).__name__} needs at least window_length={window} frames "
            f"per subject (the model window); {which}. Pad or resample first, "
            f"e.g. TemporalResampler(n_timepoints={window}, pad='edge'), or set a "
            f"smaller window_length (a multiple of patch_size={patch})."
        )

    def get_dataset(self, X, y=None):
        """Validated time series as one float32 array (centre windows if ragged)."""
        if not isinstance(X, torch.utils.data.Dataset):
            X = check_timeseries(apply_layout(X, check_layout(self.layout)))
            module = getattr(self, "module_", None)
            if module is not None:
                lengths = [x.shape[-1] for x in X]
                check_n_rois(
                    n_rois_of(X),
                    module.encoder.config.n_rois,
                    "the pretrained encoder",
                    n_timepoints=lengths,
                )
                self._check_window(lengths)
            if isinstance(X, list):
                window = min(x.shape[1] for x in X)
                X = np.stack([crop(x, window, "center") for x in X])
            X = np.asarray(X, dtype=np.float32)
        return super().get_dataset(X, y)
