"""BrainJEPAEmbedder: frozen Brain-JEPA features for any scikit-learn pipeline."""

from __future__ import annotations

import logging
import os
import time
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.frozen import FrozenEstimator
from sklearn.utils._param_validation import Hidden, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from sk_brainjepa._utils._base import TimeSeriesEstimatorMixin
from sk_brainjepa._utils._deprecation import (
    DEPRECATED,
)
from sk_brainjepa._utils._docstrings import fill_doc
from sk_brainjepa._utils._validation import LAYOUTS
from sk_brainjepa.estimators._common import (
    embed,
    resolve_device,
)
from sk_brainjepa.estimators._loading import ENCODERS, load_pretrained_encoder
from sk_brainjepa.estimators._preprocessing_record import set_layout
from sk_brainjepa.estimators._pretrained_folder import encoder_from_folder
from sk_brainjepa.estimators._pretrained_inputs import (
    PREPROCESSING_OPTIONS,
    check_input_tr,
    model_owner,
    open_checkpoint,
    preprocessed_source,
)
from sk_brainjepa.estimators._pretrainer import BrainJEPAPretrainer
from sk_brainjepa.estimators._renamed import RenamedParamsMixin
from sk_brainjepa.estimators._shared_pretrainer import SharedPretrainerMixin
from sk_brainjepa.nn import READOUTS, n_readout_features
from sk_brainjepa.sources import WINDOWS, as_source

logger = logging.getLogger(__name__)

# Integer parameters for which a bool (an Integral to scikit-learn) is a mistake.
_INTEGER_PARAMS = ("window_length", "n_timepoints", "n_heads", "batch_size")

#: Old parameter name -> new one (deprecated in 0.2, removed in 0.3).
EMBEDDER_RENAMES = {
    "encoder": "source_encoder",
    "window": "window_position",
    "n_timepoints": "window_length",
}


