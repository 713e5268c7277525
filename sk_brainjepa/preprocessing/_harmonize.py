"""ComBat harmonisation of features across scanner sites, as a scikit-learn step.

The statistics (location/scale model, empirical-Bayes shrinkage, covariate
design) are combatlearn's ``ComBatModel``; this module makes it a transformer
that takes the sites (and covariates) as metadata, fits on the training part
only and refuses what it cannot harmonise. combatlearn was chosen over
neuroHarmonize because neuroHarmonize 2.5.2 pins ``numpy<2`` and
``pandas<3`` and would downgrade the package's stack.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.base import (
    BaseEstimator,
    OneToOneFeatureMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from sk_brainjepa.preprocessing._covariates import (
    covariate_frame,
    fit_coding,
    split_covariates,
)

logger = logging.getLogger(__name__)

_METHODS = ("auto", "johnson", "fortin", "chen")
# Sites named in a message at most.
_SHOWN = 10
_ROUTING_HINT = (
    "In a Pipeline, enable metadata routing "
    "(sklearn.set_config(enable_metadata_routing=True)), request the sites "
    "with ComBatHarmonizer().set_fit_request(sites=True)"
    ".set_transform_request(sites=True), and pass sites= to fit, predict and "
    "score (params={'sites': sites} in cross_val_score)."
)


def _import_combat():
    """combatlearn's ``ComBatModel``, or an ImportError saying how to install it."""
    try:
        from combatlearn.core import ComBatModel
    except ImportError as exc:
        raise ImportError(
            "ComBatHarmonizer needs the optional dependency combatlearn (>= 2.3): "
            'pip install "sk_brainjepa[harmonize]".'
        ) from exc
    return ComBatModel


def _check_sites(sites, n_samples: int, method: str) -> np.ndarray:
    """``sites`` as a 1-D array of one label per sample, or a clear error."""
    if sites is None:
        raise ValueError(
            f"ComBatHarmonizer.{method} needs sites=, the site (scanner) of each "
            f"of the {n_samples} samples of X. {_ROUTING_HINT}"
        )
    sites = np.asarray(sites)
    if sites.ndim != 1 or sites.shape[0] != n_samples:
        raise ValueError(
            f"ComBatHarmonizer.{method}: sites must have shape (n_samples,) = "
            f"({n_samples},), one site per row of X; got shape {sites.shape}."
        )
    if pd.isna(sites).any():
        raise ValueError(
            f"ComBatHarmonizer.{method}: sites has missing values; every sample "
            "needs a site."
        )
    try:
        np.unique(sites)
    except TypeError:
        raise ValueError(
            f"ComBatHarmonizer.{method}: sites mixes label types (e.g. numbers "
            "and strings); give every site one kind of label."
        ) from None
    return sites


