"""Diagnostics as an editor shows them: published after open and after each edit,
pulled on request, and re-published for a file when a file it imports changes."""

from __future__ import annotations

import asyncio
import pathlib

from lsprotocol import types

from lsp_session import EXAMPLES, REPO, STDLIB, TIMEOUT, change, open_doc, pos, published, span

EVERY_EXAMPLE = sorted(EXAMPLES.glob("*.ezflow")) + sorted(EXAMPLES.glob("*.ezflow.yaml")) + sorted(STDLIB.glob("*.ezflow"))


def test_the_corpus_is_there():
    # 11 examples in both surfaces and the 4 stdlib modules: a glob that found nothing
    # would make the test below pass on nothing.
    assert len(EVERY_EXAMPLE) == 26, [p.name for p in EVERY_EXAMPLE]


async def test_every_example_opens_clean(client):
    uris = [open_doc(client, p) for p in EVERY_EXAMPLE]
    for uri in uris:
        p = await published(client, uri)
        assert (p.version, list(p.diagnostics)) == (1, []), uri


def pull(client, uri):
    return client.text_document_diagnostic_async(
        types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )


async def test_an_edit_that_breaks_a_name_then_its_undo(client):
    path = EXAMPLES / "ci_pipeline.ezflow"
    text = path.read_text()
    uri = open_doc(client, path)
    assert list((await published(client, uri)).diagnostics) == []

    # `after: [build]` in task `lint` becomes `after: [biuld]`: "ui" over "ui"'s place.
    name = span(text, "build]", 1)
    assert text.split("\n")[name.start.line] == "    after: [build]"
    typo = types.Range(
        start=types.Position(line=name.start.line, character=name.start.character + 1),
        end=types.Position(line=name.start.line, character=name.start.character + 3),
    )
    change(client, uri, 2, (typo, "iu"))
    p = await published(client, uri, 2)
    assert p.version == 2
    [d] = p.diagnostics
    assert d.code == "E0200"
    assert d.source == "ezc"
    assert d.severity == types.DiagnosticSeverity.Error
    assert d.range == types.Range(
        start=name.start, end=types.Position(line=name.start.line, character=name.start.character + 5)
    )
    assert d.message == "cannot find task `biuld` in this workflow\nhelp: did you mean `build`?"
    assert d.related_information is None
    # The code links to its explanation in the catalogue beside the stdlib (`ezc explain E0200`).
    assert d.code_description.href == (REPO / "docs" / "DIAGNOSTICS.md").as_uri() + "#E0200"
    assert '<a id="E0200"></a>' in (REPO / "docs" / "DIAGNOSTICS.md").read_text()

    # Pulled, the same list.
    report = await pull(client, uri)
    assert report.kind == "full"
    assert list(report.items) == list(p.diagnostics)

    # The edit undone: an empty list for version 3, pulled empty too.
    change(client, uri, 3, (typo, "ui"))
    p = await published(client, uri, 3)
    assert (p.version, list(p.diagnostics)) == (3, [])
    assert list((await pull(client, uri)).items) == []


LIB = """\
# Two quick tries on a timeout.
retry quick {
  attempts: 2
  on: [timeout]
}
"""

MAIN = """\
import "./lib.ezflow" as lib

workflow main {
  agent runner {
    driver: exec
    capabilities: ["shell"]
  }

  task build {
    run: "true"
    timeout: 1m
    retry: lib.quick
  }
}
"""


