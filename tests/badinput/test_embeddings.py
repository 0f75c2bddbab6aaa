"""Bad vocabularies and pretrained vectors are refused in one line, exit 2, and nothing a vocab.pkl names
is ever run (the harness finds the marker file a code-running pickle would write)."""

from __future__ import annotations

import pytest

from badinput.cases_embeddings import CASES
from badinput.harness import refuse


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_vocab_or_vectors_are_refused_in_one_line(case, tmp_path, capsys):
    data = ("thuc", "emb", "w2v")
    refuse(case, tmp_path, capsys, allowed_new=lambda p: p.split("/")[0] in data)
    assert not (tmp_path / "marker").exists()
