"""What an editor may get wrong or send unusual: requests on files it has not opened,
methods the server does not have, lines with characters beyond ASCII (whose positions
differ in UTF-16 code units and UTF-8 bytes), CRLF line ends, text that is not Unicode."""

from __future__ import annotations

import pathlib
import subprocess

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams, JsonRpcMethodNotFound

from lsp_session import EXAMPLES, EZC, apply_edits, at, change, column, name_in, open_doc, pos, published, uri_of


async def test_requests_on_a_document_that_is_not_open(client, tmp_path: pathlib.Path):
    missing = (tmp_path / "nowhere.ezflow").as_uri()
    p = types.Position(line=0, character=0)
    # Nothing there: no hover, no definition, no completion, no diagnostics.
    assert await client.text_document_hover_async(types.HoverParams(**at(missing, p))) is None
    assert await client.text_document_definition_async(types.DefinitionParams(**at(missing, p))) is None
    assert list(await client.text_document_completion_async(types.CompletionParams(**at(missing, p)))) == []
    report = await client.text_document_diagnostic_async(
        types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri=missing))
    )
    assert list(report.items) == []
    # Formatting edits the editor's text: there is none.
    with pytest.raises(JsonRpcInvalidParams) as e:
        await client.text_document_formatting_async(
            types.DocumentFormattingParams(
                text_document=types.TextDocumentIdentifier(uri=missing),
                options=types.FormattingOptions(tab_size=2, insert_spaces=True),
            )
        )
    assert e.value.code == -32602
    assert e.value.message == f"`{missing}` is not open"

    # A change to it is dropped (a notification has no answer), and the server goes on.
    change(client, missing, 2, (types.Range(start=p, end=p), "x"))
    # A file on disk that is not open is read from there, as imports are.
    path = EXAMPLES / "ci_pipeline.ezflow"
    text = path.read_text()
    h = await client.text_document_hover_async(types.HoverParams(**at(uri_of(path), pos(text, "inputs.environment", skip=8))))
    assert h.contents.value == "```ezflow\ninput `environment`: string\n```"
    assert client.published == {}


async def test_an_unknown_method_is_an_error_and_the_server_goes_on(client):
    with pytest.raises(JsonRpcMethodNotFound) as e:
        await client.protocol.send_request_async("ezflow/noSuchMethod", {})
    assert e.value.code == -32601
    assert e.value.message == "no method `ezflow/noSuchMethod`"
    # A method of the protocol the server does not serve: the same.
    with pytest.raises(JsonRpcMethodNotFound) as e:
        await client.text_document_prepare_call_hierarchy_async(
            types.CallHierarchyPrepareParams(**at(uri_of(EXAMPLES / "saga.ezflow"), types.Position(line=0, character=0)))
        )
    assert e.value.code == -32601
    # Unknown notifications are ignored; the session is intact.
    client.protocol.notify("ezflow/noSuchNotification", {})
    path = EXAMPLES / "saga.ezflow"
    uri = open_doc(client, path)
    assert list((await published(client, uri)).diagnostics) == []


# A line of the example with text beyond ASCII before a reference: é (1 UTF-16 unit,
# 2 bytes), 日本 (1 unit, 3 bytes each), 😀 (2 units, 4 bytes).
WIDE = "é 日本 😀 "


