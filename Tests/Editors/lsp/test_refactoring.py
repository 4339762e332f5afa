"""References, rename and quick fixes: every use of a name (in the open files and a
workspace folder's), a rename as one WorkspaceEdit the editor applies, and the checker's
fixes as code actions (did-you-mean, a missing grant, a YAML value quoted)."""

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


# MAIN's YAML surface (`ezc fmt --to yaml`): an importer of the library too.
MAIN_YAML = """\
import:
  - path: ./lib.ezflow
    as: lib

workflow main:
  agent runner:
    driver: exec
    capabilities: ["shell"]

  task build:
    run: "true"
    timeout: 1m
    retry: lib.quick
"""


async def test_rename_across_files_of_the_workspace(client, tmp_path: pathlib.Path):
    (tmp_path / "lib.ezflow").write_text(LIB)
    (tmp_path / "main.ezflow").write_text(MAIN)
    (tmp_path / "main.ezflow.yaml").write_text(MAIN_YAML)
    # The folder is added to the workspace; only the library is open: its importers on
    # disk, in both surfaces, are found through the folder.
    client.workspace_did_change_workspace_folders(
        types.DidChangeWorkspaceFoldersParams(
            event=types.WorkspaceFoldersChangeEvent(added=[types.WorkspaceFolder(uri=tmp_path.as_uri(), name="tmp")], removed=[])
        )
    )
    lib = open_doc(client, tmp_path / "lib.ezflow")
    assert (await published(client, lib)).diagnostics == ()
    main = uri_of(tmp_path / "main.ezflow")
    main_yaml = uri_of(tmp_path / "main.ezflow.yaml")
    p = pos(LIB, "retry quick", skip=7)

    refs = await references(client, lib, p)
    assert list(refs) == [
        types.Location(uri=lib, range=span(LIB, "quick", 2)),
        types.Location(uri=main, range=span(MAIN, "quick")),
        types.Location(uri=main_yaml, range=span(MAIN_YAML, "quick")),
    ]
    edit = await client.text_document_rename_async(types.RenameParams(**at(lib, p), new_name="brisk"))
    assert edit.changes == {
        lib: (types.TextEdit(range=span(LIB, "quick", 2), new_text="brisk"),),
        main: (types.TextEdit(range=span(MAIN, "quick"), new_text="brisk"),),
        main_yaml: (types.TextEdit(range=span(MAIN_YAML, "quick"), new_text="brisk"),),
    }
    assert apply_edits(MAIN, edit.changes[main]).count("lib.brisk") == 1
    assert apply_edits(MAIN_YAML, edit.changes[main_yaml]).count("lib.brisk") == 1

    # The folder removed from the workspace: the file on disk is no longer searched.
    client.workspace_did_change_workspace_folders(
        types.DidChangeWorkspaceFoldersParams(
            event=types.WorkspaceFoldersChangeEvent(added=[], removed=[types.WorkspaceFolder(uri=tmp_path.as_uri(), name="tmp")])
        )
    )
    assert list(await references(client, lib, p)) == [types.Location(uri=lib, range=span(LIB, "quick", 2))]


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


async def code_actions(client, uri: str, d: types.Diagnostic):
    return await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), range=d.range, context=types.CodeActionContext(diagnostics=[d])
        )
    )


async def test_a_quick_fix_adds_a_missing_grant(client):
    uri, text = await opened(client, "ci_pipeline.ezflow")
    # `role ci { allow: [run] ... }` loses its `run`: every task running as `ci` is refused.
    grant = name_in(text, "allow: [run]", "run")
    change(client, uri, 2, (grant, ""))
    diagnostics = (await published(client, uri, 2)).diagnostics
    assert [d.code for d in diagnostics] == ["E0501"] * 6
    d = diagnostics[0]
    assert d.message == "role `ci` may not run tasks\ntask `build` runs as this role\nhelp: add `allow: [run]` to role `ci` or to a role it inherits"
    assert list(d.related_information) == [
        types.DiagnosticRelatedInformation(location=types.Location(uri=uri, range=name_in(text, "role ci", "ci")), message="role declared here")
    ]
    [action] = await code_actions(client, uri, d)
    assert action.title == "add `run` to the `allow` of role `ci`"
    empty = types.Position(line=grant.start.line, character=grant.start.character)
    assert action.edit.changes == {uri: (types.TextEdit(range=types.Range(start=empty, end=empty), new_text="run"),)}
    change(client, uri, 3, (action.edit.changes[uri][0].range, "run"))
    assert (await published(client, uri, 3)).diagnostics == ()


ROLES = """\
agent runner {
  driver: exec
  capabilities: ["shell"]
}

# Operators: may approve, not run.
role ops {
  allow: [approve]
  agents: [runner]
}
"""

RUNS_AS_OPS = """\
import "./roles.ezflow" as roles

workflow main {
  agents: [roles.runner]

  task build {
    role: roles.ops
    run: "true"
    timeout: 1m
  }
}
"""


async def test_a_quick_fix_in_another_file(client, tmp_path: pathlib.Path):
    # The role is in an imported file: the fix edits that file, through the WorkspaceEdit.
    (tmp_path / "roles.ezflow").write_text(ROLES)
    main = open_doc(client, tmp_path / "main.ezflow", RUNS_AS_OPS)
    [d] = (await published(client, main)).diagnostics
    assert (d.code, d.range) == ("E0501", span(RUNS_AS_OPS, "roles.ops"))
    [action] = await code_actions(client, main, d)
    assert action.title == "add `run` to the `allow` of role `ops`"
    roles = uri_of(tmp_path / "roles.ezflow")
    assert list(action.edit.changes) == [roles]
    assert apply_edits(ROLES, action.edit.changes[roles]) == ROLES.replace("allow: [approve]", "allow: [approve, run]")

    # The editor applies it to the imported file (opening it): the importer is clean.
    lib = open_doc(client, tmp_path / "roles.ezflow")
    [e] = action.edit.changes[roles]
    change(client, lib, 2, (e.range, e.new_text))
    assert (await published(client, main, 2)).diagnostics == ()


async def test_a_quick_fix_quotes_a_yaml_value(client):
    # In the YAML surface, `run: make lint` unquoted reads as the expression `make`
    # followed by a stray word: the fix quotes it into the string meant.
    uri, text = await opened(client, "ci_pipeline.ezflow.yaml")
    value = name_in(text, "run: \"sh -c 'echo linting; true'\"", "\"sh -c 'echo linting; true'\"")
    change(client, uri, 2, (value, "make lint"))
    line = value.start.line

    def cols(a: int, b: int) -> types.Range:
        return types.Range(start=types.Position(line=line, character=a), end=types.Position(line=line, character=b))

    diagnostics = (await published(client, uri, 2)).diagnostics
    assert [(d.code, d.range, d.message) for d in diagnostics] == [
        ("E0200", cols(9, 13), "cannot find `make` in this scope"),
        ("E0104", cols(14, 18), 'unexpected `lint` after the value\nthe expression ends before this\nhelp: quote the value to make it a string: `"make lint"`'),
    ]
    assert list(await code_actions(client, uri, diagnostics[0])) == []
    [action] = await code_actions(client, uri, diagnostics[1])
    assert action.title == "quote the value"
    assert action.edit.changes == {uri: (types.TextEdit(range=cols(9, 18), new_text='"make lint"'),)}
    change(client, uri, 3, (cols(9, 18), '"make lint"'))
    assert (await published(client, uri, 3)).diagnostics == ()
