"""Scorers whose predictions receive metadata, such as the sites of a harmoniser.

scikit-learn's named scorers (``scoring="balanced_accuracy"``) route metadata
to the metric only, never to ``predict``: a ``Pipeline`` holding a
:class:`~sk_brainjepa.preprocessing.ComBatHarmonizer` then predicts without
its sites and fails. :func:`metadata_scorer` wraps a named scorer so that the
requested metadata reach the estimator's ``predict``, ``predict_proba`` or
``decision_function``.
"""

from __future__ import annotations

from functools import wraps

from sklearn.metrics import get_scorer
from sklearn.utils.metadata_routing import MetadataRequest

_RESPONSE_METHODS = ("predict", "predict_proba", "decision_function", "score")


class _WithMetadata:
    """An estimator whose response methods are called with fixed metadata.

    Every other attribute (``classes_``, tags) is the estimator's, so
    scikit-learn's scorers treat it as the estimator itself.
    """

    def __init__(self, estimator, params: dict):
        self._estimator = estimator
        self._params = params

    def __getattr__(self, name):
        value = getattr(self._estimator, name)
        if name not in _RESPONSE_METHODS or not self._params:
            return value

        # A function, not a functools.partial: scikit-learn reads the
        # response method's __name__.
        @wraps(value)
        def with_metadata(X, **kwargs):
            return value(X, **self._params, **kwargs)

        return with_metadata

    def __sklearn_tags__(self):
        return self._estimator.__sklearn_tags__()


class MetadataScorer:
    """A named scikit-learn scorer whose predictions receive metadata.

    Made by :func:`metadata_scorer`; see there.

    Parameters
    ----------
    scoring : str or callable
        A scikit-learn scorer name or scorer object.
    metadata : tuple of str
        The metadata requested for ``score`` and passed to the estimator's
        response method.
    """

    def __init__(self, scoring, metadata):
        self.scoring = scoring
        self.metadata = tuple(metadata)

    def __repr__(self):
        return f"metadata_scorer({self.scoring!r}, metadata={self.metadata!r})"

    def __call__(self, estimator, X, y_true, **params):
        """Score ``estimator`` on ``X``, with ``params`` passed to its predictions.

        Parameters
        ----------
        estimator : fitted estimator
        X : array-like of shape (n_samples, ...)
        y_true : array-like of shape (n_samples,)
        **params
            Metadata of the test rows (e.g. ``sites``); unknown names are
            refused.

        Returns
        -------
        score : float
        """
        unknown = sorted(set(params) - set(self.metadata))
        if unknown:
            raise TypeError(
                f"{self!r} got metadata {unknown} it does not request; request "
                f"them with metadata={self.metadata + tuple(unknown)!r}."
            )
        scorer = get_scorer(self.scoring)
        return scorer(_WithMetadata(estimator, params), X, y_true)

    def get_metadata_routing(self):
        """What the scorer requests: each name of ``metadata`` for ``score``.

        Returns
        -------
        request : sklearn.utils.metadata_routing.MetadataRequest
        """
        request = MetadataRequest(owner=type(self).__name__)
        for name in self.metadata:
            request.score.add_request(param=name, alias=True)
        return request


def metadata_scorer(scoring="accuracy", *, metadata=("sites",)) -> MetadataScorer:
    """A scorer that passes metadata (by default ``sites``) on to ``predict``.

    Under ``sklearn.set_config(enable_metadata_routing=True)``,
    ``cross_val_score``, ``cross_validate`` and ``GridSearchCV`` route the
    metadata a scorer requests to it with the test rows' values; this scorer
    hands them to the estimator's ``predict`` / ``predict_proba`` /
    ``decision_function`` (which a ``Pipeline`` routes to its steps), then
    computes the named metric. Use it wherever a pipeline with a
    :class:`~sk_brainjepa.preprocessing.ComBatHarmonizer` is scored with
    another metric than its own ``score``.

    Parameters
    ----------
    scoring : str or callable, default="accuracy"
        A name that ``sklearn.metrics.get_scorer`` knows
        (``"balanced_accuracy"``, ``"roc_auc"``, ``"r2"``, ...) or a scorer
        made by ``make_scorer``.
    metadata : tuple of str, default=("sites",)
        Metadata the predictions need.

    Returns
    -------
    scorer : MetadataScorer
        Use as ``scoring=``, alone or in a dict of scorers.

    Examples
    --------
    >>> import sklearn
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import cross_val_score
    >>> from sklearn.pipeline import make_pipeline
    >>> from sk_brainjepa.model_selection import metadata_scorer
    >>> from sk_brainjepa.preprocessing import ComBatHarmonizer
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(40, 4)), np.tile([0, 1], 20)
    >>> sites = np.repeat(["a", "b"], 20)
    >>> with sklearn.config_context(enable_metadata_routing=True):
    ...     combat = (ComBatHarmonizer().set_fit_request(sites=True)
    ...               .set_transform_request(sites=True))
    ...     pipe = make_pipeline(combat, LogisticRegression())
    ...     scores = cross_val_score(pipe, X, y, params={"sites": sites},
    ...                              scoring=metadata_scorer("balanced_accuracy"))
    >>> scores.shape
    (5,)
    """
    if isinstance(scoring, str):
        get_scorer(scoring)  # an unknown name fails now, not inside every fold
    return MetadataScorer(scoring, metadata)
