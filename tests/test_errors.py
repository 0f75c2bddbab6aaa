"""The one-line contract of user errors: long lists summarised, any message one line of <= 300 characters."""

from __future__ import annotations

from kindling.errors import GUARD, MAX_MESSAGE, one_line, summarise


def test_a_long_list_is_summarised_with_how_many_more():
    columns = [f"feature_{i}" for i in range(1000)]
    assert summarise(columns, "columns") == (
        "['feature_0', 'feature_1', 'feature_2', 'feature_3', 'feature_4', ... and 995 more columns]"
    )
    assert summarise(["a", "b"]) == "['a', 'b']"


def test_any_message_becomes_one_line_keeping_its_start_and_its_advice():
    text = one_line("first line\nsecond " + "word " * 200 + "; pass --skip-bad")
    assert "\n" not in text and len(text) <= MAX_MESSAGE
    assert text.startswith("first line\\nsecond word") and text.endswith("word ; pass --skip-bad")
    assert " ... " in text and " wor " not in text and " ord " not in text


def test_the_cli_cuts_a_runaway_message_to_one_bounded_line(tmp_path, capsys):
    """A message made long by what the user typed (here a 2,000-character path) stays one bounded line
    that still starts with the path and ends with the advice."""
    from kindling.cli.main import main

    run = tmp_path.joinpath(*["d" * 200] * 10)
    assert main(["evaluate", str(run)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and len(lines[0]) <= GUARD + len("kindling: ")
    assert lines[0].startswith(f"kindling: {tmp_path}/ddd") and lines[0].endswith("its best/ bundle folder")