def widened() -> tuple[pathlib.Path, str]:
    path = EXAMPLES / "stdlib_pipeline.ezflow"
    text = path.read_text().replace('approve: "Release ${inputs.repo}', f'approve: "{WIDE}Release ${{inputs.repo}}')
    assert WIDE in text
    return path, text


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8"])
async def test_positions_after_wide_characters(client, client_utf8, encoding):
    c = client if encoding == "utf-16" else client_utf8
    path, text = widened()
    uri = open_doc(c, path, text)
    assert list((await published(c, uri)).diagnostics) == []
    line = text.split("\n")[pos(text, WIDE).line]

    # Hover on `btr` in `${btr.outputs.artifact}`, after the wide characters: the range
    # the server returns is in the negotiated unit.
    h = await c.text_document_hover_async(types.HoverParams(**at(uri, pos(text, "${btr.outputs.artifact}", skip=3, encoding=encoding))))
    assert h.contents.value.startswith("```ezflow\ntask `btr`\n```")
    k = line.index("${btr.outputs.artifact}") + 2
    assert h.range == types.Range(
        start=types.Position(line=pos(text, WIDE).line, character=column(line, k, encoding)),
        end=types.Position(line=pos(text, WIDE).line, character=column(line, k + 3, encoding)),
    )
    # So the two encodings really differ there: 7 more bytes than UTF-16 units (é +1, 日本 +4, 😀 +2).
    assert column(line, k, "utf-8") - column(line, k, "utf-16") == 7

    # An edit placed after them, in the negotiated unit: `artifact` → `artefact`.
    typo = pos(text, "${btr.outputs.artifact}", skip=17, encoding=encoding)
    change(c, uri, 2, (types.Range(start=typo, end=types.Position(line=typo.line, character=typo.character + 1)), "e"))
    p = await published(c, uri, 2)
    [d] = p.diagnostics
    fixed = line.replace("artifact}", "artefact}", 1)
    start = fixed.index("btr.outputs.artefact")
    assert d.code == "E0211"
    assert d.message == "task `btr` has no output `artefact`\nhelp: did you mean `artifact`?"
    assert d.range == types.Range(
        start=types.Position(line=typo.line, character=column(fixed, start + len("btr.outputs."), encoding)),
        end=types.Position(line=typo.line, character=column(fixed, start + len("btr.outputs.artefact"), encoding)),
    )


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8"])
async def test_a_rename_on_a_line_with_wide_characters(client, client_utf8, encoding):
    c = client if encoding == "utf-16" else client_utf8
    path, text = widened()
    uri = open_doc(c, path, text)
    assert list((await published(c, uri)).diagnostics) == []
    edit = await c.text_document_rename_async(
        types.RenameParams(**at(uri, pos(text, "input repo", skip=7, encoding=encoding)), new_name="repository")
    )
    # The declaration, `with:`, and the use after é 日本 😀: each range in the negotiated unit.
    renamed = apply_edits(text, edit.changes[uri], encoding)
    assert len(edit.changes[uri]) == 3
    assert renamed == text.replace("input repo:", "input repository:").replace("inputs.repo", "inputs.repository")
    assert f'approve: "{WIDE}Release ${{inputs.repository}}' in renamed


async def test_a_document_with_crlf_line_ends(client, tmp_path: pathlib.Path):
    # As a Windows editor sends it: positions are the same as with \n, and formatting
    # gives `ezc fmt`'s text (which writes \n).
    text = (EXAMPLES / "ci_pipeline.ezflow").read_text()
    crlf = text.replace("\n", "\r\n")
    path = tmp_path / "ci_pipeline.ezflow"
    path.write_bytes(crlf.encode())
    uri = open_doc(client, path, crlf)
    assert list((await published(client, uri)).diagnostics) == []
    h = await client.text_document_hover_async(types.HoverParams(**at(uri, pos(text, "${build.outputs.image}", skip=3))))
    assert h.range == name_in(text, "${build.outputs.image}", "build")

    name = name_in(text, "after: [build]", "build")
    change(client, uri, 2, (name, "biuld"))
    [d] = (await published(client, uri, 2)).diagnostics
    assert (d.code, d.range) == ("E0200", name)
    change(client, uri, 3, (name, "build"))
    assert list((await published(client, uri, 3)).diagnostics) == []

    [edit] = await client.text_document_formatting_async(
        types.DocumentFormattingParams(text_document=types.TextDocumentIdentifier(uri=uri), options=types.FormattingOptions(tab_size=2, insert_spaces=True))
    )
    assert edit.range == types.Range(start=types.Position(line=0, character=0), end=types.Position(line=text.count("\n"), character=0))
    subprocess.run([EZC, "fmt", str(path)], check=True, timeout=30)
    assert edit.new_text == path.read_bytes().decode() == text


async def test_text_that_is_not_unicode_is_refused_and_the_session_goes_on(client, tmp_path: pathlib.Path):
    # JSON can spell a lone UTF-16 surrogate (`\ud800`), which is no character: the
    # server refuses that message as not JSON (-32700, to id null: it cannot know the
    # message's id) and opens nothing; the next file opens as usual.
    bad = open_doc(client, tmp_path / "bad.ezflow", 'workflow w {\n  description: "a\ud800b"\n}\n')
    good = open_doc(client, EXAMPLES / "saga.ezflow")
    assert list((await published(client, good)).diagnostics) == []
    assert bad not in client.published
    assert await client.text_document_hover_async(types.HoverParams(**at(bad, types.Position(line=1, character=4)))) is None

    # A NUL byte is text: the checker reports it where it is outside a string.
    nul = open_doc(client, tmp_path / "nul.ezflow", "workflow w {\n}\x00\n")
    [d] = (await published(client, nul)).diagnostics
    assert (d.code, d.message, d.range) == (
        "E0100",
        "unexpected control byte 0x00",
        types.Range(start=types.Position(line=1, character=1), end=types.Position(line=1, character=2)),
    )
