"""The figure of :func:`~sk_brainjepa.model_selection.compare_models`."""

from __future__ import annotations

import logging

import numpy as np

from sk_brainjepa.plotting._common import check_axes, import_pyplot

logger = logging.getLogger(__name__)


def plot_model_comparison(comparison, metric=None, ax=None):
    """Each model's test score per repeat, joined across models, with mean ± sd.

    Repeats share their splits, so a line joins the scores of one repeat
    across models: a model that wins on every split shows as lines that all
    rise, which means and error bars alone do not show. The reference model
    is drawn first and marked.

    Parameters
    ----------
    comparison : ModelComparison
        What :func:`~sk_brainjepa.model_selection.compare_models` returned.
    metric : str or None, default=None
        Score column; None uses the comparison's ``metric``.
    ax : matplotlib Axes or None, default=None

    Returns
    -------
    ax : matplotlib Axes
    """
    from sk_brainjepa.model_selection import ModelComparison

    if not isinstance(comparison, ModelComparison):
        raise TypeError(
            "comparison must be the ModelComparison that compare_models returned; "
            f"got {type(comparison).__name__}."
        )
    metric = metric or comparison.metric
    scores = comparison.scores
    if metric not in scores.columns:
        raise ValueError(f"metric {metric!r} is not a score column of the comparison.")
    check_axes(ax)
    plt = import_pyplot()
    models = list(comparison.summary.index)
    if comparison.reference in models:
        models.remove(comparison.reference)
        models.insert(0, comparison.reference)
    if ax is None:
        _, ax = plt.subplots(
            figsize=(1.1 * len(models) + 2.0, 3.8), layout="constrained"
        )
    table = scores.pivot(index="repeat", columns="model", values=metric)[models]
    positions = np.arange(len(models))
    for _, row in table.iterrows():
        ax.plot(positions, row.to_numpy(dtype=float), color="0.75", lw=0.8, zorder=1)
    means, sds = table.mean(), table.std(ddof=1)
    colors = ["0.3"] + [f"C{i}" for i in range(len(models) - 1)]
    ax.scatter(
        np.repeat(positions[None], len(table), 0).ravel(),
        table.to_numpy(dtype=float).ravel(),
        s=12,
        color="0.5",
        zorder=2,
    )
    for position, mean, sd, color in zip(positions, means, sds, colors, strict=True):
        ax.errorbar(
            position, mean, yerr=sd, fmt="none", ecolor=color, capsize=4, lw=2, zorder=3
        )
    ax.scatter(positions, means, s=60, marker="D", c=colors, zorder=4)
    task = comparison.info.get("task")
    n_classes = len(comparison.info.get("classes") or [])
    if (
        task == "classification"
        and metric in ("balanced_accuracy", "roc_auc")
        and n_classes
    ):
        chance = 0.5 if metric == "roc_auc" else 1.0 / n_classes
        ax.axhline(chance, color="grey", ls="--", lw=1, label="chance")
        ax.legend(fontsize="small", loc="best")
    labels = [f"{m}\n(reference)" if m == comparison.reference else m for m in models]
    ax.set_xticks(positions)
    ax.set_xticklabels(labels, rotation=30, ha="right")
    ax.set_ylabel(f"test {metric} (per repeat; mean ± sd)")
    target = comparison.info.get("target") or "y"
    ax.set_title(f"{target}: {len(table)} repeats, same splits for every model")
    return ax


def save_model_comparison_figure(comparison, path, metric=None) -> bool:
    """Draw :func:`plot_model_comparison` into an image file.

    Parameters
    ----------
    comparison : ModelComparison
    path : str or os.PathLike
        Image file (its suffix picks the format, e.g. ``.png``).
    metric : str or None, default=None

    Returns
    -------
    written : bool
        False, with a logged warning, when matplotlib is not installed.
    """
    try:
        plt = import_pyplot()
    except ImportError as exc:
        logger.warning("no figure written: %s", exc)
        return False
    ax = plot_model_comparison(comparison, metric=metric)
    try:
        ax.figure.savefig(path, dpi=120, bbox_inches="tight")
    finally:
        plt.close(ax.figure)
    return True
