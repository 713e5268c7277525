"""The ``README.md`` model card of a pretrained folder, made from its config.

Everything the card says comes from ``config.json`` (so it cannot disagree
with what loading uses): the data the model saw, the architecture, the
recipe and training length, the last epoch's loss and collapse diagnostics,
the preprocessing, how to load it, and what it may be used for.
"""

from __future__ import annotations

import math

from sk_brainjepa.estimators._preprocessing_record import describe
from sk_brainjepa.estimators._pretraining_checks import collapse_message

__all__ = ["render_card"]

# The diagnostics of one history record the card reports, with what each means.
_DIAGNOSTICS = (
    ("loss", "total loss (weighted sum of the terms)"),
    ("prediction_loss", "JEPA prediction loss"),
    ("spread", "spread of the normalised target features across tokens"),
    ("sample_spread", "spread across the samples of a batch"),
    ("online_sample_spread", "between-subject spread, online encoder"),
    ("target_sample_spread", "between-subject spread, target encoder"),
    ("position_share", "share of target-feature energy explained by token position"),
    ("rankme", "effective rank of the mean features over subjects (RankMe)"),
    ("monitor_score", "online probe score"),
)


def _number(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _or(value, missing: str = "not recorded") -> str:
    return missing if value is None else str(value)


def _front_matter(config: dict) -> list[str]:
    # Hugging Face reads this block; "other" because the saver states no licence.
    return [
        "---",
        "library_name: sk_brainjepa",
        "license: other",
        "tags:",
        "- fmri",
        "- brain-jepa",
        "- self-supervised-learning",
        "- neuroscience",
        "---",
        "",
    ]


def _data_section(config: dict) -> list[str]:
    training = config.get("training") or {}
    tr = config.get("tr")
    names = config.get("roi_names")
    window = (
        f"{config['n_timepoints']} frames ({config['n_time_patches']} time patches "
        f"of {config['patch_size']})"
    )
    return [
        "## Data",
        "",
        "| | |",
        "|---|---|",
        f"| subjects | {_or(training.get('n_subjects'))} |",
        f"| ROIs | {config['n_rois']} |",
        f"| atlas | {_or(config.get('atlas'))} |",
        f"| ROI names | {'in config.json (roi_names)' if names else 'not recorded'} |",
        f"| window | {window} |",
        f"| TR of the frames the model sees | {_or(tr and f'{tr:g} s')} |",
        "",
    ]


def _model_section(config: dict) -> list[str]:
    enc = config["encoder_config"]
    pred = config.get("predictor_config")
    lines = [
        "## Model",
        "",
        f"- Encoder: ViT, width {enc['embed_dim']}, depth {enc['depth']}, "
        f"{enc['n_heads']} heads, patches of {enc['patch_size']} frames, ROI "
        f"positions from {enc['gradient_dim']} gradients ({enc['roi_embedding']}).",
    ]
    if pred:
        lines.append(
            f"- Predictor: width {pred['embed_dim']}, depth {pred['depth']}, "
            f"{pred['n_heads']} heads."
        )
    lines += [
        f"- Modules in `model.safetensors`: {', '.join(config.get('modules', []))}.",
        f"- Written by sk_brainjepa {config['software']['version']} "
        f"({config['source']}).",
        "",
    ]
    return lines


def _training_section(config: dict) -> list[str]:
    training = config.get("training") or {}
    params = config.get("params") or {}
    lines = ["## Training", ""]
    if config.get("source") == "convert_official_checkpoint":
        return lines + [config.get("training_note", ""), ""]
    objective = config.get("objective") or {}
    lines += [
        f"- Recipe: `{config.get('recipe')}` (loss {objective.get('loss')}, masking "
        f"{objective.get('masking')}, VICReg weight "
        f"{objective.get('vicreg_weight')}).",
        f"- Epochs: {training.get('epochs')} of batch {params.get('batch_size')}, "
        f"peak lr {params.get('lr')}, model preset `{params.get('model')}`.",
    ]
    last = training.get("final")
    if not last:
        return lines + ["- Not trained (max_epochs=0): the initial weights.", ""]
    lines += [
        "",
        "Last epoch (the pretrainer's `history_[-1]`; the whole history is in "
        "`config.json`):",
        "",
        "| diagnostic | value |",
        "|---|---|",
    ]
    lines += [
        f"| {key}: {meaning} | {_number(last[key])} |"
        for key, meaning in _DIAGNOSTICS
        if key in last
    ]
    offset = config.get("input_offset_ratio")
    threshold = config.get("collapse_threshold", 0.05)
    verdict = None
    if "spread" in last and "sample_spread" in last:
        record = {k: float("nan") if v is None else v for k, v in last.items()}
        verdict = collapse_message(
            record, float("nan") if offset is None else offset, threshold
        )
    lines += [
        "",
        "Collapse check (the pretrainer's `RepresentationCollapseWarning`, "
        f"collapse_threshold={threshold}): "
        + (verdict if verdict else "no collapse detected at the last epoch."),
        "",
    ]
    return lines


def _preprocessing_section(config: dict) -> list[str]:
    record = config.get("preprocessing")
    lines = [
        "## Preprocessing",
        "",
        f"Recorded: {describe(record)}.",
    ]
    if record:
        lines.append(
            "`BrainJEPAEmbedder(checkpoint=folder)` applies it to raw input by "
            "default (`preprocessing=None` skips it for input scaled already)."
        )
    else:
        lines.append("Scale the input as the model was trained before embedding.")
    if config.get("preprocessing_note"):
        lines += ["", config["preprocessing_note"]]
    return lines + [""]


def _usage_section(config: dict) -> list[str]:
    tr = config.get("tr")
    tr_arg = ", tr=YOUR_TR" if tr else ""
    return [
        "## How to load",
        "",
        "```python",
        "from sk_brainjepa import BrainJEPAEmbedder",
        "from sk_brainjepa.estimators import load_pretrained",
        f'embedder = BrainJEPAEmbedder(checkpoint="path/to/this/folder"{tr_arg})',
        f"features = embedder.fit_transform(X)  # X: (n_subjects, {config['n_rois']}, "
        f">= {config['n_timepoints']}) raw series",
        'model = load_pretrained("path/to/this/folder")  # .pretrainer, .pipeline',
        "```",
        "",
        'A Hugging Face Hub repo id (`"org/name"`) works in place of the path with '
        '`pip install "sk_brainjepa[hub]"`. Data with another ROI count is refused, '
        "and so is data whose TR (when given) is more than 5 % from the model's.",
        "",
    ]


def _files_section() -> list[str]:
    return [
        "## Files",
        "",
        "- `model.safetensors`: the weights (`<module>.<key>`) and the gradient "
        "matrix (`positions.gradients`).",
        "- `config.json`: format, configs, TR, atlas, ROI names, parameters, history.",
        "- `gradients.csv`: ROI positions, one header-less row per ROI (the "
        "official `gradient_mapping_450.csv` layout).",
        "- `preprocessing.safetensors`: fitted scaling statistics, when there are any.",
        "",
    ]


def _use_section(config: dict) -> list[str]:
    if config.get("source") == "convert_official_checkpoint":
        licence = (
            "The official Brain-JEPA repository has no LICENSE file (official issue "
            "#18): the terms of these weights are unclear. Check with the authors "
            "before redistributing them; do not push this folder to a public hub."
        )
    else:
        licence = (
            "No licence was stated when this model was saved; the terms of the "
            "data it was trained on apply to it."
        )
    return [
        "## Intended use and limitations",
        "",
        "Research on resting-state fMRI representations (feature extraction, "
        "probing, fine-tuning). Not for clinical decisions. Features are only "
        "meaningful for data preprocessed like the training data: the same atlas "
        "and ROI order, a similar TR, the recorded scaling.",
        "",
        licence,
        "",
    ]


def render_card(config: dict) -> str:
    """The model card (Markdown, with Hugging Face front matter) of a folder.

    Parameters
    ----------
    config : dict
        What the folder's ``config.json`` holds.

    Returns
    -------
    card : str
    """
    title = config.get("title") or "Brain-JEPA model"
    lines = _front_matter(config) + [f"# {title}", ""]
    if config.get("description"):
        lines += [str(config["description"]), ""]
    lines += _data_section(config)
    lines += _model_section(config)
    lines += _training_section(config)
    lines += _preprocessing_section(config)
    lines += _usage_section(config)
    lines += _files_section()
    lines += _use_section(config)
    return "\n".join(lines)
