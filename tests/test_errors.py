"""The one-line contract of user errors: long lists summarised, any message one line of <= 300 characters."""

from __future__ import annotations

from kindling.errors import MAX_MESSAGE, UserError, one_line, summarise


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


def test_the_cli_prints_a_huge_user_error_as_one_short_line(capsys, monkeypatch):
    from kindling import cli

    def huge(args):
        raise UserError("columns are " + ", ".join(f"c{i}" for i in range(3000)) + "\nand more")

    monkeypatch.setitem(cli.COMMANDS, "list", huge)
    assert cli.main(["list", "models"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert (
        len(lines) == 1 and len(lines[0]) <= MAX_MESSAGE and lines[0].startswith("kindling: columns are c0")
    )
