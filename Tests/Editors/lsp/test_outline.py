"""What an editor draws beside and over the text: the outline, folds, semantic tokens
and inlay hints of each task's worst case."""

from __future__ import annotations

import pathlib

import pytest
from lsprotocol import types

from lsp_session import EXAMPLES, column, name_in, open_doc, pos, published, whole

K = types.SymbolKind


async def opened(client, name: str) -> tuple[str, str]:
    path = EXAMPLES / name
    uri = open_doc(client, path)
    assert list((await published(client, uri)).diagnostics) == []
    return uri, path.read_text()


def doc(uri: str) -> types.TextDocumentIdentifier:
    return types.TextDocumentIdentifier(uri=uri)


def outline(symbols) -> list:
    return [(s.name, s.detail, s.kind, s.selection_range.start.line + 1, outline(s.children or [])) for s in symbols]


async def test_the_outline_of_an_example(client):
    uri, text = await opened(client, "ci_pipeline.ezflow")
    symbols = await client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=doc(uri)))
    # (name, detail, kind, 1-based line of the name, children): declarations, then the
    # workflow's inputs, budget and tasks with their outputs and budgets.
    assert outline(symbols) == [
        ("flaky_test", None, K.Event, 11, []),
        ("flaky_tests", "attempts: 3, backoff: exponential, delay: 5s", K.Object, 13, []),
        ("runner_small", "exec", K.Class, 24, []),
        ("runner_large", "exec", K.Class, 31, []),
        ("ci", "[run]", K.Interface, 40, []),
        ("releaser", "[approve]", K.Interface, 45, []),
        ("ci_pipeline", None, K.Module, 50, [
            ("commit", 'string = "HEAD"', K.Variable, 58, []),
            ("environment", 'string = "staging"', K.Variable, 59, []),
            ("budget", "money: $5, time: 90m", K.Object, 61, []),
            ("build", "run", K.Function, 66, [("image", "string", K.Field, 74, [])]),
            ("test", "run", K.Function, 78, [("budget", "time: 25m", K.Object, 89, [])]),
            ("lint", "run", K.Function, 94, []),
            ("typecheck", "run", K.Function, 104, []),
            ("approve_deploy", "approve", K.Function, 116, []),
            ("deploy", "run", K.Function, 125, []),
        ]),
    ]
    # A symbol's range is its whole block, its selection range its name.
    build = symbols[6].children[3]
    assert build.selection_range == name_in(text, "task build", "build")
    lines = text.split("\n")
    assert build.range == types.Range(start=types.Position(line=65, character=2), end=types.Position(line=74, character=3))
    assert (lines[65], lines[74]) == ("  task build {", "  }")


async def test_folding_ranges_of_an_example(client):
    uri, text = await opened(client, "ci_pipeline.ezflow")
    folds = await client.text_document_folding_range_async(types.FoldingRangeParams(text_document=doc(uri)))
    got = [(f.start_line, f.end_line, f.kind) for f in folds]
    lines = text.split("\n")
    # Each block folds from its header to the line before its `}`; runs of two or more
    # comment lines fold as comments.
    for start, end, kind in got:
        if kind == "comment":
            assert all(lines[i].lstrip().startswith("#") for i in range(start, end + 1)), (start, end)
        else:
            assert lines[start].rstrip().endswith("{") and lines[end + 1].strip() == "}", (start, end)
    assert got == [
        (0, 6, "comment"), (8, 9, "comment"), (12, 18, None), (21, 22, "comment"), (23, 27, None), (30, 34, None),
        (37, 38, "comment"), (39, 41, None), (44, 46, None), (49, 133, None), (53, 54, "comment"), (60, 62, None),
        (65, 73, None), (77, 90, None), (88, 89, None), (93, 100, None), (103, 110, None), (113, 114, "comment"),
        (115, 121, None), (124, 132, None),
    ]


SNIPPET = """\
import "std/retry"

# A runner.
agent sh {
  driver: exec
  capabilities: ["shell"]
}

workflow w {
  input name: string = "é 日本 😀"

  task a {
    run: "echo ${inputs.name}"
    timeout: 5m
    retry: retry.standard
  }
}
"""

# Every token of SNIPPET: (line, the text, type, modifiers).
SNIPPET_TOKENS = [
    (0, "import", "keyword", []), (0, '"std/retry"', "string", []),
    (2, "# A runner.", "comment", []),
    (3, "agent", "keyword", []), (3, "sh", "class", ["declaration"]),
    (4, "driver", "property", []),
    (5, "capabilities", "property", []), (5, '"shell"', "string", []),
    (8, "workflow", "keyword", []), (8, "w", "function", ["declaration"]),
    (9, "input", "keyword", []), (9, "name", "parameter", ["declaration"]), (9, "string", "type", ["defaultLibrary"]),
    (9, '"é 日本 😀"', "string", []),
    (11, "task", "keyword", []), (11, "a", "function", ["declaration"]),
    (12, "run", "property", []), (12, '"echo ', "string", []), (12, "inputs", "keyword", []), (12, "name", "parameter", []),
    (12, '"', "string", []),
    (13, "timeout", "property", []), (13, "5m", "number", []),
    (14, "retry", "property", []), (14, "retry", "namespace", ["defaultLibrary"]), (14, "standard", "macro", ["defaultLibrary"]),
]


