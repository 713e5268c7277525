"""What a fitted :class:`BrainJEPAPretrainer` gives: its features.

``transform`` embeds time series with the EMA target encoder (the mean token
features), ``get_feature_names_out`` names them; the deprecated ``encoder_``
still reads the online encoder until 0.3.
"""

from __future__ import annotations

import warnings

from sklearn.base import TransformerMixin
from sklearn.utils.validation import check_is_fitted

from sk_brainjepa._utils._deprecation import REMOVED_IN, renamed_param
from sk_brainjepa.estimators._common import embed, resolve_device
from sk_brainjepa.sources import as_source

__all__ = ["PretrainerFeaturesMixin"]


class PretrainerFeaturesMixin(TransformerMixin):
    """``transform`` of :class:`BrainJEPAPretrainer`, and its feature count.

    A ``TransformerMixin`` itself: scikit-learn wraps ``transform`` for
    ``set_output`` only in the class that defines it.
    """

    def transform(self, X):
        """Mean token features of the target encoder.

        Parameters
        ----------
        X : array-like of shape (n_subjects, n_rois, n_timepoints) or list of arrays
            In ``layout``, as for ``fit``.

        Returns
        -------
        features : ndarray of shape (n_subjects, embed_dim), float32
        """
        check_is_fitted(self)
        source = as_source(X, layout=self.layout)
        source.check_n_rois(self.n_rois_, type(self).__name__)
        device = resolve_device(self.device)
        encoder = self.target_encoder_.to(device)
        try:
            return embed(
                encoder,
                source,
                n_timepoints=self.window_length_,
                window=self._window_position(),
                readout="mean",
                batch_size=self.embed_batch_size,
                device=device,
            )
        finally:
            self.target_encoder_.cpu()

    @property
    def _n_features_out(self) -> int:
        """Width of ``transform``'s features: names come from
        ``ClassNamePrefixFeaturesOutMixin`` (``brainjepapretrainer0``, ...)."""
        return self.target_encoder_.config.embed_dim

    def _window_position(self) -> str:
        """``window_position``, or the deprecated ``embed_window`` when set."""
        return renamed_param(self, "embed_window", "window_position", stacklevel=4)

    @property
    def encoder_(self):
        """Deprecated name of ``online_encoder_`` (removed in 0.3)."""
        encoder = self.online_encoder_
        warnings.warn(
            "BrainJEPAPretrainer.encoder_ was renamed online_encoder_ and will be "
            f"removed in {REMOVED_IN}.",
            FutureWarning,
            stacklevel=2,
        )
        return encoder
