"""The server under test and what the tests do as an editor would: open a file, edit it,
wait for its diagnostics, and find positions by the text at them (in UTF-16 code units
or UTF-8 bytes)."""

from __future__ import annotations

import asyncio
import os
import pathlib

from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

REPO = pathlib.Path(__file__).resolve().parents[3]
STDLIB = REPO / "stdlib"
EXAMPLES = REPO / "examples"
EZC = os.environ.get("EZC") or str(REPO / ".build" / "debug" / "ezc")

# How long a test waits for a notification before it fails (the server answers in ms).
TIMEOUT = 10.0


def make_client() -> LanguageClient:
    """pytest-lsp's client, keeping every `publishDiagnostics` per URI in order (the
    stock one keeps only the last list, and without its version)."""
    client = LanguageClient()
    features = dict(DEFAULT_CLIENT_FEATURES)

    def publish(client: LanguageClient, params: types.PublishDiagnosticsParams):
        client.diagnostics[params.uri] = params.diagnostics
        client.published.setdefault(params.uri, []).append(params)

    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = publish
    register_lsp_features(client, features)
    client.published = {}
    return client


CONFIG = ClientServerConfig(server_command=[EZC, "lsp", "--stdlib", str(STDLIB)], client_factory=make_client)


def uri_of(path: pathlib.Path) -> str:
    return path.resolve().as_uri()


def open_doc(client, path: pathlib.Path, text: str | None = None, version: int = 1) -> str:
    """didOpen of `path` with `text` (default: what is on disk); returns its URI."""
    uri = uri_of(path)
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="ezflow", version=version, text=path.read_text() if text is None else text
            )
        )
    )
    return uri


def change(client, uri: str, version: int, *edits: tuple[types.Range, str]):
    """One incremental didChange with these edits, applied in order."""
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[
                types.TextDocumentContentChangePartial(range=r, text=t) for r, t in edits
            ],
        )
    )


async def published(client, uri: str, count: int = 1) -> types.PublishDiagnosticsParams:
    """The `count`th publishDiagnostics for `uri`, once it has arrived."""

    async def wait():
        while len(client.published.get(uri, [])) < count:
            await asyncio.sleep(0.005)

    try:
        await asyncio.wait_for(wait(), TIMEOUT)
    except TimeoutError:
        got = client.published.get(uri, [])
        raise AssertionError(f"publish #{count} for {uri} never came (got {len(got)}: {got})") from None
    return client.published[uri][count - 1]


def column(line: str, index: int, encoding: str) -> int:
    """The LSP character of `line[index]`: UTF-16 code units or UTF-8 bytes before it."""
    prefix = line[:index]
    return len(prefix.encode("utf-16-le")) // 2 if encoding == "utf-16" else len(prefix.encode("utf-8"))


def pos(text: str, needle: str, n: int = 1, skip: int = 0, encoding: str = "utf-16") -> types.Position:
    """Where the `n`th `needle` in `text` starts, `skip` characters (code points) into it."""
    seen = 0
    for i, line in enumerate(text.split("\n")):
        start = 0
        while (k := line.find(needle, start)) >= 0:
            seen += 1
            if seen == n:
                return types.Position(line=i, character=column(line, k + skip, encoding))
            start = k + 1
    raise AssertionError(f"`{needle}` #{n} is not in the text")


def span(text: str, needle: str, n: int = 1, encoding: str = "utf-16") -> types.Range:
    """The range of the `n`th `needle` (on one line)."""
    start = pos(text, needle, n, 0, encoding)
    end = pos(text, needle, n, len(needle), encoding)
    return types.Range(start=start, end=end)


def at(uri: str, p: types.Position) -> dict:
    return {"text_document": types.TextDocumentIdentifier(uri=uri), "position": p}


def offset(text: str, p: types.Position, encoding: str = "utf-16") -> int:
    """The string index of an LSP position in `text`."""
    lines = text.split("\n")
    start = sum(len(line) + 1 for line in lines[: p.line])
    line = lines[p.line]
    for i in range(len(line) + 1):
        if column(line, i, encoding) >= p.character:
            return start + i
    return start + len(line)


def apply_edits(text: str, edits, encoding: str = "utf-16") -> str:
    """`TextEdit`s applied as an editor does: from the last one back."""
    for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        text = text[: offset(text, e.range.start, encoding)] + e.new_text + text[offset(text, e.range.end, encoding) :]
    return text


def name_in(text: str, needle: str, name: str, n: int = 1) -> types.Range:
    """The range of `name` inside the `n`th `needle` (`name_in(t, "after: [build]", "build")`)."""
    k = needle.index(name)
    return types.Range(start=pos(text, needle, n, k), end=pos(text, needle, n, k + len(name)))


def whole(text: str) -> types.Range:
    """The range of the whole text (UTF-16), as a full replacement through an incremental change."""
    last = text.split("\n")[-1]
    return types.Range(start=types.Position(line=0, character=0), end=types.Position(line=text.count("\n"), character=column(last, len(last), "utf-16")))
