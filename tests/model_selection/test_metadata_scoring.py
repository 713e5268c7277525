"""metadata_scorer: named scorers whose predictions receive the sites."""

import numpy as np
import pytest
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.model_selection import cross_validate

from sk_brainjepa.model_selection import metadata_scorer


class _SiteEcho(ClassifierMixin, BaseEstimator):
    """Predicts 1 for the samples of site "b"; refuses to predict without sites."""

    def fit(self, X, y, sites=None):
        self.classes_ = np.array([0, 1])
        return self

    def predict(self, X, sites=None):
        if sites is None:
            raise ValueError("no sites")
        return (np.asarray(sites) == "b").astype(int)

    def predict_proba(self, X, sites=None):
        pred = self.predict(X, sites=sites)
        return np.c_[1.0 - pred, pred]


def test_sites_reach_predict_and_predict_proba():
    X, sites = np.zeros((40, 2)), np.tile(["a", "b"], 20)
    y = (sites == "b").astype(int)
    with sklearn.config_context(enable_metadata_routing=True):
        model = _SiteEcho().set_fit_request(sites=True)
        result = cross_validate(
            model,
            X,
            y,
            params={"sites": sites},
            scoring={
                "ba": metadata_scorer("balanced_accuracy"),
                "auc": metadata_scorer("roc_auc"),
            },
        )
    assert np.all(result["test_ba"] == 1.0) and np.all(result["test_auc"] == 1.0)
    # Called directly, the scorer gives the named metric of the predictions.
    fitted = _SiteEcho().fit(X, y)
    flipped = np.where(sites == "a", "b", "a")
    assert metadata_scorer("balanced_accuracy")(
        fitted, X, y, sites=flipped
    ) == balanced_accuracy_score(y, 1 - y)
    assert metadata_scorer("roc_auc")(fitted, X, y, sites=sites) == roc_auc_score(y, y)


def test_requests_and_errors():
    scorer = metadata_scorer("accuracy", metadata=("sites", "covariates"))
    requests = scorer.get_metadata_routing().score.requests
    assert requests == {"sites": True, "covariates": True}
    assert "metadata_scorer('accuracy'" in repr(scorer)
    with pytest.raises(TypeError, match=r"does not request.*'groups'"):
        scorer(_SiteEcho().fit(np.zeros((2, 1)), [0, 1]), [[0]], [0], groups=[1])
    with pytest.raises(ValueError, match="not a valid scoring value"):
        metadata_scorer("no_such_metric")