LEGEND = types.SemanticTokensLegend(
    token_types=(
        "namespace", "type", "class", "enum", "interface", "struct", "parameter", "variable", "property", "enumMember",
        "event", "function", "macro", "decorator", "keyword", "comment", "string", "number",
    ),
    token_modifiers=("declaration", "readonly", "defaultLibrary"),
)


def decode(data, legend: types.SemanticTokensLegend, text: str, encoding: str) -> list:
    """The protocol's relative encoding back to (line, text, type, modifiers)."""
    lines = text.split("\n")
    out, line, start = [], 0, 0
    for i in range(0, len(data), 5):
        dl, ds, length, ty, mods = data[i : i + 5]
        line, start = line + dl, (start + ds if dl == 0 else ds)
        chars = lines[line]
        # The token's characters: those whose column (in the negotiated unit) is in [start, start + length).
        picked = "".join(ch for k, ch in enumerate(chars) if start <= column(chars, k, encoding) < start + length)
        out.append((line, picked, legend.token_types[ty], [m for b, m in enumerate(legend.token_modifiers) if mods >> b & 1]))
    return out


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8"])
async def test_semantic_tokens(client, client_utf8, encoding, tmp_path: pathlib.Path):
    c = client if encoding == "utf-16" else client_utf8
    path = tmp_path / "snippet.ezflow"
    path.write_text(SNIPPET)
    uri = open_doc(c, path)
    assert list((await published(c, uri)).diagnostics) == []
    # The legend announced in `initialize` names the types and modifiers by index.
    legend = c.server_capabilities.semantic_tokens_provider.legend
    assert legend == LEGEND
    tokens = await c.text_document_semantic_tokens_full_async(types.SemanticTokensParams(text_document=doc(uri)))
    assert decode(tokens.data, legend, SNIPPET, encoding) == SNIPPET_TOKENS
    # The string with é 日本 😀 is 9 UTF-16 units long, 16 bytes: the length is in the unit.
    k = SNIPPET_TOKENS.index((9, '"é 日本 😀"', "string", []))
    assert tokens.data[k * 5 + 2] == (9 if encoding == "utf-16" else 16)

    # A range: the tokens of the task's lines only.
    ranged = await c.text_document_semantic_tokens_range_async(
        types.SemanticTokensRangeParams(
            text_document=doc(uri), range=types.Range(start=types.Position(line=12, character=0), end=types.Position(line=14, character=0))
        )
    )
    assert decode(ranged.data, legend, SNIPPET, encoding) == [t for t in SNIPPET_TOKENS if t[0] in (12, 13)]


async def test_inlay_hints_give_each_tasks_worst_case(client):
    uri, text = await opened(client, "ci_pipeline.ezflow")
    hints = await client.text_document_inlay_hint_async(types.InlayHintParams(text_document=doc(uri), range=whole(text)))
    # After each task's name: its time (attempts × timeout + backoff) and money on its
    # dearest candidate runner (runner_large at $0.0004/s when both may run it).
    assert [(h.position, h.label) for h in hints] == [
        (pos(text, "task build", skip=10), "≤ 10m · ≤ $0.24"),
        (pos(text, "task test", skip=9), "≤ 24m15s · ≤ $0.576"),
        (pos(text, "task lint", skip=9), "≤ 3m · ≤ $0.072"),
        (pos(text, "task typecheck", skip=14), "≤ 5m · ≤ $0.12"),
        (pos(text, "task approve_deploy", skip=19), "≤ 30m"),
        (pos(text, "task deploy", skip=11), "≤ 10m · ≤ $0.24"),
    ]
    assert all(h.padding_left for h in hints)
    assert hints[1].tooltip.startswith(
        "Worst case of task `test` as `ezc check` proves budgets and the deadline: every attempt (3 attempts) running to its timeout."
    )
    # Only the hints in the range asked for (the lines of `lint`).
    lint = pos(text, "task lint").line
    some = await client.text_document_inlay_hint_async(
        types.InlayHintParams(
            text_document=doc(uri), range=types.Range(start=types.Position(line=lint, character=0), end=types.Position(line=lint + 8, character=0))
        )
    )
    assert [h.label for h in some] == ["≤ 3m · ≤ $0.072"]