async def test_breaking_an_imported_file_rechecks_its_importer(client, tmp_path: pathlib.Path):
    (tmp_path / "lib.ezflow").write_text(LIB)
    (tmp_path / "main.ezflow").write_text(MAIN)
    lib = open_doc(client, tmp_path / "lib.ezflow")
    main = open_doc(client, tmp_path / "main.ezflow")
    assert list((await published(client, main)).diagnostics) == []
    assert list((await published(client, lib)).diagnostics) == []

    # Rename the rule in the imported file (only in the editor, not on disk): the
    # importer, unchanged, gets a new list for its same version.
    decl = span(LIB, "quick", 2)  # the first is in the comment
    change(client, lib, 2, (decl, "quik"))
    assert list((await published(client, lib, 2)).diagnostics) == []
    p = await published(client, main, 2)
    assert p.version == 1
    [d] = p.diagnostics
    assert (d.code, d.range, d.message) == (
        "E0200",
        span(MAIN, "quick"),
        "cannot find retry `quick` in module `lib`\nhelp: did you mean `quik`?",
    )
    assert list((await pull(client, main)).items) == list(p.diagnostics)

    # Renamed back: the importer is clean again.
    change(client, lib, 3, (types.Range(start=decl.start, end=types.Position(line=decl.start.line, character=decl.start.character + 4)), "quick"))
    p = await published(client, main, 3)
    assert (p.version, list(p.diagnostics)) == (1, [])

    # Closing the imported file: the importer reads it from disk, which still has `quick`.
    client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=lib)))
    p = await published(client, lib, 4)
    assert p.version is None and list(p.diagnostics) == []


async def test_a_save_elsewhere_rechecks_from_disk(client, tmp_path: pathlib.Path):
    # Only the importer is open; the imported file changes on disk (saved by another
    # window or tool) and the editor reports the save: the importer is checked again.
    (tmp_path / "lib.ezflow").write_text(LIB)
    (tmp_path / "main.ezflow").write_text(MAIN)
    main = open_doc(client, tmp_path / "main.ezflow")
    assert list((await published(client, main)).diagnostics) == []

    (tmp_path / "lib.ezflow").write_text(LIB.replace("retry quick", "retry quik"))
    lib = (tmp_path / "lib.ezflow").as_uri()
    client.text_document_did_save(types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=lib)))
    p = await published(client, main, 2)
    assert [(d.code, d.message) for d in p.diagnostics] == [
        ("E0200", "cannot find retry `quick` in module `lib`\nhelp: did you mean `quik`?")
    ]

    (tmp_path / "lib.ezflow").write_text(LIB)
    client.text_document_did_save(types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=lib)))
    assert list((await published(client, main, 3)).diagnostics) == []
    # The closed file itself got no list of its own.
    assert lib not in client.published


async def test_a_burst_of_keystrokes(client):
    # Typing as an editor sends it: one didChange per key, without waiting. The last
    # version published is the last sent, with the list of the final text; versions
    # only go up (a burst may be checked once, never out of order).
    path = EXAMPLES / "ci_pipeline.ezflow"
    text = path.read_text()
    uri = open_doc(client, path)
    await published(client, uri)
    at = pos(text, "[build]", skip=1)
    change(client, uri, 2, (types.Range(start=at, end=types.Position(line=at.line, character=at.character + 5)), ""))
    version, cursor = 2, at.character
    # `biu`, two backspaces, then `uild`: `build` again.
    for key in ["b", "i", "u", "\b", "\b", "u", "i", "l", "d"]:
        version += 1
        if key == "\b":
            r = types.Range(start=types.Position(line=at.line, character=cursor - 1), end=types.Position(line=at.line, character=cursor))
            cursor -= 1
            change(client, uri, version, (r, ""))
        else:
            r = types.Range(start=types.Position(line=at.line, character=cursor), end=types.Position(line=at.line, character=cursor))
            cursor += 1
            change(client, uri, version, (r, key))

    async def settled():
        while client.published[uri][-1].version != version:
            await asyncio.sleep(0.005)

    await asyncio.wait_for(settled(), TIMEOUT)
    versions = [p.version for p in client.published[uri]]
    assert versions == sorted(set(versions)), versions
    assert list(client.published[uri][-1].diagnostics) == []
    # The text is the example again: a pull agrees.
    report = await client.text_document_diagnostic_async(
        types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert list(report.items) == []
