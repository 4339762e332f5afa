"""References, rename and quick fixes: every use of a name, a rename as one
WorkspaceEdit the editor applies, and the checker's did-you-mean as a code action."""

from __future__ import annotations

import pathlib

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from lsp_session import EXAMPLES, apply_edits, at, change, name_in, open_doc, pos, published, span, uri_of, whole

REQUEST_FAILED = -32803


async def opened(client, name: str) -> tuple[str, str]:
    path = EXAMPLES / name
    uri = open_doc(client, path)
    assert list((await published(client, uri)).diagnostics) == []
    return uri, path.read_text()


def uses_of_build(text: str) -> list[types.Range]:
    """Task `build` of ci_pipeline in source order: its name, `build.outputs.image` in
    `test`'s env, `after: [build]` in `lint` and `typecheck`, `${build.outputs.image}` in
    `approve_deploy`'s question and `build.outputs.image` in `deploy`'s env."""
    ranges = [name_in(text, "task build", "build")]
    ranges += [name_in(text, "after: [build]", "build", n) for n in (1, 2)]
    ranges += [name_in(text, " build.outputs", "build", n) for n in (1, 2)]
    ranges.append(name_in(text, "${build.outputs", "build"))
    return sorted(ranges, key=lambda r: (r.start.line, r.start.character))


async def references(client, uri: str, p: types.Position, declaration: bool = True):
    return await client.text_document_references_async(
        types.ReferenceParams(**at(uri, p), context=types.ReferenceContext(include_declaration=declaration))
    )


async def test_references_of_a_task(client):
    uri, text = await opened(client, "ci_pipeline.ezflow")
    want = [types.Location(uri=uri, range=r) for r in uses_of_build(text)]
    assert len(want) == 6
    # From the declaration and from a use: the same list; the tag "build" is not one.
    assert list(await references(client, uri, pos(text, "task build", skip=7))) == want
    assert list(await references(client, uri, pos(text, "${build.outputs.image}", skip=3))) == want
    assert list(await references(client, uri, pos(text, "task build", skip=7), declaration=False)) == want[1:]


async def test_rename_of_a_task_changes_every_use(client):
    uri, text = await opened(client, "ci_pipeline.ezflow")
    p = pos(text, "after: [build]", skip=9)
    prepared = await client.text_document_prepare_rename_async(types.PrepareRenameParams(**at(uri, p)))
    assert prepared == types.PrepareRenamePlaceholder(range=name_in(text, "after: [build]", "build"), placeholder="build")

    edit = await client.text_document_rename_async(types.RenameParams(**at(uri, p), new_name="compile"))
    assert list(edit.changes) == [uri]
    assert list(edit.changes[uri]) == [types.TextEdit(range=r, new_text="compile") for r in uses_of_build(text)]
    renamed = apply_edits(text, edit.changes[uri])
    assert 'tags: ["build"]' in renamed and "after: [compile]" in renamed and "${compile.outputs.image}" in renamed
    # Applied, the file checks clean.
    change(client, uri, 2, (whole(text), renamed))
    assert (await published(client, uri, 2)).diagnostics == ()


async def test_a_rename_that_would_break_the_file_is_refused(client):
    uri, text = await opened(client, "ci_pipeline.ezflow")
    p = pos(text, "task build", skip=7)
    with pytest.raises(JsonRpcException) as e:
        await client.text_document_rename_async(types.RenameParams(**at(uri, p), new_name="test"))
    assert e.value.code == REQUEST_FAILED
    assert e.value.message == "renaming task `build` to `test` would make E0201: `test` is declared twice in this workflow"
    with pytest.raises(JsonRpcException) as e:
        await client.text_document_rename_async(types.RenameParams(**at(uri, p), new_name="9x"))
    assert (e.value.code, e.value.message) == (REQUEST_FAILED, "`9x` is not a name: use letters, digits and `_`, starting with a letter or `_`")


async def test_a_stdlib_name_is_not_renamed(client):
    uri, text = await opened(client, "stdlib_pipeline.ezflow")
    p = pos(text, "retry.standard", skip=8)
    with pytest.raises(JsonRpcException) as e:
        await client.text_document_prepare_rename_async(types.PrepareRenameParams(**at(uri, p)))
    assert e.value.code == REQUEST_FAILED
    # The server shows a stdlib file relative to the stdlib's parent, wherever it runs.
    assert e.value.message == "`standard` is declared in the standard library (stdlib/retry.ezflow), which a rename does not edit"


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


async def test_rename_across_files_of_the_workspace(client, tmp_path: pathlib.Path):
    (tmp_path / "lib.ezflow").write_text(LIB)
    (tmp_path / "main.ezflow").write_text(MAIN)
    # The folder is added to the workspace; only the library is open: its importer on
    # disk is found through the folder.
    client.workspace_did_change_workspace_folders(
        types.DidChangeWorkspaceFoldersParams(
            event=types.WorkspaceFoldersChangeEvent(added=[types.WorkspaceFolder(uri=tmp_path.as_uri(), name="tmp")], removed=[])
        )
    )
    lib = open_doc(client, tmp_path / "lib.ezflow")
    assert (await published(client, lib)).diagnostics == ()
    main = uri_of(tmp_path / "main.ezflow")
    p = pos(LIB, "retry quick", skip=7)

    refs = await references(client, lib, p)
    assert list(refs) == [
        types.Location(uri=lib, range=span(LIB, "quick", 2)),
        types.Location(uri=main, range=span(MAIN, "quick")),
    ]
    edit = await client.text_document_rename_async(types.RenameParams(**at(lib, p), new_name="brisk"))
    assert edit.changes == {
        lib: (types.TextEdit(range=span(LIB, "quick", 2), new_text="brisk"),),
        main: (types.TextEdit(range=span(MAIN, "quick"), new_text="brisk"),),
    }
    assert apply_edits(MAIN, edit.changes[main]).count("lib.brisk") == 1


async def test_a_quick_fix_for_a_typo(client):
    uri, text = await opened(client, "ci_pipeline.ezflow")
    name = name_in(text, "after: [build]", "build")
    change(client, uri, 2, (name, "biuld"))
    [d] = (await published(client, uri, 2)).diagnostics
    assert (d.code, d.range) == ("E0200", name)

    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), range=d.range, context=types.CodeActionContext(diagnostics=[d])
        )
    )
    [action] = actions
    assert action.title == "replace with `build`"
    assert action.kind == types.CodeActionKind.QuickFix
    assert action.is_preferred is True
    assert list(action.diagnostics) == [d]
    assert action.edit.changes == {uri: (types.TextEdit(range=name, new_text="build"),)}

    # Applied, the file is as it was: clean.
    [e] = action.edit.changes[uri]
    change(client, uri, 3, (e.range, e.new_text))
    assert (await published(client, uri, 3)).diagnostics == ()

    # Nowhere near a diagnostic, or asking only for refactorings: no action.
    far = types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=1))
    assert list(await client.text_document_code_action_async(
        types.CodeActionParams(text_document=types.TextDocumentIdentifier(uri=uri), range=far, context=types.CodeActionContext(diagnostics=[]))
    )) == []
