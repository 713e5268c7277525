"""The library's messages, reworded with the command line's options."""

import pytest

from sk_brainjepa.cli._wording import as_options

OPTIONS = {
    "npz_key": "--npz-key",
    "header": "--header",
    "index_col": "--index-col",
    "layout": "--layout",
    "confounds": "--confounds",
    "sites": "--sites",
    "lr": "--lr",
    "final_lr": "--final-lr",
    "batch_size": "--batch-size",
}


@pytest.mark.parametrize(
    "message, expected",
    [
        ("pass npz_key to say which", "pass --npz-key to say which"),
        ("no array named npz_key='bold'; it", "no array named --npz-key bold; it"),
        ("pass header=True; or index_col.", "pass --header yes; or index_col."),
        ("or pass index_col.", "or pass --index-col."),
        ("pass index_col=None to keep it", "pass --index-col none to keep it"),
        ("(layout='rois_x_time'). Check", "(--layout rois_x_time). Check"),
        ("Set confounds_strategy=None to extract", "Set --confounds none to extract"),
        ("(strategy=('compcor',)):", "(--confounds compcor):"),
        ("needs sites= (the site of each", "needs --sites (the site of each"),
        ("saved: lr=0.5, final_lr=1e-06)", "saved: --lr 0.5, --final-lr 1e-06)"),
        ("The 'batch_size' parameter of BrainJEPAEmbedder must be an int",
         "--batch-size must be an int"),
        # Names the command has no option for stay as they are.
        ("pass subject_ids=None or n_rois=3", "pass subject_ids=None or n_rois=3"),
    ],
)  # fmt: skip
def test_python_names_become_options(message, expected):
    assert as_options(message, OPTIONS) == expected
