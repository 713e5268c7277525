"""Every public estimator of the package, at test size, with the data it takes.

One registry for the two contract suites: ``tests/test_sklearn_checks.py``
(scikit-learn's own checks, ``parametrize_with_checks``) and
``tests/test_contract.py`` (the same contract on the 3-D data the estimators
really take). ``public_estimator_classes`` walks the package's ``__all__``
lists, so a new public estimator without an entry here fails a test.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import pkgutil
import warnings

import numpy as np

import sk_brainjepa
from sk_brainjepa import (
    BrainJEPAClassifier,
    BrainJEPAEmbedder,
    BrainJEPAPretrainer,
    BrainJEPARegressor,
    ComBatHarmonizer,
    FunctionalConnectivity,
    GradientPositioner,
    ROIRobustScaler,
    ROITimeSeriesExtractor,
    SampleZScore,
    SubjectRobustScaler,
    TemporalResampler,
)
from sk_brainjepa.baselines import (
    BNTClassifier,
    BNTRegressor,
    BrainNetCNNClassifier,
    BrainNetCNNRegressor,
)
from sk_brainjepa.preprocessing import DynamicFeatures, TangentConnectivity

N_SUBJECTS, N_ROIS, N_TIMEPOINTS = 6, 8, 40
# The pretrained model of the fine-tuners and the embedder: one block, 8-frame
# patches, a 32-frame window.
WINDOW = 32
TINY_MODEL = dict(
    model_params={"depth": 1, "predictor_depth": 1}, patch_size=8, window_length=WINDOW
)
# One epoch: every net trains in well under a second. Batches of 2: the 4
# training subjects (2 go to validation) leave no batch of one, which the
# fine-tuners' BatchNorm head cannot train on.
TINY_NET = dict(max_epochs=1, batch_size=2, random_state=0)
TINY_CNN = dict(
    module__e2e_channels=(2, 2),
    module__e2n_channels=4,
    module__n2g_channels=4,
    module__hidden=(4,),
)
TINY_BNT = dict(
    module__n_heads=2,
    module__hidden_dim=8,
    module__n_clusters=2,
    module__head_hidden=(8,),
)


def public_estimator_classes() -> set[type]:
    """The classes with ``fit`` and ``get_params`` in any public ``__all__``."""
    modules = ["sk_brainjepa"] + [
        f"sk_brainjepa.{info.name}"
        for info in pkgutil.iter_modules(sk_brainjepa.__path__)
        if not info.name.startswith("_")
    ]
    found = set()
    for name in modules:
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", []):
            obj = getattr(module, attr)
            if (
                inspect.isclass(obj)
                and hasattr(obj, "fit")
                and hasattr(obj, "get_params")
            ):
                found.add(obj)
    return found


# ------------------------------------------------------------------- data
def timeseries(n_subjects=N_SUBJECTS, n_rois=N_ROIS, n_timepoints=N_TIMEPOINTS, seed=0):
    """Mixed Gaussian ROI series around 100 (unscaled BOLD), float32."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(n_rois, n_rois))
    x = np.einsum(
        "rk,skt->srt", mixing, rng.normal(size=(n_subjects, n_rois, n_timepoints))
    )
    return (100.0 + x).astype(np.float32)


def fc(n_subjects=N_SUBJECTS, n_rois=N_ROIS, seed=0):
    """Pearson FC matrices of :func:`timeseries`."""
    return FunctionalConnectivity().fit_transform(
        timeseries(n_subjects, n_rois, 60, seed)
    )


def labels(n_subjects=N_SUBJECTS):
    """Two balanced classes."""
    return np.arange(n_subjects) % 2


def targets(n_subjects=N_SUBJECTS):
    """Real values, none repeated."""
    return np.linspace(20.0, 80.0, n_subjects) + 0.5


