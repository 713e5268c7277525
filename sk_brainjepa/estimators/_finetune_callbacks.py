"""What the fine-tuners add to skorch's loop: schedule, probe head, diagnostics.

- :class:`WarmupCosineLR`: linear warm-up, then the per-epoch cosine decay the
  fine-tuners have always used (bit for bit the same without warm-up).
- :func:`fit_probe_head`: LP-FT's first stage, a linear probe fitted on the
  frozen features of the training part and copied into the head.
- :class:`FineTuneDiagnostics`: per-epoch measures of how far fine-tuning moves
  the encoder and its features, for diagnosing fine-tuning that forgets or
  fails to use the pretrained weights.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.base import is_classifier
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from skorch.callbacks import Callback
from skorch.utils import to_tensor

# Regularisation grids of the probe's internal cross-validation. The features
# are normalised by fc_norm (unit scale), so one grid serves every readout.
PROBE_CS = np.logspace(-3, 3, 7)
PROBE_ALPHAS = np.logspace(-3, 3, 7)
# Folds of the probe's internal cross-validation (fewer when a class is rarer).
PROBE_FOLDS = 5
# lbfgs needs more than scikit-learn's default 100 iterations at the large Cs.
PROBE_MAX_ITER = 2000

# One key per use of randomness derived from the net's "init" seed.
_PURPOSES = {"reinit": 1, "probe": 2, "diagnostics": 3}


def purpose_seed(seed: int, purpose: str) -> int:
    """An independent 63-bit seed for one ``purpose``, derived from ``seed``.

    Parameters
    ----------
    seed : int
        A seed the net drew from its ``random_state``.
    purpose : {"reinit", "probe", "diagnostics"}

    Returns
    -------
    seed : int
    """
    sequence = np.random.SeedSequence(seed, spawn_key=(_PURPOSES[purpose],))
    return int(sequence.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


# ------------------------------------------------------------------ schedule


def cosine_annealing_lr(
    base_lr: float, min_lr: float, n_epochs: int, epoch: int
) -> float:
    """Learning rate of ``epoch`` under a per-epoch cosine decay to ``min_lr``.

    ``min_lr + (base_lr - min_lr) * (1 + cos(pi * epoch / n_epochs)) / 2``,
    evaluated with the recurrence of ``torch.optim.lr_scheduler.
    CosineAnnealingLR`` stepped once per epoch from epoch 0, which is what the
    fine-tuners used before :class:`WarmupCosineLR`: the values are identical
    to its, not merely equal up to rounding.

    Parameters
    ----------
    base_lr : float
    min_lr : float
    n_epochs : int
        Half period (``T_max``); 0 or less keeps ``base_lr``.
    epoch : int
        0-based.

    Returns
    -------
    lr : float

    Examples
    --------
    >>> cosine_annealing_lr(1e-3, 0.0, 10, 5)
    0.0005...
    """
    if n_epochs <= 0:
        return base_lr
    lr = base_lr
    for e in range(1, epoch + 1):
        if (e - 1 - n_epochs) % (2 * n_epochs) == 0:
            lr = lr + (base_lr - min_lr) * (1 - math.cos(math.pi / n_epochs)) / 2
        else:
            lr = (1 + math.cos(math.pi * e / n_epochs)) / (
                1 + math.cos(math.pi * (e - 1) / n_epochs)
            ) * (lr - min_lr) + min_lr
    return lr


def warmup_factor(
    epoch: int, batch: int, n_batches: int, warmup_epochs: float
) -> float:
    """Linear warm-up factor in (0, 1] of one training batch.

    The factor is the position reached at the end of the batch, in epochs,
    over ``warmup_epochs``: the first batch trains at a small but non-zero
    rate and the batch that ends the warm-up at the full one.

    Parameters
    ----------
    epoch : int
        0-based epoch.
    batch : int
        0-based batch within the epoch.
    n_batches : int
        Training batches per epoch.
    warmup_epochs : float
        0 disables the warm-up (factor 1).

    Returns
    -------
    factor : float

    Examples
    --------
    >>> warmup_factor(0, 0, 4, 2.0), warmup_factor(1, 3, 4, 2.0)
    (0.125, 1.0)
    """
    if warmup_epochs <= 0:
        return 1.0
    position = epoch + (batch + 1) / max(n_batches, 1)
    return min(1.0, position / warmup_epochs)


class WarmupCosineLR(Callback):
    """Linear warm-up over ``warmup_epochs``, times a per-epoch cosine decay.

    Each parameter group's rate for a training batch of epoch ``e`` is
    ``warmup_factor(...) * cosine_annealing_lr(initial_lr, min_lr, n_epochs,
    e)``. The warm-up factor is the same for every group, so the ratios of
    layer-wise learning-rate decay hold throughout the warm-up; after it, the
    rates are those of ``CosineAnnealingLR(T_max=n_epochs, eta_min=min_lr)``
    stepped per epoch. Rates are set at the start of every training batch.

    Parameters
    ----------
    n_epochs : int
        Length of the cosine half period (the fine-tuners' ``max_epochs``).
    min_lr : float, default=0.0
        End of the cosine decay.
    warmup_epochs : float, default=0.0
        Length of the warm-up in epochs (fractions allowed: the ramp advances
        per batch); 0 gives exactly the cosine rates.
    event_name : str or None, default="event_lr"
        History key recording, per epoch, the first parameter group's rate at
        the epoch's last batch (as skorch's ``LRScheduler`` does); None
        records nothing.

    Attributes
    ----------
    base_lrs_ : list of float
        Each group's ``initial_lr`` (its rate when training began).
    """

    def __init__(
        self, n_epochs, *, min_lr=0.0, warmup_epochs=0.0, event_name="event_lr"
    ):
        self.n_epochs = n_epochs
        self.min_lr = min_lr
        self.warmup_epochs = warmup_epochs
        self.event_name = event_name

    def initialize(self):
        self.base_lrs_ = None
        self.epoch_lrs_ = None
        self.epoch_ = self.batch_ = 0
        self.n_batches_ = 1
        return self

    def on_train_begin(self, net, **kwargs):
        # "initial_lr" is where torch's schedulers keep a group's base rate; a
        # continued fit (partial_fit) finds it there and keeps the schedule.
        self.base_lrs_ = [
            group.setdefault("initial_lr", group["lr"])
            for group in net.optimizer_.param_groups
        ]

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        self.epoch_ = len(net.history) - 1
        self.batch_ = 0
        self.epoch_lrs_ = [
            cosine_annealing_lr(base, self.min_lr, self.n_epochs, self.epoch_)
            for base in self.base_lrs_
        ]
        if self.warmup_epochs > 0 and self.epoch_ < self.warmup_epochs:
            self.n_batches_ = len(net.get_iterator(dataset_train, training=True))

    def on_batch_begin(self, net, training=False, **kwargs):
        if not training:
            return
        factor = warmup_factor(
            self.epoch_, self.batch_, self.n_batches_, self.warmup_epochs
        )
        for group, lr in zip(net.optimizer_.param_groups, self.epoch_lrs_, strict=True):
            group["lr"] = lr * factor

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            self.batch_ += 1

    def on_epoch_end(self, net, **kwargs):
        if self.event_name is not None:
            net.history.record(self.event_name, net.optimizer_.param_groups[0]["lr"])


# ------------------------------------------------------------- probe head


def readout_features(net, dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """The module's readout features of ``dataset``, in eval mode, no gradients.

    Parameters
    ----------
    net : BrainJEPAClassifier or BrainJEPARegressor
        Initialised; its ``module_`` has a ``features`` method.
    dataset : torch Dataset
        Yields ``(X, y)`` pairs, as skorch's training part does.

    Returns
    -------
    features : Tensor of shape (n_samples, n_features)
        On the CPU.
    y : Tensor of shape (n_samples,) or (n_samples, n_targets)
        The dataset's targets (encoded class indices, or standardised values).
    """
    module = net.module_
    was_training = module.training
    module.eval()
    features, targets = [], []
    try:
        with torch.no_grad():
            for Xi, yi in net.get_iterator(dataset, training=False):
                xs = to_tensor(Xi, device=net.device)
                features.append(module.features(xs).cpu())
                targets.append(torch.as_tensor(yi).cpu())
    finally:
        module.train(was_training)
    return torch.cat(features), torch.cat(targets)


def fit_linear_probe(features, y, *, classification: bool, random_state: int):
    """An L2-regularised linear model, its strength chosen by internal CV.

    Parameters
    ----------
    features : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,) or (n_samples, n_targets)
        Class indices, or real targets.
    classification : bool
        Logistic regression (multinomial), its ``C`` chosen from
        ``PROBE_CS`` by stratified k-fold log-loss (k = 5, or the size of the
        rarest class if smaller; a fixed ``C=1`` when that is 1); else ridge
        regression, its ``alpha`` chosen from ``PROBE_ALPHAS`` by efficient
        leave-one-out.
    random_state : int
        Seeds the folds' shuffling.

    Returns
    -------
    probe : LogisticRegression or RidgeCV
        Fitted on all of ``features``.
    """
    if not classification:
        return RidgeCV(alphas=PROBE_ALPHAS).fit(features, y)
    counts = np.bincount(y)
    n_splits = min(PROBE_FOLDS, int(counts[counts > 0].min()))
    model = LogisticRegression(max_iter=PROBE_MAX_ITER)
    if n_splits < 2:
        return model.fit(features, y)
    folds = StratifiedKFold(n_splits, shuffle=True, random_state=random_state % 2**32)
    search = GridSearchCV(model, {"C": PROBE_CS}, cv=folds, scoring="neg_log_loss")
    return search.fit(features, y).best_estimator_


def probe_head_parameters(probe, n_outputs: int) -> tuple[np.ndarray, np.ndarray]:
    """Weight and bias of a linear head that computes what ``probe`` does.

    A binary logistic regression has one weight row ``w`` for the log-odds;
    the two-logit head gets ``-w / 2`` and ``w / 2``, whose softmax is the
    probe's probability. A class absent from the probe's data gets a zero row:
    a neutral logit that fine-tuning starts from.

    Parameters
    ----------
    probe : fitted LogisticRegression, Ridge or RidgeCV
    n_outputs : int
        Outputs of the head.

    Returns
    -------
    weight : ndarray of shape (n_outputs, n_features)
    bias : ndarray of shape (n_outputs,)
    """
    coef = np.atleast_2d(probe.coef_)
    intercept = np.atleast_1d(probe.intercept_)
    if not hasattr(probe, "classes_"):
        if coef.shape[0] != n_outputs:
            raise ValueError(
                f"The probe has {coef.shape[0]} outputs; the head has {n_outputs}."
            )
        return coef, intercept
    classes = probe.classes_.astype(int)
    weight = np.zeros((n_outputs, coef.shape[1]))
    bias = np.zeros(n_outputs)
    if coef.shape[0] == 1:
        weight[classes] = np.stack([-coef[0], coef[0]]) / 2
        bias[classes] = np.array([-intercept[0], intercept[0]]) / 2
    else:
        weight[classes], bias[classes] = coef, intercept
    return weight, bias


def fit_probe_head(net, dataset, random_state: int):
    """LP-FT's linear probe: fit the head on the frozen features of ``dataset``.

    The features are the module's readout of ``dataset`` in eval mode; a
    BatchNorm ``fc_norm`` first gets the running statistics of these
    features, so the probe is fitted on what the head sees in eval mode. The
    probe's weights are then copied into ``module_.head``; the encoder is not
    changed.

    Parameters
    ----------
    net : BrainJEPAClassifier or BrainJEPARegressor
        Initialised.
    dataset : torch Dataset
        The training part (never the validation part).
    random_state : int
        Seeds the probe's internal cross-validation.

    Returns
    -------
    probe : LogisticRegression or RidgeCV
        The fitted probe.
    """
    module = net.module_
    features, y = readout_features(net, dataset)
    module.calibrate_fc_norm(features)
    norm = module.fc_norm
    was_training = norm.training
    norm.eval()
    with torch.no_grad():
        normed = norm(features.to(module.head.weight)).cpu().numpy()
    norm.train(was_training)
    probe = fit_linear_probe(
        normed.astype(np.float64),
        y.numpy(),
        classification=is_classifier(net),
        random_state=random_state,
    )
    weight, bias = probe_head_parameters(probe, module.head.out_features)
    with torch.no_grad():
        module.head.weight.copy_(torch.as_tensor(weight))
        module.head.bias.copy_(torch.as_tensor(bias))
    return probe


# ------------------------------------------------------------- diagnostics


def _global_norm(tensors) -> torch.Tensor:
    """L2 norm of all ``tensors`` together (a 0-d float32 tensor).

    ``tensors`` may be a generator: one tensor at a time is alive.
    """
    squares = [torch.linalg.vector_norm(t.detach().float()) ** 2 for t in tensors]
    return torch.stack(squares).sum().sqrt()


class FineTuneDiagnostics(Callback):
    """Record per epoch how far fine-tuning has moved the encoder and features.

    At the first epoch of every ``fit`` / ``partial_fit`` the callback keeps a
    copy of the encoder's parameters and the readout features of a fixed,
    seeded subset of up to ``n_windows`` training windows; at the end of each
    epoch it records in ``history_``:

    - ``encoder_shift``: ``||theta - theta_0|| / ||theta_0||`` over all encoder
      parameters (0 for a frozen encoder);
    - ``feature_shift``: 1 minus the mean cosine similarity between the
      subset's readout features now and at the start (computed in eval mode,
      without gradients): the feature distortion of Kumar et al. (2022);
    - ``head_norm``: Frobenius norm of the head's weight;
    - ``grad_norm``: global L2 norm of the gradients of all trained
      parameters, averaged over the epoch's training batches.

    Its cost per epoch is one forward pass over the subset and a few norms;
    the copy of the encoder's parameters doubles their memory during
    training and is dropped when training ends.

    Parameters
    ----------
    n_windows : int, default=64
        Size of the subset of training windows for ``feature_shift``.

    References
    ----------
    Kumar, Raghunathan, Jones, Ma and Liang, "Fine-Tuning can Distort
    Pretrained Features and Underperform Out-of-Distribution", ICLR 2022,
    arXiv:2202.10054.
    """

    def __init__(self, n_windows=64):
        self.n_windows = n_windows

    def initialize(self):
        self._reset()
        return self

    def _reset(self):
        self.reference_params_ = None
        self.reference_features_ = None
        self.subset_ = None
        self.grad_norms_ = []

    def on_train_begin(self, net, **kwargs):
        self._reset()

    def on_train_end(self, net, **kwargs):
        # Keep fitted nets small: the copies only serve during training.
        self._reset()

    def _subset(self, net, dataset):
        n = len(dataset)
        seeds = getattr(net, "seeds_", None)
        seed = purpose_seed(seeds["init"], "diagnostics") if seeds else 0
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        indices = order[: self.n_windows].sort().values.tolist()
        return torch.utils.data.Subset(dataset, indices)

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        self.grad_norms_ = []
        if self.reference_params_ is not None:
            return
        encoder = net.module_.encoder
        self.reference_params_ = [p.detach().clone() for p in encoder.parameters()]
        self.subset_ = self._subset(net, dataset_train)
        self.reference_features_ = readout_features(net, self.subset_)[0]

    def on_grad_computed(self, net, named_parameters, training=False, **kwargs):
        grads = [p.grad for _, p in named_parameters if p.grad is not None]
        if training and grads:
            # Kept as tensors: no device synchronisation per batch.
            self.grad_norms_.append(_global_norm(grads))

    def on_epoch_end(self, net, **kwargs):
        net.history.record("encoder_shift", self._encoder_shift(net))
        net.history.record("feature_shift", self._feature_shift(net))
        net.history.record(
            "head_norm",
            float(torch.linalg.matrix_norm(net.module_.head.weight.detach())),
        )
        grad_norm = (
            float(torch.stack(self.grad_norms_).mean())
            if self.grad_norms_
            else float("nan")
        )
        net.history.record("grad_norm", grad_norm)

    def _encoder_shift(self, net) -> float:
        params = list(net.module_.encoder.parameters())
        with torch.no_grad():
            moved = _global_norm(
                p - p0 for p, p0 in zip(params, self.reference_params_, strict=True)
            )
            start = _global_norm(self.reference_params_)
        return float(moved / start.clamp_min(torch.finfo(start.dtype).tiny))

    def _feature_shift(self, net) -> float:
        now = readout_features(net, self.subset_)[0]
        similarity = torch.nn.functional.cosine_similarity(
            now.double(), self.reference_features_.double(), dim=1
        )
        # A cosine above 1 is rounding; the shift is never negative.
        return max(0.0, float(1.0 - similarity.mean()))
