"""BrainJEPAEmbedder: frozen Brain-JEPA features for any scikit-learn pipeline."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from sk_brainjepa._utils._base import TimeSeriesEstimatorMixin
from sk_brainjepa._utils._validation import check_n_rois
from sk_brainjepa.datasets import as_source
from sk_brainjepa.estimators._common import (
    WINDOWS,
    embed,
    resolve_device,
)
from sk_brainjepa.estimators._loading import check_encoder, load_pretrained_encoder
from sk_brainjepa.nn import READOUTS, n_readout_features


class BrainJEPAEmbedder(TimeSeriesEstimatorMixin, TransformerMixin, BaseEstimator):
    """Frozen Brain-JEPA features from a pretrained (by default target) encoder.

    Parameters
    ----------
    checkpoint : str, os.PathLike or None, default=None
        A file written by :meth:`BrainJEPAPretrainer.save`, or the official
        Brain-JEPA checkpoint (``jepa-ep300.pth.tar``: a dict whose
        ``target_encoder`` and ``encoder`` have ``module.``-prefixed keys).
        Read with ``torch.load(weights_only=True)``.
    pretrainer : BrainJEPAPretrainer, FrozenEstimator or None, default=None
        A fitted pretrainer to take the encoder from (instead of a file).
        ``clone`` (and so ``GridSearchCV``) unfits nested estimators: wrap it
        in ``sklearn.frozen.FrozenEstimator`` or use ``checkpoint`` there.
    gradients : None, ndarray or str, default=None
        Gradients for an official checkpoint, which does not contain them: an
        array (n_rois, 30) or the path of ``gradient_mapping_450.csv``. Ignored
        for our own checkpoints and for ``pretrainer``, which carry theirs.
    readout : {"mean", "roi", "connectivity", "lagged", "tokens"}, default="mean"
        ``"mean"``: the mean of the encoder's output tokens after its final
        LayerNorm (what the official downstream head reads), (n_subjects, D).
        ``"roi"``: per-ROI means over time patches, flattened to
        (n_subjects, n_rois * D). ``"connectivity"``: the correlation between
        every pair of ROIs of their token trajectories (each feature centred
        over time patches), upper triangle, (n_subjects, n_rois * (n_rois - 1)
        / 2); a second-order readout for labels carried by connectivity, which
        averages of tokens can miss (see Notes). ``"lagged"``: the same
        correlation with the second ROI one time patch later, for every ordered
        pair, so that which ROI leads is kept, (n_subjects, n_rois * (n_rois -
        1)), in the order of :func:`sk_brainjepa.nn.token_lagged_connectivity`
        (needs 3 time patches). ``"tokens"``: every token,
        (n_subjects, n_rois * W, D), a 3-D array for custom heads.
    encoder : {"target", "online"}, default="target"
        Which of the pretrained model's encoders gives the features: the EMA
        target encoder (the paper's choice: the official downstream code loads
        it) or the online context encoder that gradient descent trained
        (``encoder_`` of a pretrainer, key ``encoder`` of a checkpoint).
    window : {"center", "start", "average"}, default="center"
        Which window of a run longer than the model's is embedded;
        ``"average"`` averages all non-overlapping windows.
    n_timepoints : int or None, default=None
        Model window in frames; None takes it from the pretrainer or
        checkpoint (160 for the official checkpoint).
    n_heads : int or None, default=None
        Attention heads of an official checkpoint (not recoverable from
        shapes); None uses the official value for its width (768 -> 12).
    batch_size : int, default=32
    device : str, default="auto"

    Attributes
    ----------
    encoder_ : BrainJEPAEncoder
        The frozen encoder chosen by ``encoder`` (on the CPU between calls).
    n_timepoints_ : int
    embed_dim_ : int
    n_rois_, n_features_in_ : int

    Notes
    -----
    The mean of the output tokens is, for the most part, an odd function of
    the input: for a tiny model on scaled simulated BOLD, 99.8 % of the
    between-subject variance of the mean features flips sign with the input,
    so for sign-symmetric signals it keeps almost none of the covariance
    structure that connectivity phenotypes live in (they probe at chance). The
    ``"connectivity"`` readout is even (99.3 %) and second order; on the same
    model it reaches 0.79 balanced accuracy on a connectivity-driven label
    (README, "Known limitation").

    Examples
    --------
    >>> from sk_brainjepa import (BrainJEPAEmbedder, BrainJEPAPretrainer,
    ...                           make_brain_dynamics)
    >>> X, _ = make_brain_dynamics(n_subjects=6, n_rois=8, n_timepoints=64,
    ...                            random_state=0)
    >>> pre = BrainJEPAPretrainer(n_timepoints=32, max_epochs=1, batch_size=3,
    ...                           random_state=0).fit(X)
    >>> BrainJEPAEmbedder(pretrainer=pre, readout="roi").fit_transform(X).shape
    (6, 512)
    """

    def __init__(
        self,
        checkpoint=None,
        *,
        pretrainer=None,
        gradients=None,
        readout="mean",
        encoder="target",
        window="center",
        n_timepoints=None,
        n_heads=None,
        batch_size=32,
        device="auto",
    ):
        self.checkpoint = checkpoint
        self.pretrainer = pretrainer
        self.gradients = gradients
        self.readout = readout
        self.encoder = encoder
        self.window = window
        self.n_timepoints = n_timepoints
        self.n_heads = n_heads
        self.batch_size = batch_size
        self.device = device

    def _check_params(self) -> None:
        for name, allowed in (("readout", READOUTS), ("window", WINDOWS)):
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"{name} must be one of {allowed}; got {getattr(self, name)!r}."
                )
        check_encoder(self.encoder)
        if (
            isinstance(self.batch_size, bool)
            or not isinstance(self.batch_size, int)
            or self.batch_size < 1
        ):
            raise ValueError(
                f"batch_size must be a positive integer; got {self.batch_size!r}."
            )

    def fit(self, X=None, y=None):
        """Load the encoder (nothing is learnt).

        Parameters
        ----------
        X : array-like of shape (n_subjects, n_rois, n_timepoints), list or None
            Only used to check the ROI count against the encoder's.
        y : None
            Ignored.

        Returns
        -------
        self : BrainJEPAEmbedder
        """
        self._check_params()
        encoder, n_timepoints = load_pretrained_encoder(
            checkpoint=self.checkpoint,
            pretrainer=self.pretrainer,
            gradients=self.gradients,
            n_heads=self.n_heads,
            n_timepoints=self.n_timepoints,
            encoder=self.encoder,
        )
        encoder.requires_grad_(False)
        n_rois = encoder.config.n_rois
        if X is not None:
            check_n_rois(as_source(X).n_rois, n_rois, "the encoder")
        self.encoder_ = encoder.cpu().eval()
        self.n_timepoints_ = int(self.n_timepoints or n_timepoints)
        self.embed_dim_ = encoder.config.embed_dim
        self.n_rois_ = self.n_features_in_ = n_rois
        return self

    def transform(self, X):
        """Embed time series with the frozen encoder.

        Parameters
        ----------
        X : array-like of shape (n_subjects, n_rois, n_timepoints) or list of arrays
            Robust-scaled series at least ``n_timepoints_`` long.

        Returns
        -------
        features : ndarray, float32
            (n_subjects, D) for ``readout="mean"``, (n_subjects, n_rois * D) for
            ``"roi"``, (n_subjects, n_rois * (n_rois - 1) / 2) for
            ``"connectivity"``, (n_subjects, n_rois * (n_rois - 1)) for
            ``"lagged"``, (n_subjects, n_rois * W, D) for ``"tokens"``.
        """
        check_is_fitted(self)
        source = as_source(X)
        check_n_rois(source.n_rois, self.n_rois_, type(self).__name__)
        device = resolve_device(self.device)
        try:
            return embed(
                self.encoder_.to(device),
                source,
                n_timepoints=self.n_timepoints_,
                window=self.window,
                readout=self.readout,
                batch_size=self.batch_size,
                device=device,
            )
        finally:
            self.encoder_.cpu()

    def get_feature_names_out(self, input_features=None):
        """Feature names ``brainjepaembedder0``, ... (2-D readouts only)."""
        check_is_fitted(self)
        if self.readout == "tokens":
            raise ValueError(
                "readout='tokens' gives a 3-D array, which has no feature names."
            )
        n_out = n_readout_features(self.readout, self.n_rois_, self.embed_dim_)
        return np.asarray([f"brainjepaembedder{i}" for i in range(n_out)], dtype=object)