class ComBatHarmonizer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Remove site (scanner) effects from features with ComBat, fitted on training data.

    ComBat (Johnson et al., 2007; Fortin et al., 2017, 2018) models every
    feature as a site-specific location and scale around a common mean
    (plus protected covariates), shrinks the site estimates towards their
    across-feature prior (empirical Bayes), and maps each site onto the
    pooled one. The estimates come from ``fit`` alone, so a test part is
    harmonised with the training sites' estimates and never changes them.
    The statistics are those of combatlearn's ``ComBatModel`` (optional
    dependency: ``pip install "sk_brainjepa[harmonize]"``).

    Parameters
    ----------
    method : {"auto", "johnson", "fortin", "chen"}, default="auto"
        ``"johnson"``: classic ComBat, no covariates. ``"fortin"``:
        neuroCombat, which keeps the effects of ``covariates`` while removing
        the site's. ``"chen"``: CovBat, which also harmonises the covariance
        between features (principal components of the residuals); with FC
        features, where sites differ in how edges co-vary, it can remove more.
        ``"auto"`` uses ``"fortin"`` when ``covariates`` are given to ``fit``,
        else ``"johnson"``.
    parametric : bool, default=True
        Parametric empirical-Bayes priors (normal for the locations,
        inverse-gamma for the scales); False uses the slower non-parametric
        estimate.
    mean_only : bool, default=False
        Adjust the site locations only, not the scales.
    categorical_covariates : list of column names or positions, or None, default=None
        Columns of ``covariates`` to treat as categories (dummy-coded). None
        takes booleans, strings, objects and categoricals as categories and
        numbers as continuous (entered linearly).

    Attributes
    ----------
    model_ : combatlearn.core.ComBatModel
        The fitted statistics (``_gamma_star``, ``_delta_star``, ...).
    sites_ : ndarray of shape (n_sites,)
        The sites seen in ``fit``, sorted; ``transform`` harmonises only these.
    method_ : str
        The method used (``"auto"`` resolved).
    covariate_coding_ : CovariateCoding or None
        Columns, categorical columns with their categories, continuous columns;
        None without covariates.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` had string column names.

    See Also
    --------
    sk_brainjepa.model_selection.TrainValTestSplit : ``by_site="leave_out"``
        and ``"stratify"`` splits.

    Notes
    -----
    **Where the sites come from.** ``fit``, ``transform`` and
    ``fit_transform`` take ``sites`` (and ``covariates``) as keyword
    arguments, so in a ``Pipeline`` they are metadata: enable routing with
    ``sklearn.set_config(enable_metadata_routing=True)``, then
    ``ComBatHarmonizer().set_fit_request(sites=True).set_transform_request(
    sites=True)``, and pass ``sites=`` to the pipeline's ``fit``,
    ``predict`` and ``score`` (``params={"sites": sites}`` to
    ``cross_val_score`` / ``cross_validate``, ``sites=`` to
    ``GridSearchCV.fit``), which slice it with the rows. Two limits of
    scikit-learn (1.9): a named scorer (``scoring="balanced_accuracy"``)
    routes metadata to the metric, never to ``predict``, so wrap it with
    :func:`~sk_brainjepa.model_selection.metadata_scorer`; and a search's
    ``predict`` takes no metadata, so predict with
    ``search.best_estimator_.predict(X, sites=...)``.

    **A site unseen in fit cannot be harmonised.** Its location and scale
    were never estimated, so ``transform`` refuses it by name. A
    leave-site-out evaluation (``TrainValTestSplit(by_site="leave_out")``)
    therefore cannot put ComBat in front of its held-out site; harmonise
    only within the training sites, or use a method that adapts to a new
    site from its own (unlabelled) data, which is transductive and leaks the
    test part's statistics.

    **Protecting the target leaks it.** With ``method="fortin"`` a covariate
    keeps its effect on the features; but the harmoniser then needs that
    covariate for every sample it transforms. Protecting the prediction
    target (``covariates=y``) thus needs ``y`` of the test samples at
    ``transform``: the test labels enter the features. Protect only
    variables known at prediction time (age, sex), and expect site and
    target confounded in the training data (e.g. patients mostly at one
    site) to be partly removed with the site.

    **combatlearn's priors.** In combatlearn 2.3 the empirical-Bayes priors
    are pooled per feature across sites (mean and variance of a feature's
    site estimates), where Johnson et al. pool per site across features.
    With few sites whose scales differ much, ``parametric=True`` therefore
    pulls the site scales towards each other and corrects them only in part
    (measured: three sites of 30 samples with SDs in the ratio 6 keep a
    ratio of about 1.6), while the locations are removed;
    ``parametric=False`` (combatlearn's per-site inverse-gamma prior over
    features) equalised the scales to within sampling noise there. Both are
    combatlearn's estimates, not re-implemented here.

    Each site needs at least 2 samples in ``fit`` (a scale estimate needs
    two); ``fit`` needs at least 2 sites.

    References
    ----------
    .. [1] Johnson, W. E., Li, C., & Rabinovic, A. (2007). Adjusting batch
       effects in microarray expression data using empirical Bayes methods.
       Biostatistics 8(1), 118-127.
    .. [2] Fortin, J.-P., et al. (2018). Harmonization of cortical thickness
       measurements across scanners and sites. NeuroImage 167, 104-120.
    .. [3] Chen, A. A., et al. (2022). Mitigating site effects in covariance
       for machine learning in neuroimaging data. Human Brain Mapping 43(4),
       1179-1195.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_brainjepa.preprocessing import ComBatHarmonizer
    >>> rng = np.random.default_rng(0)
    >>> sites = np.repeat(["a", "b"], 20)
    >>> X = rng.normal(size=(40, 5)) + np.where(sites == "a", 0.0, 3.0)[:, None]
    >>> Xh = ComBatHarmonizer().fit_transform(X, sites=sites)
    >>> bool(abs(Xh[sites == "a"].mean() - Xh[sites == "b"].mean()) < 0.5)
    True
    """

    _parameter_constraints: dict = {
        "method": [StrOptions(set(_METHODS))],
        "parametric": ["boolean"],
        "mean_only": ["boolean"],
        "categorical_covariates": [None, "array-like"],
    }

    def __init__(
        self,
        *,
        method="auto",
        parametric=True,
        mean_only=False,
        categorical_covariates=None,
    ):
        self.method = method
        self.parametric = parametric
        self.mean_only = mean_only
        self.categorical_covariates = categorical_covariates

    def _resolve_method(self, has_covariates: bool) -> str:
        if self.method == "auto":
            return "fortin" if has_covariates else "johnson"
        if self.method == "johnson" and has_covariates:
            raise ValueError(
                "method='johnson' cannot protect covariates (it would ignore "
                "them); use method='fortin' (or 'auto'), or drop covariates."
            )
        return self.method

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, *, sites=None, covariates=None):
        """Estimate each site's location and scale on (training) features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features, e.g. FC vectors or Brain-JEPA features.
        y : None
            Ignored.
        sites : array-like of shape (n_samples,)
            Site (scanner) of each sample; at least 2 sites with at least 2
            samples each. Required.
        covariates : DataFrame, array-like of shape (n_samples, n_covariates) or None
            Variables whose effects on the features are kept (``"fortin"``
            and ``"chen"``); needed again, with the same columns, by
            ``transform``. Rows match the rows of ``X`` by position (a
            DataFrame's index is not used).

        Returns
        -------
        self : ComBatHarmonizer
        """
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        sites = _check_sites(sites, X.shape[0], "fit")
        levels, counts = np.unique(sites, return_counts=True)
        if len(levels) < 2:
            raise ValueError(
                f"ComBatHarmonizer.fit got a single site {levels[0].item()!r}; "
                "there is nothing to harmonise between sites (at least 2 are "
                "needed)."
            )
        small = levels[counts < 2]
        if len(small):
            raise ValueError(
                f"ComBatHarmonizer.fit: site(s) {small[:_SHOWN].tolist()} have a "
                "single sample; ComBat estimates a scale per site and needs at "
                "least 2 samples of each. Merge or drop these sites."
            )
        method = self._resolve_method(covariates is not None)
        discrete = continuous = coding = None
        if covariates is not None:
            frame = covariate_frame(covariates, X.shape[0], "ComBatHarmonizer.fit")
            coding = fit_coding(frame, self.categorical_covariates)
            discrete, continuous = split_covariates(
                frame, coding, "ComBatHarmonizer.fit"
            )
        ComBatModel = _import_combat()
        model = ComBatModel(
            method=method, parametric=self.parametric, mean_only=self.mean_only
        )
        model.fit(
            pd.DataFrame(X),
            batch=sites,
            discrete_covariates=discrete,
            continuous_covariates=continuous,
        )
        self.model_ = model
        self.sites_ = levels
        self.method_ = method
        self.covariate_coding_ = coding
        logger.debug(
            "ComBat (%s) fitted on %d samples x %d features from %d sites.",
            method,
            X.shape[0],
            X.shape[1],
            len(levels),
        )
        return self

    def transform(self, X, *, sites=None, covariates=None):
        """Harmonise features with the estimates of ``fit``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        sites : array-like of shape (n_samples,)
            Site of each sample; every site must have been seen in ``fit``.
            Required.
        covariates : DataFrame, array-like of shape (n_samples, n_covariates) or None
            Required when ``fit`` had covariates (same columns), refused
            otherwise.

        Returns
        -------
        X_harmonized : ndarray of shape (n_samples, n_features)
            Each row depends only on that row, its site and its covariates.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        sites = _check_sites(sites, X.shape[0], "transform")
        unseen = np.setdiff1d(np.unique(sites), self.sites_)
        if len(unseen):
            raise ValueError(
                f"ComBatHarmonizer.transform: site(s) {unseen[:_SHOWN].tolist()} "
                f"were not seen in fit (seen: {self.sites_[:_SHOWN].tolist()}). "
                "ComBat can only harmonise sites whose location and scale it "
                "estimated; a leave-site-out split cannot harmonise its held-out "
                "site with a harmoniser fitted on the other sites."
            )
        discrete = continuous = None
        if self.covariate_coding_ is None:
            if covariates is not None:
                raise ValueError(
                    "ComBatHarmonizer.transform got covariates, but fit had none; "
                    "pass the same covariates to both or to neither."
                )
        else:
            if covariates is None:
                raise ValueError(
                    "ComBatHarmonizer.transform needs covariates=: fit protected "
                    f"covariates {self.covariate_coding_.columns}, and the model "
                    "needs their values for every sample it harmonises."
                )
            frame = covariate_frame(
                covariates, X.shape[0], "ComBatHarmonizer.transform"
            )
            discrete, continuous = split_covariates(
                frame, self.covariate_coding_, "ComBatHarmonizer.transform"
            )
        out = self.model_.transform(
            pd.DataFrame(X),
            batch=sites,
            discrete_covariates=discrete,
            continuous_covariates=continuous,
        )
        return np.asarray(out, dtype=np.float64)

    def fit_transform(self, X, y=None, *, sites=None, covariates=None):
        """Fit on ``X``, then harmonise it (``sites`` reach both steps).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.
        sites : array-like of shape (n_samples,)
        covariates : DataFrame, array-like of shape (n_samples, n_covariates) or None

        Returns
        -------
        X_harmonized : ndarray of shape (n_samples, n_features)
        """
        # TransformerMixin.fit_transform would call transform without sites.
        return self.fit(X, y, sites=sites, covariates=covariates).transform(
            X, sites=sites, covariates=covariates
        )
