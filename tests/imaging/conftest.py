"""A tiny synthetic fMRIPrep tree shared by the imaging tests."""

import pytest

from sk_brainjepa.imaging import make_fmriprep_derivatives


@pytest.fixture(scope="module")
def derivatives(tmp_path_factory):
    """Four subjects at TR 2 s, five labels, no confound."""
    return make_fmriprep_derivatives(
        tmp_path_factory.mktemp("fmriprep"), random_state=0
    )
