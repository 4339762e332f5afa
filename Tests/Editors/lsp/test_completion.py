"""Completion as the user types: the attributes a block takes (from the checker's one
schema table), task names where a task is named, members after a dot, an attribute's
values, units after a number and import paths; hover on a unit literal."""

from __future__ import annotations

import pathlib

from lsprotocol import types

from lsp_session import EXAMPLES, change, open_doc, pos, published

PROPERTY, STRUCT, FUNCTION, CLASS, KEYWORD, FIELD, VARIABLE = (
    types.CompletionItemKind.Property,
    types.CompletionItemKind.Struct,
    types.CompletionItemKind.Function,
    types.CompletionItemKind.Class,
    types.CompletionItemKind.Keyword,
    types.CompletionItemKind.Field,
    types.CompletionItemKind.Variable,
)

# Every attribute of `task` (Sources/EzflowAttributes/Attributes.swift), in its order.
TASK_ATTRIBUTES = [
    "run", "prompt", "call", "approve", "workflow", "with", "agent", "needs", "role", "timeout", "retry",
    "priority", "tags", "after", "writes", "secrets", "for_each", "max_items", "env", "approvers",
    "self_approval", "on_timeout", "escalate_to", "escalate_timeout", "model", "max_tokens", "system",
    "messages", "temperature", "stop", "max_cost", "when", "run_on", "allow_failure", "compensate", "description",
]


async def complete(client, uri: str, p: types.Position) -> list[tuple[str, int]]:
    items = await client.text_document_completion_async(
        types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri), position=p)
    )
    return [(i.label, i.kind) for i in items]


async def test_a_blank_line_in_a_task_offers_the_attributes_not_yet_given(client):
    path = EXAMPLES / "ci_pipeline.ezflow"
    # A new last line in `lint`, where a user adds an attribute.
    text = path.read_text().replace('    tags: ["check", "lint"]\n', '    tags: ["check", "lint"]\n    \n')
    uri = open_doc(client, path, text)
    await published(client, uri)
    line = pos(text, 'tags: ["check", "lint"]').line + 1
    got = await complete(client, uri, types.Position(line=line, character=4))

    # `lint` already has these: they are not offered again.
    given = {"role", "needs", "after", "run", "timeout", "priority", "tags"}
    attributes = sorted((a, PROPERTY) for a in TASK_ATTRIBUTES if a not in given)
    blocks = [("budget", STRUCT), ("matrix", STRUCT), ("output", STRUCT), ("retry", STRUCT)]
    assert got == sorted(attributes + blocks)
    labels = {label for label, _ in got}
    # Workflow attributes and blocks that do not nest in a task are not offered.
    assert labels.isdisjoint({"deadline", "selector", "max_parallel", "agents", "input", "task", "group"})

    # The word being typed filters them.
    change(client, uri, 2, (types.Range(start=types.Position(line=line, character=4), end=types.Position(line=line, character=4)), "ma"))
    await published(client, uri, 2)
    got = await complete(client, uri, types.Position(line=line, character=6))
    assert got == [("matrix", STRUCT), ("max_cost", PROPERTY), ("max_items", PROPERTY), ("max_tokens", PROPERTY)]


async def test_where_a_task_is_named_the_tasks_are_offered(client):
    path = EXAMPLES / "ci_pipeline.ezflow"
    text = path.read_text()
    uri = open_doc(client, path)
    await published(client, uri)
    # In `after: [build]` of `lint`, typing the name: every task, and the other names in scope.
    got = await complete(client, uri, pos(text, "after: [build]", skip=8))
    tasks = [label for label, kind in got if kind == FUNCTION and label in {"approve_deploy", "build", "deploy", "lint", "test", "typecheck"}]
    assert tasks == ["approve_deploy", "build", "deploy", "lint", "test", "typecheck"]
    assert ("inputs", KEYWORD) in got and ("runner_large", CLASS) in got and ("flaky_tests", CLASS) in got
    # `b` typed: only what starts with it.
    got = await complete(client, uri, pos(text, "after: [build]", skip=9))
    assert got == [("build", FUNCTION)]


async def test_after_a_dot_the_members(client):
    path = EXAMPLES / "ci_pipeline.ezflow"
    text = path.read_text()
    uri = open_doc(client, path)
    await published(client, uri)
    # `inputs.` → the workflow's inputs with their types.
    assert await complete(client, uri, pos(text, "inputs.commit", skip=7)) == [("commit", VARIABLE), ("environment", VARIABLE)]
    # `build.` → `outputs`; `build.outputs.` → its declared output and the implicit ones.
    assert await complete(client, uri, pos(text, "build.outputs.image", skip=6)) == [("outputs", KEYWORD)]
    items = await client.text_document_completion_async(
        types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri), position=pos(text, "build.outputs.image", skip=14))
    )
    assert [(i.label, i.kind, i.detail) for i in items] == [
        ("exit_code", FIELD, "int"), ("image", FIELD, "string"), ("stdout", FIELD, "string")
    ]


