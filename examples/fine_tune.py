"""Fine-tune Brain-JEPA with skorch under GridSearchCV, against the FC baselines.

``BrainJEPAClassifier`` starts every clone of the search from the same pretrained
weights (loaded from a checkpoint), holds out a seeded validation part for early
stopping, and applies layer-wise learning-rate decay. The test part of a 6/2/2
split is scored once, after the search.

Run from the repository root:

    python examples/fine_tune.py            # several minutes on a CPU
    python examples/fine_tune.py --quick    # under a minute
"""

import argparse
import logging
import tempfile
from pathlib import Path

import numpy as np
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GridSearchCV

from sk_brainjepa import (
    BrainJEPAClassifier,
    BrainJEPAPretrainer,
    TrainValTestSplit,
    make_brain_dynamics,
    train_val_test_split,
)
from sk_brainjepa.baselines import fc_linear_baseline
from sk_brainjepa.preprocessing import SubjectRobustScaler

log = logging.getLogger("fine_tune")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny data and model")
    parser.add_argument("--label", default="diagnosis")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    n_subjects, epochs, ft_epochs = (40, 1, 2) if args.quick else (200, 20, 40)

    X, pheno = make_brain_dynamics(
        n_subjects=n_subjects, n_rois=20, n_timepoints=160, random_state=0
    )
    X = SubjectRobustScaler().fit_transform(X)  # each subject scaled on its own run
    y = pheno[args.label].to_numpy()
    X_tr, X_va, X_te, y_tr, y_va, y_te = train_val_test_split(X, y, random_state=0)

    checkpoint = Path(tempfile.mkdtemp()) / "brainjepa.pt"
    BrainJEPAPretrainer(
        window_length=160, max_epochs=epochs, batch_size=16, random_state=0
    ).fit(X).save(checkpoint)

    # Search the learning rate and the head's readout (the paper's mean of tokens,
    # or the correlation between ROIs of their token trajectories) on the
    # validation part; skorch parameters route through set_params like any
    # estimator's. BatchNorm before the head standardises each feature over the
    # batch (the official linear-probing head).
    search = GridSearchCV(
        BrainJEPAClassifier(
            checkpoint,
            max_epochs=ft_epochs,
            patience=10,
            module__head_norm="batchnorm",
            random_state=0,
        ),
        {"lr": [1e-4, 1e-3], "module__readout": ["mean", "connectivity"]},
        cv=[(range(len(X_tr)), range(len(X_tr), len(X_tr) + len(X_va)))],
        scoring="balanced_accuracy",
    )
    search.fit(np.concatenate([X_tr, X_va]), np.concatenate([y_tr, y_va]))
    log.info(
        "best parameters %s (validation balanced accuracy %.3f)",
        search.best_params_,
        search.best_score_,
    )
    log.info(
        "Brain-JEPA fine-tuned: test balanced accuracy %.3f",
        balanced_accuracy_score(y_te, search.predict(X_te)),
    )

    baseline = fc_linear_baseline().fit(
        np.concatenate([X_tr, X_va]), np.concatenate([y_tr, y_va])
    )
    log.info(
        "FC + logistic regression: test balanced accuracy %.3f",
        balanced_accuracy_score(y_te, baseline.predict(X_te)),
    )
    log.info(
        "(cross-validated repeats of this comparison: benchmarks/compare_models.py; "
        "splits: %r)",
        TrainValTestSplit(5, random_state=0),
    )


if __name__ == "__main__":
    main()
