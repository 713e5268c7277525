"""Linear probing of Brain-JEPA features, two ways.

1. One call: ``linear_probe`` embeds once, then runs repeated 6/2/2 splits,
   choosing the regularisation on each validation part and scoring the test part;
   on the paper's mean readout and on the connectivity readout (the correlation
   between ROIs of their token trajectories), since the simulated phenotypes
   live in connectivity.
2. The same protocol written as a plain scikit-learn ``Pipeline`` of
   ``BrainJEPAEmbedder`` and ``LogisticRegression`` under ``GridSearchCV``,
   with the ``cv`` of each repeat built from ``TrainValTestSplit``.

Run from the repository root:

    python examples/linear_probe.py            # a few minutes on a CPU
    python examples/linear_probe.py --quick    # seconds (3 repeats, not 5)
"""

import argparse
import logging
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sk_brainjepa import (
    BrainJEPAEmbedder,
    BrainJEPAPretrainer,
    TrainValTestSplit,
    linear_probe,
    make_brain_dynamics,
)
from sk_brainjepa.preprocessing import SubjectRobustScaler

log = logging.getLogger("linear_probe")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny data and model")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    n_subjects, epochs, n_repeats = (40, 1, 3) if args.quick else (200, 20, 5)

    X, pheno = make_brain_dynamics(
        n_subjects=n_subjects, n_rois=20, n_timepoints=160, random_state=0
    )
    # Robust scaling of each subject on its own run: the simulator, like raw BOLD,
    # gives each subject ROI offsets far larger than its fluctuations.
    X = SubjectRobustScaler().fit_transform(X)
    pretrainer = BrainJEPAPretrainer(
        window_length=160, max_epochs=epochs, batch_size=16, random_state=0
    ).fit(X)
    checkpoint = Path(tempfile.mkdtemp()) / "brainjepa.pt"
    pretrainer.save(checkpoint)

    # 1. One call per phenotype and readout.
    for readout in ("mean", "connectivity"):
        for column in ("sex", "diagnosis", "age"):
            table = linear_probe(
                checkpoint,
                X,
                pheno[column],
                readout=readout,
                n_repeats=n_repeats,
                random_state=0,
            )
            log.info(
                "\n%s (%s), readout %s, %d repeats of 6/2/2:\n%s",
                column,
                table.attrs["task"],
                readout,
                n_repeats,
                table.round(3).to_string(),
            )

    # 2. The same protocol as a Pipeline under GridSearchCV. Each repeat searches on
    #    its own train/validation rows only, so its test rows never touch selection.
    pipe = Pipeline(
        [
            ("embed", BrainJEPAEmbedder(checkpoint=checkpoint, readout="connectivity")),
            ("scale", StandardScaler()),
            ("clf", LogisticRegression(max_iter=5000)),
        ]
    )
    y = pheno["sex"].to_numpy()
    rows = []
    splitter = TrainValTestSplit(n_repeats, random_state=0)
    for train, val, test in splitter.split_with_test(X, y):
        search_rows = np.concatenate([train, val])
        cv = [(np.arange(len(train)), len(train) + np.arange(len(val)))]
        search = GridSearchCV(
            pipe, {"clf__C": [0.01, 0.1, 1.0, 10.0]}, cv=cv, scoring="balanced_accuracy"
        )
        search.fit(X[search_rows], y[search_rows])
        rows.append(
            {
                "C": search.best_params_["clf__C"],
                "test_accuracy": search.score(X[test], y[test]),
            }
        )
    frame = pd.DataFrame(rows)
    log.info(
        "\nPipeline + GridSearchCV (sex, connectivity readout): test balanced "
        "accuracy %.3f +- %.3f\n%s",
        frame["test_accuracy"].mean(),
        frame["test_accuracy"].std(),
        frame.round(3).to_string(),
    )


if __name__ == "__main__":
    main()
