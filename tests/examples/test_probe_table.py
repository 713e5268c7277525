"""What a person reads: the probe table the fMRIPrep example prints."""

import pytest

from .test_examples import run_example


def test_from_fmriprep_table_averages_scores_only():
    # It printed "mean 2.000 ... 12.000 ... regularization 200.062": the mean
    # of the repeat index, of the sizes and of the chosen C, counts as floats.
    pytest.importorskip("nilearn")
    result = run_example("from_fmriprep.py", "--quick")
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stderr.split("linear probe of sex (classification):\n")[1]
    lines = lines.strip().splitlines()
    header = lines[0].split()
    assert header[:5] == ["repeat", "n_train", "n_val", "n_test", "regularization"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert list(rows) == ["0", "1", "2", "3", "4", "mean", "std"]
    for k in "01234":
        repeat, *sizes, c = rows[k][:5]
        assert repeat == k and all(s.isdigit() for s in sizes), rows[k]
        assert float(c) > 0  # the chosen C of each repeat, not rounded to 0.000
    for name in ("mean", "std"):
        assert rows[name][:5] == ["<NA>", "<NA>", "<NA>", "<NA>", "NaN"]
        assert all(len(v.split(".")[1]) == 3 for v in rows[name][5:])  # scores