def _n_windows(lengths: np.ndarray, window_length: int, window_position: str) -> int:
    """How many windows ``embed`` runs for subjects of these lengths."""
    if window_position == "average":
        return int(np.sum((np.asarray(lengths) - window_length) // window_length + 1))
    return len(lengths)


@fill_doc
class BrainJEPAEmbedder(
    SharedPretrainerMixin,
    RenamedParamsMixin,
    ClassNamePrefixFeaturesOutMixin,
    TimeSeriesEstimatorMixin,
    TransformerMixin,
    BaseEstimator,
):
    """Frozen Brain-JEPA features from a pretrained (by default target) encoder.

    Parameters
    ----------
    checkpoint : str, os.PathLike or None, default=None
        A folder written by :func:`~sk_brainjepa.estimators.save_pretrained`
        or :func:`~sk_brainjepa.estimators.convert_official_checkpoint` (read
        with safetensors; it carries its gradients, scaling, TR and atlas), a
        Hugging Face Hub repo id of such a folder (``"org/name"``, with the
        ``hub`` extra), a file written by :meth:`BrainJEPAPretrainer.save`, or
        the official Brain-JEPA checkpoint (``jepa-ep300.pth.tar``: a dict
        whose ``target_encoder`` and ``encoder`` have ``module.``-prefixed
        keys). Files are read with ``torch.load(weights_only=True)``.
    pretrainer : BrainJEPAPretrainer, FrozenEstimator or None, default=None
        A fitted pretrainer to take the encoder from (instead of a file). It
        is only read, never changed, so ``clone`` (and so ``GridSearchCV``)
        keeps this very object, fitted, in the clone.
    gradients : None, ndarray or str, default=None
        Gradients for an official checkpoint, which does not contain them: an
        array (n_rois, 30) or the path of ``gradient_mapping_450.csv``. Ignored
        for our own checkpoints and folders and for ``pretrainer``, which
        carry theirs.
    preprocessing : {"auto", "none"} or None, default="auto"
        ``"auto"``: apply the scaling a pretrained folder records (what the
        model was trained with, e.g. ``SubjectRobustScaler``, or for a
        converted official checkpoint the official downstream
        ``SampleZScore``) to the input of ``transform``, so raw series go in;
        nothing is applied for other checkpoints and for ``pretrainer``.
        ``"none"`` or None: apply nothing (the input is scaled already).
    tr : float or None, default=None
        Repetition time of the input in seconds. When given and the folder
        records a TR, data more than 5 % away is refused with the
        ``TemporalResampler`` call that fixes it. None checks nothing.
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
    source_encoder : {"target", "online"}, default="target"
        Which of the pretrained model's encoders gives the features: the EMA
        target encoder (the paper's choice: the official downstream code loads
        it) or the online context encoder that gradient descent trained
        (the pretrainer's online encoder, key ``encoder`` of a checkpoint).
    window_position : {"center", "start", "average"}, default="center"
        Which window of a run longer than the model's is embedded;
        ``"average"`` averages all non-overlapping windows.
    window_length : int or None, default=None
        Model window in frames; None takes it from the pretrainer or
        checkpoint (160 for the official checkpoint).
    n_heads : int or None, default=None
        Attention heads of an official checkpoint (not recoverable from
        shapes); None uses the official value for its width (768 -> 12).
    layout : {"rois_x_time", "time_x_rois"}, default="rois_x_time"
        How each subject's 2-D array given to ``fit`` and ``transform`` is
        ordered: (n_rois, n_timepoints), or (n_timepoints, n_rois) as nilearn
        maskers return it. Files and sources carry their own.
    batch_size : int, default=32
        Windows per forward pass.
    %(device)s
    verbose : int, default=0
        0 is silent; 1 shows a progress bar over the windows while embedding
        and logs what is embedded at INFO.
    encoder : {"target", "online"}, default="deprecated"
        .. deprecated:: 0.2
           Use ``source_encoder``; removed in 0.3.
    window : {"center", "start", "average"}, default="deprecated"
        .. deprecated:: 0.2
           Use ``window_position``; removed in 0.3.
    n_timepoints : int or None, default="deprecated"
        .. deprecated:: 0.2
           Use ``window_length``; removed in 0.3.

    Attributes
    ----------
    encoder_ : BrainJEPAEncoder
        The frozen encoder chosen by ``source_encoder`` (on the CPU between
        calls).
    preprocessing_ : Pipeline, transformer or None
        What ``transform`` applies before the encoder (``preprocessing``
        resolved; in the ``rois_x_time`` layout).
    pretrained_folder_ : pathlib.Path or None
        The local folder the model was read from (a Hub repo id is fetched
        into the Hub cache), or None for files and ``pretrainer``.
    model_tr_ : float or None
        The TR of the frames the model was trained on, when recorded.
    atlas_ : str or None
        The model's atlas, when recorded.
    roi_names_ : list of str or None
        The model's ROI names in row order, when recorded.
    window_length_ : int
        The model window in frames (``window_length`` resolved).
    n_timepoints_ : int
        .. deprecated:: 0.2
           Use ``window_length_``; removed in 0.3.
    embed_dim_ : int
    n_rois_, n_features_in_ : int

    Notes
    -----
    The mean of the output tokens is mostly an odd function of the input, so
    it keeps little of the connectivity that many phenotypes live in; the
    ``"connectivity"`` readout is even and second order (measurements:
    docs/research-notes.md, "Earlier measurements: input scale and sign
    symmetry").

    An embedder is a frozen feature extractor: ``clone`` shares its
    ``pretrainer`` (fitted) with the clone instead of copying and unfitting
    it, so ``Pipeline([("embed", BrainJEPAEmbedder(pretrainer=pre)), ...])``
    works under ``GridSearchCV`` and ``cross_validate``. For the same reason
    the pretrainer's own parameters cannot be set through the embedder
    (``set_params(pretrainer__lr=...)`` raises): a search over them needs a
    pipeline whose ``BrainJEPAPretrainer`` step is fitted per candidate.

    Examples
    --------
    >>> from sk_brainjepa import (BrainJEPAEmbedder, BrainJEPAPretrainer,
    ...                           make_brain_dynamics)
    >>> X, _ = make_brain_dynamics(n_subjects=6, n_rois=8, n_timepoints=64,
    ...                            random_state=0)
    >>> pre = BrainJEPAPretrainer(window_length=32, max_epochs=1, batch_size=3,
    ...                           random_state=0).fit(X)
    >>> BrainJEPAEmbedder(pretrainer=pre, readout="roi").fit_transform(X).shape
    (6, 512)
    """

    _renames = EMBEDDER_RENAMES

    _parameter_constraints: dict = {
        "checkpoint": [str, os.PathLike, None],
        "pretrainer": [BrainJEPAPretrainer, FrozenEstimator, None],
        # An array or a CSV path, checked against the checkpoint when loaded.
        "gradients": "no_validation",
        "preprocessing": [StrOptions(set(PREPROCESSING_OPTIONS)), None],
        "tr": [Interval(Real, 0, None, closed="neither"), None],
        "readout": [StrOptions(set(READOUTS))],
        "source_encoder": [StrOptions(set(ENCODERS))],
        "window_position": [StrOptions(set(WINDOWS))],
        "window_length": [Interval(Integral, 1, None, closed="left"), None],
        "n_heads": [Interval(Integral, 1, None, closed="left"), None],
        "layout": [StrOptions(set(LAYOUTS))],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "verbose": ["verbose"],
        # The old names (renamed in 0.2): their values, or "deprecated" (unset).
        "encoder": [StrOptions(set(ENCODERS)), Hidden(StrOptions({DEPRECATED}))],
        "window": [StrOptions(set(WINDOWS)), Hidden(StrOptions({DEPRECATED}))],
        "n_timepoints": [
            Interval(Integral, 1, None, closed="left"),
            None,
            Hidden(StrOptions({DEPRECATED})),
        ],
    }

    def __init__(
        self,
        checkpoint=None,
        *,
        pretrainer=None,
        gradients=None,
        preprocessing="auto",
        tr=None,
        readout="mean",
        source_encoder="target",
        window_position="center",
        window_length=None,
        n_heads=None,
        layout="rois_x_time",
        batch_size=32,
        device="auto",
        verbose=0,
        encoder=DEPRECATED,
        window=DEPRECATED,
        n_timepoints=DEPRECATED,
    ):
        self.checkpoint = checkpoint
        self.pretrainer = pretrainer
        self.gradients = gradients
        self.preprocessing = preprocessing
        self.tr = tr
        self.readout = readout
        self.source_encoder = source_encoder
        self.window_position = window_position
        self.window_length = window_length
        self.n_heads = n_heads
        self.layout = layout
        self.batch_size = batch_size
        self.device = device
        self.verbose = verbose
        self.encoder = encoder
        self.window = window
        self.n_timepoints = n_timepoints

    def set_params(self, **params):
        """Set parameters; those of the shared ``pretrainer`` are refused.

        The pretrainer is fitted and shared by every clone (see Notes), so
        ``pretrainer__lr=...`` would change the caller's own object without
        retraining it: every candidate of a search would get the same
        features. Replacing the whole ``pretrainer`` is allowed.

        Parameters
        ----------
        **params : dict
            Parameters of this embedder.

        Returns
        -------
        self : BrainJEPAEmbedder

        Raises
        ------
        ValueError
            For a ``pretrainer__<name>`` key, saying how to search pretraining
            parameters instead.
        """
        nested = sorted(key for key in params if key.startswith("pretrainer__"))
        if nested:
            raise ValueError(
                f"Cannot set {nested[0]}: BrainJEPAEmbedder only reads its fitted "
                "pretrainer, which every clone shares and nothing refits, so all "
                "candidates would get the same features and your pretrainer would "
                "be changed. To search pretraining parameters, put an unfitted "
                "BrainJEPAPretrainer step before the probe, e.g. Pipeline([('jepa', "
                "BrainJEPAPretrainer(...)), ('clf', LogisticRegression())]) with "
                "{'jepa__lr': [...]}; to compare fitted pretrainers, search "
                "'pretrainer' over [FrozenEstimator(pre_a), FrozenEstimator(pre_b)]."
            )
        return super().set_params(**params)

    def _check_params(self) -> None:
        """Check every parameter before any work; messages name the parameter."""
        self._validate_params()
        for name in _INTEGER_PARAMS:
            value = getattr(self, name)
            if isinstance(value, (bool, np.bool_)):
                raise ValueError(
                    f"{name} must be a positive integer (or None where allowed); "
                    f"got {value!r}."
                )
        if self.device != "auto":
            try:
                torch.device(self.device)
            except (RuntimeError, TypeError):
                raise ValueError(
                    "device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got "
                    f"{self.device!r}."
                ) from None

    def fit(self, X=None, y=None):
        """Load the encoder (nothing is learnt).

        Parameters
        ----------
        X : array-like of shape (n_subjects, n_rois, n_timepoints), list or None
            In ``layout``. Only used to check the ROI count against the
            encoder's (the message names a folder's atlas).
        y : None
            Ignored.

        Returns
        -------
        self : BrainJEPAEmbedder
        """
        self._check_params()
        # All three, although fit reads two: an old name warns, and a clash
        # with its new name fails, here rather than at the first transform.
        renamed = self._renamed_params()
        source_encoder = renamed["source_encoder"]
        window_length = renamed["window_length"]
        checkpoint, folder, recorded = open_checkpoint(self.checkpoint, self.pretrainer)
        if folder is not None:
            encoder, n_timepoints = encoder_from_folder(folder, source_encoder)
        else:
            encoder, n_timepoints = load_pretrained_encoder(
                checkpoint=checkpoint,
                pretrainer=self.pretrainer,
                gradients=self.gradients,
                n_heads=self.n_heads,
                n_timepoints=window_length,
                encoder=source_encoder,
            )
        encoder.requires_grad_(False)
        config = {} if folder is None else folder.config
        preprocessing = recorded if self.preprocessing == "auto" else None
        if preprocessing is not None:
            # The source is read in ``layout`` and handed on as rois_x_time.
            set_layout(preprocessing, "rois_x_time")
        n_timepoints = int(window_length or n_timepoints)
        if self.tr is not None:
            check_input_tr(
                float(self.tr), config, preprocessing, n_timepoints=n_timepoints
            )
        n_rois = encoder.config.n_rois
        if X is not None:
            source = as_source(X, layout=self.layout)
            owner = model_owner(self.checkpoint, config) if config else "the encoder"
            source.check_n_rois(n_rois, owner)
        self.encoder_ = encoder.cpu().eval()
        self.pretrained_folder_ = None if folder is None else folder.path
        self.preprocessing_ = preprocessing
        self.model_tr_ = config.get("tr")
        self.atlas_ = config.get("atlas")
        self.roi_names_ = config.get("roi_names")
        self.window_length_ = n_timepoints
        self.embed_dim_ = encoder.config.embed_dim
        self.n_rois_ = self.n_features_in_ = n_rois
        return self

    def transform(self, X):
        """Embed time series with the frozen encoder.

        Parameters
        ----------
        X : array-like of shape (n_subjects, n_rois, n_timepoints) or list of arrays
            Series at least ``window_length_`` long, in ``layout``: raw when
            ``preprocessing_`` scales them (a folder's recorded scaling),
            scaled as the model was trained otherwise. Paths, memory maps
            and sources are read lazily.

        Returns
        -------
        features : ndarray, float32
            (n_subjects, D) for ``readout="mean"``, (n_subjects, n_rois * D) for
            ``"roi"``, (n_subjects, n_rois * (n_rois - 1) / 2) for
            ``"connectivity"``, (n_subjects, n_rois * (n_rois - 1)) for
            ``"lagged"``, (n_subjects, n_rois * W, D) for ``"tokens"``.
        """
        check_is_fitted(self)
        self._check_params()
        # Once per call: a renamed parameter warns once, not once per batch.
        source_encoder = self._renamed_value("encoder", "source_encoder")
        window_position = self._renamed_value("window", "window_position")
        source = as_source(X, layout=self.layout)
        owner = type(self).__name__
        # getattr: embedders pickled before these attributes existed.
        if getattr(self, "pretrained_folder_", None) is not None:
            owner = model_owner(self.checkpoint, {"atlas": self.atlas_})
        source.check_n_rois(self.n_rois_, owner)
        preprocessing = getattr(self, "preprocessing_", None)
        if preprocessing is not None:
            source = preprocessed_source(preprocessing, source)
        source.check_lengths(self.window_length_)
        device = resolve_device(self.device)
        n_windows = _n_windows(source.lengths, self.window_length_, window_position)
        logger.log(
            logging.INFO if self.verbose else logging.DEBUG,
            "embedding %d subjects (%d windows of %d frames, %d ROIs) with the %s "
            "encoder on %s, readout=%r",
            len(source),
            n_windows,
            self.window_length_,
            self.n_rois_,
            source_encoder,
            device,
            self.readout,
        )
        progress, hook = None, None
        if self.verbose:
            from tqdm.auto import tqdm

            progress = tqdm(total=n_windows, desc="Brain-JEPA embedding", unit="window")

            def count_windows(_module, inputs, _output) -> None:
                # Returns None: a forward hook's return value replaces the output.
                progress.update(len(inputs[0]))

            # embed runs the encoder once per batch of windows: count them there.
            hook = self.encoder_.register_forward_hook(count_windows)
        started = time.perf_counter()
        try:
            features = embed(
                self.encoder_.to(device),
                source,
                n_timepoints=self.window_length_,
                window=window_position,
                readout=self.readout,
                batch_size=int(self.batch_size),
                device=device,
            )
        finally:
            if hook is not None:
                hook.remove()
                progress.close()
            self.encoder_.cpu()
        logger.log(
            logging.INFO if self.verbose else logging.DEBUG,
            "embedded %d subjects into features of shape %s in %.1f s",
            len(source),
            features.shape,
            time.perf_counter() - started,
        )
        return features

    @property
    def _n_features_out(self) -> int:
        """Width of the 2-D readout: names come from ``ClassNamePrefixFeaturesOutMixin``
        (``brainjepaembedder0``, ...)."""
        check_is_fitted(self)
        if self.readout == "tokens":
            raise ValueError(
                "readout='tokens' gives a 3-D array, which has no feature names."
            )
        return n_readout_features(self.readout, self.n_rois_, self.embed_dim_)