async def test_a_word_typed_above_the_other_attributes(client):
    path = EXAMPLES / "ci_pipeline.ezflow"
    text = path.read_text().replace("  task lint {\n", "  task lint {\n    \n")
    uri = open_doc(client, path, text)
    await published(client, uri)
    line = pos(text, "task lint {").line + 1
    change(client, uri, 2, (types.Range(start=types.Position(line=line, character=4), end=types.Position(line=line, character=4)), "ma"))
    # `ma` then `role: ci` reads as a block header while it is typed: still `lint`'s attributes.
    [d, *_] = (await published(client, uri, 2)).diagnostics
    assert (d.code, d.message) == ("E0202", "unknown block `ma`")
    got = await complete(client, uri, types.Position(line=line, character=6))
    assert got == [("matrix", STRUCT), ("max_cost", PROPERTY), ("max_items", PROPERTY), ("max_tokens", PROPERTY)]


VALUES = """\
import "std/retry"

agent sh {
  driver: exec
  capabilities: ["shell"]
}

workflow w {
  task a {
    run: "true"
    timeout: 5m
    retry: retry.standard
  }
}
"""


async def items(client, uri: str, p: types.Position):
    return await client.text_document_completion_async(
        types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri), position=p)
    )


async def test_values_units_and_import_paths(client, tmp_path: pathlib.Path):
    (tmp_path / "helpers.ezflow").write_text("retry once {\n  attempts: 1\n}\n")
    path = tmp_path / "main.ezflow"
    path.write_text(VALUES)
    uri = open_doc(client, path)
    assert list((await published(client, uri)).diagnostics) == []

    # An attribute's value: the words it takes (`driver: ` → the four drivers).
    got = await items(client, uri, pos(VALUES, "driver: exec", skip=8))
    assert [(i.label, i.kind, i.detail) for i in got] == [
        (d, KEYWORD, "one of: exec, http, llm, sim") for d in ("exec", "http", "llm", "sim")
    ]
    # After a number, the units of the attribute's type, replacing the number typed.
    got = await items(client, uri, pos(VALUES, "timeout: 5m", skip=10))
    digit = types.Range(start=pos(VALUES, "timeout: 5m", skip=9), end=pos(VALUES, "timeout: 5m", skip=10))
    assert [(i.label, i.kind, i.detail, i.text_edit) for i in got] == [
        (u, types.CompletionItemKind.Unit, "duration", types.TextEdit(range=digit, new_text=u)) for u in ("5d", "5h", "5m", "5ms", "5s")
    ]
    # Inside `import "…"`: the stdlib's modules and the files beside this one (not itself),
    # each replacing what is typed of the path.
    typed = types.Range(start=pos(VALUES, '"std/retry"', skip=1), end=pos(VALUES, '"std/retry"', skip=5))
    got = await items(client, uri, typed.end)
    assert [(i.label, i.detail, i.text_edit) for i in got] == [
        (m, "standard library module", types.TextEdit(range=typed, new_text=m))
        for m in ("std/agents", "std/build_test_review", "std/retry", "std/roles")
    ]
    start = typed.start
    got = await items(client, uri, start)
    assert [(i.label, i.detail) for i in got] == [("helpers", "a file beside this one")] + [
        (m, "standard library module") for m in ("std/agents", "std/build_test_review", "std/retry", "std/roles")
    ]


async def test_hover_on_a_unit_literal(client):
    path = EXAMPLES / "stdlib_pipeline.ezflow"
    text = path.read_text()
    uri = open_doc(client, path)
    await published(client, uri)
    for needle, value in [
        ("deadline: 3h", "```ezflow\nduration `3h`: duration\n```\n\n3h = 10,800,000 ms"),
        ("money: $3", "```ezflow\nmoney `$3`: money\n```\n\n$3.00 = 3,000,000 micro-dollars (the runtime counts whole micro-dollars)"),
        ("tokens: 200k tokens", "```ezflow\ntokens `200k tokens`: tokens\n```\n\n200,000 tokens"),
    ]:
        h = await client.text_document_hover_async(types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=pos(text, needle, skip=len(needle) - 1)))
        assert h.contents.value == value, needle
        literal = needle.split(": ")[1]
        assert h.range == types.Range(start=pos(text, needle, skip=len(needle) - len(literal)), end=pos(text, needle, skip=len(needle)))
