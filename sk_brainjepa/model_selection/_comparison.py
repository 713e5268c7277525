"""The result of :func:`compare_models`: tidy scores, a paired summary, provenance."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sk_brainjepa._utils._io import json_safe
from sk_brainjepa.model_selection._paired import corrected_paired_ttest

__all__ = ["ModelComparison", "paired_summary"]

logger = logging.getLogger(__name__)


def paired_summary(scores: pd.DataFrame, metric: str, reference: str) -> pd.DataFrame:
    """Per model: mean and sd of ``metric``; paired differences against ``reference``.

    Parameters
    ----------
    scores : pandas.DataFrame
        One row per model and repeat (columns ``model``, ``repeat``,
        ``n_train``, ``n_test`` and ``metric``).
    metric : str
    reference : str
        The model the others are compared with, repeat by repeat.

    Returns
    -------
    summary : pandas.DataFrame
        Indexed by model, in the order of ``scores``: ``mean``, ``sd``
        (ddof 1), ``n_repeats``, then ``diff_mean``, ``diff_sd``, ``t``,
        ``p`` (:func:`corrected_paired_ttest`) and ``wins`` (repeats where the
        model scores above the reference; for ``mse``/``mae``, below).
        The reference's own difference columns are NaN.
    """
    lower_is_better = metric in ("mse", "mae")
    order = list(dict.fromkeys(scores["model"]))
    if reference not in order:
        raise ValueError(f"reference {reference!r} is not among the models {order}.")
    table = scores.pivot(index="repeat", columns="model", values=metric)
    ref = table[reference]
    rows = []
    for model in order:
        values = table[model]
        row = {
            "model": model,
            "mean": float(values.mean()),
            "sd": float(values.std(ddof=1)) if values.notna().sum() > 1 else np.nan,
            "n_repeats": int(values.notna().sum()),
        }
        paired = pd.concat([values, ref], axis=1).dropna()
        if model == reference or paired.empty:
            row.update(
                diff_mean=np.nan, diff_sd=np.nan, t=np.nan, p=np.nan, wins=np.nan
            )
        else:
            part = scores[
                (scores["model"] == model) & scores["repeat"].isin(paired.index)
            ]
            diff = paired.iloc[:, 0] - paired.iloc[:, 1]
            test = corrected_paired_ttest(
                diff.to_numpy(), part["n_train"].mean(), part["n_test"].mean()
            )
            wins = (diff < 0) if lower_is_better else (diff > 0)
            row.update(
                diff_mean=test["mean"],
                diff_sd=test["sd"],
                t=test["t"],
                p=test["p"],
                wins=int(wins.sum()),
            )
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")


@dataclass
class ModelComparison:
    """Scores of several models on the same splits, and how they compare.

    Attributes
    ----------
    scores : pandas.DataFrame
        One row per model and repeat: ``model``, ``repeat``, the part sizes,
        ``selected`` (the hyperparameter or stopping epoch chosen on the
        validation part), ``fit_seconds`` and every test score.
    summary : pandas.DataFrame
        :func:`paired_summary` of ``metric`` against ``reference``.
    metric : str
        The score the summary compares (balanced accuracy or Pearson r by
        default).
    reference : str
    info : dict
        Task, sizes, splits, models, harmonisation, software versions and
        machine: what a reader needs to repeat the comparison.

    The figure: :func:`sk_brainjepa.plotting.plot_model_comparison`.
    splits : list of tuple of ndarray
        The ``(train, validation, test)`` sample indices of each repeat
        (not written by ``save``; ``random_state`` redraws them).
    """

    scores: pd.DataFrame
    summary: pd.DataFrame
    metric: str
    reference: str
    info: dict = field(default_factory=dict)
    splits: list = field(default_factory=list, repr=False)

    def __repr__(self) -> str:
        return (
            f"ModelComparison(task={self.info.get('task')!r}, metric={self.metric!r}, "
            f"reference={self.reference!r}, {len(self.summary)} models x "
            f"{self.info.get('n_repeats')} repeats)\n{self.summary_table()}"
        )

    def summary_table(self, digits: int = 3) -> str:
        """The summary as aligned text: one line per model."""
        return self.summary.to_string(float_format=lambda v: f"{v:.{digits}f}")

    def to_markdown(self) -> str:
        """A short Markdown report: how it was run, then the summary table."""
        info = self.info
        lines = [
            f"# Model comparison: {info.get('target', 'y')} ({info.get('task')})",
            "",
            f"- {info.get('n_samples')} samples"
            + (f" of {info['n_groups']} participants" if info.get("n_groups") else "")
            + (f" at {info['n_sites']} sites" if info.get("n_sites") else "")
            + f"; {info.get('n_repeats')} repeats of a "
            f"{'/'.join(str(round(10 * r)) for r in info.get('ratios', ()))} "
            f"train/validation/test split ({info.get('splits', '')}), "
            f"random_state={info.get('random_state')}.",
            f"- Metric: `{self.metric}` on the test part; hyperparameters and "
            "stopping epochs chosen on the validation part only.",
            f"- Paired differences against `{self.reference}` with the "
            "Nadeau-Bengio corrected resampled t-test (training parts overlap).",
        ]
        if info.get("harmonize"):
            lines.append(f"- Harmonisation: {info['harmonize']}.")
        versions = ", ".join(f"{k} {v}" for k, v in info.get("versions", {}).items())
        lines += [f"- Software: {versions}; machine: {info.get('machine', '')}.", ""]
        header = "| model | mean | sd | diff vs ref | t | p | wins | what |"
        lines += [header, "|---|---|---|---|---|---|---|---|"]
        for model, row in self.summary.iterrows():

            def fmt(v, d=3):
                return "" if pd.isna(v) else f"{v:.{d}f}"

            wins = (
                ""
                if pd.isna(row["wins"])
                else f"{int(row['wins'])}/{int(row['n_repeats'])}"
            )
            lines.append(
                f"| {model} | {fmt(row['mean'])} | {fmt(row['sd'])} | "
                f"{fmt(row['diff_mean'], 3)} | {fmt(row['t'], 2)} | {fmt(row['p'], 3)} "
                f"| {wins} | {info.get('descriptions', {}).get(model, '')} |"
            )
        return "\n".join(lines) + "\n"

    def save(self, prefix) -> list[Path]:
        """Write ``{prefix}_scores.csv``, ``{prefix}_summary.csv``, ``{prefix}.json``
        and ``{prefix}.md``.

        The figure is :func:`sk_brainjepa.plotting.plot_model_comparison`
        (``sk-brainjepa compare`` writes it as ``{prefix}.png``).

        Parameters
        ----------
        prefix : str or os.PathLike
            Path stem; its folder is created.

        Returns
        -------
        paths : list of pathlib.Path
            The files written.
        """
        prefix = Path(os.fspath(prefix))
        prefix.parent.mkdir(parents=True, exist_ok=True)
        paths = []

        def target(suffix):
            path = prefix.with_name(prefix.name + suffix)
            paths.append(path)
            return path

        self.scores.to_csv(target("_scores.csv"), index=False)
        self.summary.to_csv(target("_summary.csv"))
        record = {
            "metric": self.metric,
            "reference": self.reference,
            "info": self.info,
            "summary": self.summary.reset_index().to_dict(orient="records"),
            "scores": self.scores.to_dict(orient="records"),
        }
        target(".json").write_text(
            json.dumps(json_safe(record, other=str), indent=2) + "\n"
        )
        target(".md").write_text(self.to_markdown())
        return paths
