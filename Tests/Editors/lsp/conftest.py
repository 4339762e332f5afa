"""`ezc lsp` driven by an independent client (pytest-lsp on pygls), as an editor runs it:
a subprocess on pipes, `$EZC lsp --stdlib <repo>/stdlib`.

EZC names the built compiler (default `.build/debug/ezc` in the repository). Each test
gets its own server: it starts in milliseconds, and no test sees another's documents.
The fixtures shut the server down and check that it exits with status 0, as an editor
that sent `shutdown` then `exit` expects."""

from __future__ import annotations

import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from lsp_session import CONFIG

UTF8_CAPABILITIES = types.ClientCapabilities(
    general=types.GeneralClientCapabilities(
        position_encodings=[types.PositionEncodingKind.Utf8, types.PositionEncodingKind.Utf16]
    )
)


async def start(client: LanguageClient, capabilities: types.ClientCapabilities, encoding: str):
    # No workspace folder: references and rename search the open documents only (a test
    # that wants a folder adds its tmp_path with didChangeWorkspaceFolders), not every
    # fixture of the repository.
    result = await client.initialize_session(types.InitializeParams(capabilities=capabilities, root_uri=None))
    assert result.capabilities.position_encoding == encoding
    assert result.server_info.name == "ezc"
    # What the server announced, for the tests that read it (the semantic tokens' legend).
    client.server_capabilities = result.capabilities


async def stop(client: LanguageClient):
    await client.shutdown_session()
    # `shutdown` then `exit`: the status an editor reads as a clean stop.
    assert client._server.returncode == 0, f"ezc lsp exited with {client._server.returncode}"


@pytest_lsp.fixture(config=CONFIG)
async def client(lsp_client: LanguageClient):
    """A client with default capabilities: positions in UTF-16, the protocol's default."""
    await start(lsp_client, types.ClientCapabilities(), "utf-16")
    yield
    await stop(lsp_client)


@pytest_lsp.fixture(config=CONFIG)
async def client_utf8(lsp_client: LanguageClient):
    """A client that offers UTF-8 positions first: the server takes them."""
    await start(lsp_client, UTF8_CAPABILITIES, "utf-8")
    yield
    await stop(lsp_client)
