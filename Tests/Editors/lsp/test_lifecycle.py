"""The session's edges, with a client started by hand: requests before `initialize` and
after `shutdown`, and the exit status an editor reads."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidRequest

from lsp_session import CONFIG, EXAMPLES, TIMEOUT, at, uri_of


@contextlib.asynccontextmanager
async def started():
    client = await CONFIG.start()
    # pytest-lsp checks requests against the client's capabilities, which `initialize` sets.
    client.capabilities = types.ClientCapabilities()
    try:
        yield client
    finally:
        # A test that failed halfway leaves the server running: end it (pygls waits for it).
        if client._server.returncode is None:
            client._server.kill()
        await client.stop()


async def exit_status(client) -> int:
    await asyncio.wait_for(client._server.wait(), TIMEOUT)
    return client._server.returncode


async def test_a_request_before_initialize_is_refused():
    async with started() as client:
        hover = types.HoverParams(**at(uri_of(EXAMPLES / "saga.ezflow"), types.Position(line=0, character=0)))
        with pytest.raises(JsonRpcException) as e:
            await client.text_document_hover_async(hover)
        assert (e.value.code, e.value.message) == (-32002, "the server is not initialized: send `initialize` first")
        # Then initialized, the same request is answered (nothing there: a comment).
        await client.initialize_session(types.InitializeParams(capabilities=types.ClientCapabilities()))
        assert await client.text_document_hover_async(hover) is None
        # `initialize` twice is an invalid request.
        with pytest.raises(JsonRpcInvalidRequest) as e:
            await client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities()))
        assert (e.value.code, e.value.message) == (-32600, "`initialize` was already sent")
        await client.shutdown_session()
        assert client._server.returncode == 0


async def test_after_shutdown_only_exit():
    async with started() as client:
        await client.initialize_session(types.InitializeParams(capabilities=types.ClientCapabilities()))
        await client.shutdown_async(None)
        with pytest.raises(JsonRpcInvalidRequest) as e:
            await client.text_document_hover_async(
                types.HoverParams(**at(uri_of(EXAMPLES / "saga.ezflow"), types.Position(line=0, character=0)))
            )
        assert e.value.message == "the server is shutting down: only `exit` is accepted"
        client.exit(None)
        assert await exit_status(client) == 0


async def test_exit_without_shutdown_is_status_1():
    # The protocol's rule: an editor that did not ask for a shutdown sees a failure.
    async with started() as client:
        await client.initialize_session(types.InitializeParams(capabilities=types.ClientCapabilities()))
        client.exit(None)
        assert await exit_status(client) == 1


async def test_input_closed_after_shutdown_is_status_0():
    async with started() as client:
        await client.initialize_session(types.InitializeParams(capabilities=types.ClientCapabilities()))
        await client.shutdown_async(None)
        client._server.stdin.close()
        assert await exit_status(client) == 0
