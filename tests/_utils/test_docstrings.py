"""fill_doc: shared parameter texts written once, filled into docstrings at import."""

import pytest

from sk_brainjepa import BrainJEPAClassifier, BrainJEPAEmbedder, BrainJEPAPretrainer
from sk_brainjepa._utils._docstrings import DOCDICT, fill_doc, fill_docstring
from sk_brainjepa.inspection import roi_attention
from sk_brainjepa.model_selection import compare_models, linear_probe
from sk_brainjepa.preprocessing import DynamicFeatures, FunctionalConnectivity

FILLED = [
    (BrainJEPAEmbedder, "device"),
    (BrainJEPAPretrainer, "device"),
    (roi_attention, "device"),
    (BrainJEPAClassifier, "gradients_official"),
    (compare_models, "gradients_official"),
    (linear_probe, "gradients_official"),
    (FunctionalConnectivity, "layout_output_free"),
    (DynamicFeatures, "layout_output_free"),
]


def _indented(text, indent="    "):
    return "\n".join(indent + line if line else line for line in text.split("\n"))


@pytest.mark.parametrize(
    ("obj", "name"), FILLED, ids=[obj.__name__ for obj, _ in FILLED]
)
def test_rendered_docstrings_hold_the_shared_text(obj, name):
    assert "%(" not in obj.__doc__
    # Indented as a parameter of the numpydoc "Parameters" section.
    assert "\n" + _indented(DOCDICT[name]) + "\n" in obj.__doc__


def test_each_shared_text_serves_several_docstrings():
    used = [name for _, name in FILLED]
    assert all(used.count(name) >= 2 for name in DOCDICT)


def test_fill_doc_indents_every_line_and_keeps_the_rest():
    @fill_doc
    def f():
        """Do.

        Parameters
        ----------
        %(layout_output_free)s
        x : int
            100% literal.
        """

    lines = f.__doc__.splitlines()
    start = lines.index(
        '        layout : {"rois_x_time", "time_x_rois"}, default="rois_x_time"'
    )
    body = "How each subject's 2-D input array is ordered. The output does not"
    assert lines[start + 1 : start + 3] == [" " * 12 + body, " " * 12 + "depend on it."]
    assert lines[start + 3 :] == [
        "        x : int",
        "            100% literal.",
        "        ",
    ]


def test_unknown_or_inline_placeholders_fail_at_import():
    with pytest.raises(KeyError, match=r"%\(devise\)s has no entry"):
        fill_docstring("Parameters\n    %(devise)s\n")
    with pytest.raises(ValueError, match="alone on their line"):
        fill_docstring("See %(device)s here.")
    assert fill_docstring(None) is None
