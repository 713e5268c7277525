"""Upload a pretrained folder to the Hugging Face Hub (optional ``hub`` extra).

Above :mod:`~sk_brainjepa.estimators._pretrained`, which finds Hub folders
through :mod:`~sk_brainjepa.estimators._hub`: uploading writes a folder with
``save_pretrained`` first.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from sk_brainjepa.estimators._hub import _hub, looks_like_repo_id
from sk_brainjepa.estimators._pretrained import save_pretrained
from sk_brainjepa.estimators._pretrained_format import read_folder

__all__ = ["push_to_hub"]

logger = logging.getLogger(__name__)


def push_to_hub(
    model,
    repo_id,
    *,
    private=None,
    token=None,
    revision=None,
    commit_message=None,
    **save_options,
):
    """Upload a model to the Hugging Face Hub as a pretrained folder.

    Parameters
    ----------
    model : BrainJEPAPretrainer, Pipeline, str or os.PathLike
        A fitted pretrainer or ``Pipeline`` (written with
        :func:`save_pretrained` into a temporary folder first), or a folder
        already written by ``save_pretrained``.
    repo_id : str
        ``"org/name"``; the model repo is created when it does not exist.
    private : bool or None, default=None
        Visibility of a repo that is created.
    token : str or None, default=None
        Hub token (default: the one ``huggingface_hub`` finds).
    revision : str or None, default=None
        Branch to commit to.
    commit_message : str or None, default=None
    **save_options
        ``preprocessing``, ``tr``, ``atlas``, ``roi_names``, ``description``:
        passed to :func:`save_pretrained`.

    Returns
    -------
    commit : huggingface_hub.CommitInfo
        What ``HfApi.upload_folder`` returns.

    Raises
    ------
    ImportError
        Naming the ``hub`` extra when ``huggingface_hub`` is missing.
    """
    hub = _hub()
    if not looks_like_repo_id(repo_id):
        raise ValueError(f"repo_id must look like 'org/name'; got {repo_id!r}.")
    api = hub.HfApi(token=token)
    message = commit_message or "Upload Brain-JEPA model (sk_brainjepa save_pretrained)"
    with tempfile.TemporaryDirectory(prefix="sk_brainjepa-hub-") as tmp:
        if isinstance(model, (str, os.PathLike)):
            if save_options:
                raise ValueError(
                    f"{sorted(save_options)} apply when a model is saved; {model} is "
                    "a folder that was saved already."
                )
            folder = Path(model)
            read_folder(folder)  # refuse anything but a complete, readable folder
        else:
            folder = save_pretrained(model, Path(tmp) / "model", **save_options)
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        logger.info("uploading %s to the Hugging Face Hub repo %s", folder, repo_id)
        return api.upload_folder(
            repo_id=repo_id,
            folder_path=str(folder),
            repo_type="model",
            revision=revision,
            commit_message=message,
        )
