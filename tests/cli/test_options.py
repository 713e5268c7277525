"""Estimator parameters as command-line options."""

from sk_brainjepa import BrainJEPAPretrainer
from sk_brainjepa._utils._deprecation import DEPRECATED
from sk_brainjepa.cli._options import parameter_docs, parse_value


def test_every_pretrainer_parameter_is_an_option():
    from sk_brainjepa.cli import build_parser

    help_text = (
        build_parser()._subparsers._group_actions[0].choices["pretrain"].format_help()
    )
    api_only = {"monitor", "monitor_every", "monitor_readout", "monitor_task"}  # Python
    # Old names (renamed in 0.2) still parse, as hidden aliases of the new options.
    api_only |= {
        name
        for name, value in BrainJEPAPretrainer().get_params().items()
        if value == DEPRECATED
    }
    for name in BrainJEPAPretrainer().get_params():
        flag = "--" + name.replace("_", "-")
        assert (flag in help_text) != (name in api_only), name
    docs = parameter_docs(BrainJEPAPretrainer)
    assert "Peak learning rate" in docs["lr"]
    assert docs["weight_decay"] == docs["final_weight_decay"]  # no default in it


def test_parse_value():
    assert parse_value("3") == 3 and parse_value("1e-3") == 1e-3
    assert parse_value("[0.99, 1.0]") == [0.99, 1.0]
    assert parse_value('{"depth": 4}') == {"depth": 4}
    assert parse_value("null") is None and parse_value("tiny") == "tiny"


def test_options_documented_together_show_their_own_defaults():
    # "weight_decay, final_weight_decay : float, default=0.04, 0.4" gave both
    # options "default=0.04, 0.4".
    from sk_brainjepa.cli import build_parser

    sub = build_parser()._subparsers._group_actions[0].choices["pretrain"]
    helps = {a.dest: a.help for a in sub._actions}
    assert "default=0.04, 0.4" not in sub.format_help()
    assert helps["weight_decay"].endswith("(default: 0.04)")
    assert helps["final_weight_decay"].endswith("(default: 0.4)")
    assert "default=(0.996, 1.0)" in helps["ema"]  # one name: its own default kept
