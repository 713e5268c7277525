"""Subject ids from BIDS names and folders."""

import numpy as np
import pandas as pd
import pytest

from sk_brainjepa.datasets import load_timeseries


# --------------------------------------------------------------- BIDS subject ids
def _bids(root, subjects, rng, sessions=("",)):
    for subject in subjects:
        for session in sessions:
            folder = root / f"sub-{subject}"
            stem = f"sub-{subject}"
            if session:
                folder, stem = folder / f"ses-{session}", f"{stem}_ses-{session}"
            (folder / "func").mkdir(parents=True)
            np.save(
                folder / "func" / f"{stem}_task-rest_timeseries.npy",
                rng.normal(size=(4, 10)),
            )


def test_bids_folder_ids_and_participants_table(tmp_path, rng, caplog):
    _bids(tmp_path, ["01", "02", "03"], rng)
    # BIDS participants.tsv: ids in participant_id (not first here), bare form.
    pd.DataFrame({"age": [30, 10, 20], "participant_id": ["03", "01", "02"]}).to_csv(
        tmp_path / "participants.tsv", sep="\t", index=False
    )
    with caplog.at_level("INFO", logger="sk_brainjepa.sources"):
        cohort = load_timeseries(tmp_path, phenotypes=tmp_path / "participants.tsv")
    assert "BIDS sub-* folder" in caplog.text
    assert cohort.subject_ids == ["sub-01", "sub-02", "sub-03"]
    assert cohort.phenotypes["age"].tolist() == [10, 20, 30]
    assert cohort.phenotypes.index.tolist() == cohort.subject_ids
    # The table is never read as a subject, even when a pattern matches it.
    assert load_timeseries(tmp_path, pattern="**/*.*").subject_ids == cohort.subject_ids


def test_bids_sessions_get_their_label(tmp_path, rng):
    from sk_brainjepa.sources import as_source

    _bids(tmp_path, ["01"], rng, sessions=("1", "2"))
    _bids(tmp_path, ["02"], rng, sessions=("1",))
    expected = ["sub-01_ses-1", "sub-01_ses-2", "sub-02"]
    assert as_source(tmp_path).subject_ids == expected
    table = pd.DataFrame({"age": [5, 7]}, index=["sub-01", "sub-02"])
    cohort = load_timeseries(tmp_path, phenotypes=table)
    assert cohort.subject_ids == expected
    assert cohort.phenotypes["age"].tolist() == [5, 5, 7]  # a participant's row


def test_bids_runs_and_subject_folders(tmp_path, rng):
    from sk_brainjepa.sources import as_source

    for name in ["sub-01_run-1_bold", "sub-01_run-2_bold", "sub-02_run-1_bold"]:
        np.save(tmp_path / f"{name}.npy", rng.normal(size=(4, 10)))
    assert load_timeseries(tmp_path).subject_ids == [
        "sub-01_run-1", "sub-01_run-2", "sub-02"
    ]  # fmt: skip
    nested = tmp_path / "nested"
    for subject in ["01", "02"]:
        (nested / f"sub-{subject}").mkdir(parents=True)
        np.save(nested / f"sub-{subject}" / "timeseries.npy", rng.normal(size=(4, 10)))
    assert as_source(nested).subject_ids == ["sub-01", "sub-02"]


def test_same_subject_id_from_two_files_names_both(tmp_path, rng):
    from sk_brainjepa.sources import as_source

    for folder in ["a", "b"]:
        (tmp_path / folder).mkdir()
        np.save(tmp_path / folder / "ts.npy", rng.normal(size=(4, 10)))
    files = [tmp_path / "a" / "ts.npy", tmp_path / "b" / "ts.npy"]
    match = r"a/ts\.npy and .*b/ts\.npy give the same subject id 'ts'"
    with pytest.raises(ValueError, match=match):
        load_timeseries(files)
    source = as_source(files)  # pretraining needs no ids
    with pytest.raises(ValueError, match=match):
        _ = source.subject_ids
