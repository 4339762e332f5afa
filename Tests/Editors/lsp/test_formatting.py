"""Formatting: the editor gets `ezc fmt`'s text as one edit of the whole document, or
for a range, the lines asked for as `ezc fmt` prints them."""

from __future__ import annotations

import pathlib
import subprocess

from lsprotocol import types

from lsp_session import EXAMPLES, EZC, apply_edits, change, open_doc, published


def badly_formatted(text: str) -> str:
    """The same workflow with every indent gone, trailing blanks and extra blank lines."""
    return "\n\n" + "\n".join(line.strip() + "  " for line in text.split("\n")).replace("\n  \n", "\n\n\n\n")


def ezc_fmt(path: pathlib.Path) -> str:
    r = subprocess.run([EZC, "fmt", str(path)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return path.read_text()


async def format_request(client, uri: str):
    return await client.text_document_formatting_async(
        types.DocumentFormattingParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            options=types.FormattingOptions(tab_size=2, insert_spaces=True),
        )
    )


async def test_formatting_a_badly_formatted_file_is_ezc_fmt(client, tmp_path: pathlib.Path):
    original = (EXAMPLES / "ci_pipeline.ezflow").read_text()
    bad = badly_formatted(original)
    assert bad != original
    (tmp_path / "copy.ezflow").write_text(bad)
    expected = ezc_fmt(tmp_path / "copy.ezflow")
    assert expected == original  # the examples are formatted (ezc fmt --check)

    path = tmp_path / "ci_pipeline.ezflow"
    path.write_text(bad)
    uri = open_doc(client, path)
    assert list((await published(client, uri)).diagnostics) == []
    [edit] = await format_request(client, uri)
    assert edit.new_text == expected
    # The whole document: from its start to after its last line break.
    lines = bad.split("\n")
    assert edit.range == types.Range(
        start=types.Position(line=0, character=0), end=types.Position(line=len(lines) - 1, character=len(lines[-1]))
    )

    # Applied, as an editor does: formatting again has nothing to change.
    change(client, uri, 2, (edit.range, edit.new_text))
    assert list((await published(client, uri, 2)).diagnostics) == []
    assert list(await format_request(client, uri)) == []


async def test_a_file_that_does_not_parse_is_left_alone(client, tmp_path: pathlib.Path):
    path = tmp_path / "broken.ezflow"
    path.write_text("workflow w {\n  task a {   run: \"x\"\n")
    uri = open_doc(client, path)
    # The unclosed `{` (and the missing agent, which the checker still finds).
    assert [d.code for d in (await published(client, uri)).diagnostics] == ["E0105", "E0500"]
    assert list(await format_request(client, uri)) == []


MESSY = """\
agent sh {
  driver: exec
  capabilities: ["shell"]
}

workflow w {
  task a {
      run: "true"
    timeout:    5m
  }
  task b {   run: "true",   timeout: 1m }
}
"""


async def range_format(client, uri: str, first: int, last: int):
    """rangeFormatting of lines `first`..`last` (0-based, whole lines)."""
    return await client.text_document_range_formatting_async(
        types.DocumentRangeFormattingParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(start=types.Position(line=first, character=0), end=types.Position(line=last + 1, character=0)),
            options=types.FormattingOptions(tab_size=2, insert_spaces=True),
        )
    )


def line_edit(line: int, text: str) -> types.TextEdit:
    return types.TextEdit(
        range=types.Range(start=types.Position(line=line, character=0), end=types.Position(line=line + 1, character=0)), new_text=text
    )


async def test_range_formatting_reprints_only_the_lines_asked_for(client, tmp_path: pathlib.Path):
    path = tmp_path / "messy.ezflow"
    path.write_text(MESSY)
    uri = open_doc(client, path)
    assert list((await published(client, uri)).diagnostics) == []

    # Task `a`'s two members: each line reprinted as `ezc fmt` would; task `b` untouched.
    edits = await range_format(client, uri, 7, 8)
    assert list(edits) == [line_edit(7, '    run: "true"\n'), line_edit(8, "    timeout: 5m\n")]
    # Task `b` on one line: its block laid out.
    edits = await range_format(client, uri, 10, 10)
    assert list(edits) == [line_edit(10, '  task b {\n    run: "true"\n    timeout: 1m\n  }\n')]

    # Both applied: the members as `ezc fmt` prints them; the blank line `ezc fmt` puts
    # between two tasks is not on the lines asked for, so it is not added.
    applied = apply_edits(apply_edits(MESSY, edits), [line_edit(7, '    run: "true"\n'), line_edit(8, "    timeout: 5m\n")])
    (tmp_path / "copy.ezflow").write_text(MESSY)
    assert ezc_fmt(tmp_path / "copy.ezflow") == applied.replace("  }\n  task b", "  }\n\n  task b")
    # Lines already formatted: nothing to do.
    assert list(await range_format(client, uri, 0, 3)) == []
