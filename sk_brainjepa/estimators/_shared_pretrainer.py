"""Clones that share a fitted ``pretrainer`` parameter instead of unfitting it."""

from __future__ import annotations

import copy

__all__ = ["SharedPretrainerMixin"]


class SharedPretrainerMixin:
    """``clone`` keeps the fitted pretrainer an estimator reads its weights from.

    scikit-learn's ``clone`` (as ``GridSearchCV`` calls it) clones nested
    estimators, which drops a fitted pretrainer's weights. The embedder and
    the fine-tuners only read them (a fine-tuner copies its encoder at every
    fit), so sharing the object is safe; every other parameter is cloned as
    usual. The mixin comes before scikit-learn's or skorch's base class.
    """

    def __sklearn_clone__(self):
        """An unfitted copy that shares ``pretrainer``.

        Returns
        -------
        clone : same class as ``self``
        """
        # scikit-learn clones a shallow copy without the pretrainer (so the
        # set_output and metadata-routing settings come along as usual); the
        # shared pretrainer is put back in the clone. ``self`` is not touched.
        stand_in = copy.copy(self)
        stand_in.pretrainer = None
        twin = super(SharedPretrainerMixin, stand_in).__sklearn_clone__()
        twin.pretrainer = self.pretrainer
        return twin