@functools.cache
def fitted_pretrainer() -> BrainJEPAPretrainer:
    """The tiny model the fine-tuners and the embedder start from (cached)."""
    model = BrainJEPAPretrainer(
        **TINY_MODEL, max_epochs=1, batch_size=3, random_state=0
    )
    with warnings.catch_warnings():
        # Two steps on unscaled data: the warnings about both are expected.
        warnings.simplefilter("ignore")
        return model.fit(timeseries(n_timepoints=WINDOW))


def with_pretrainer(estimator):
    """``estimator`` given the fitted tiny model when it reads one."""
    if isinstance(
        estimator, (BrainJEPAClassifier, BrainJEPARegressor, BrainJEPAEmbedder)
    ):
        estimator.set_params(pretrainer=fitted_pretrainer())
    return estimator


# --------------------------------------------------------------- registry
class Case:
    """One estimator at test size and the data of its contract.

    Parameters
    ----------
    estimator : estimator instance
        Unfitted; the fine-tuners and the embedder get their pretrained
        model from :func:`with_pretrainer` when a test fits them.
    input : {"series", "fc", "table", "images"}
        What ``X`` is: time series, FC matrices, 2-D features or NIfTI
        images.
    target : {None, "labels", "targets"}
        What ``y`` is for supervised estimators.
    """

    def __init__(self, estimator, input, target=None):
        self.estimator = estimator
        self.input = input
        self.target = target

    @property
    def id(self) -> str:
        return type(self.estimator).__name__

    def X(self, **kwargs):
        """The input, with ``n_subjects``/``n_rois`` overridable."""
        if self.input == "fc":
            return fc(**kwargs)
        n_timepoints = WINDOW if self.needs_window else N_TIMEPOINTS
        return timeseries(**{"n_timepoints": n_timepoints, **kwargs})

    @property
    def needs_window(self) -> bool:
        return isinstance(
            self.estimator,
            (BrainJEPAClassifier, BrainJEPARegressor, BrainJEPAEmbedder),
        )

    def y(self, n_subjects=N_SUBJECTS):
        if self.target == "labels":
            return labels(n_subjects)
        if self.target == "targets":
            return targets(n_subjects)
        return None


CASES = [
    Case(ROIRobustScaler(), "series"),
    Case(ROIRobustScaler(statistics="subject_mean"), "series"),
    Case(ROIRobustScaler(center_subjects=True), "series"),
    Case(SubjectRobustScaler(), "series"),
    Case(SampleZScore(), "series"),
    Case(
        TemporalResampler(
            tr=1.0, target_tr=2.0, n_timepoints=12, crop="random", random_state=0
        ),
        "series",
    ),
    Case(FunctionalConnectivity(kind="partial", output="vector"), "series"),
    Case(DynamicFeatures(lags=(1, 2), window=8), "series"),
    Case(TangentConnectivity(), "series"),
    Case(GradientPositioner(n_components=3, sparsity=0.5, random_state=0), "fc"),
    Case(
        BrainJEPAPretrainer(**TINY_MODEL, max_epochs=1, batch_size=3, random_state=0),
        "series",
    ),
    Case(BrainJEPAEmbedder(), "series"),
    Case(BrainJEPAClassifier(**TINY_NET), "series", "labels"),
    Case(BrainJEPARegressor(**TINY_NET), "series", "targets"),
    Case(BrainNetCNNClassifier(**TINY_NET, **TINY_CNN), "fc", "labels"),
    Case(BrainNetCNNRegressor(**TINY_NET, **TINY_CNN), "fc", "targets"),
    Case(BNTClassifier(**TINY_NET, **TINY_BNT), "fc", "labels"),
    Case(BNTRegressor(**TINY_NET, **TINY_BNT), "fc", "targets"),
    Case(ComBatHarmonizer(), "table"),
    Case(ROITimeSeriesExtractor("atlas.nii.gz"), "images"),
]


def case_ids(cases) -> list[str]:
    """Test ids: the class name, and its position when a class repeats."""
    names = [case.id for case in cases]
    return [
        f"{name}-{i}" if names.count(name) > 1 else name for i, name in enumerate(names)
    ]
