"""Hover and go to definition on the examples: the markdown an editor shows, and where
it jumps, in this file or into the standard library."""

from __future__ import annotations

from lsprotocol import types

from lsp_session import EXAMPLES, STDLIB, at, name_in, open_doc, pos, published, span, uri_of


async def opened(client, name: str) -> tuple[str, str]:
    path = EXAMPLES / name
    uri = open_doc(client, path)
    assert list((await published(client, uri)).diagnostics) == []
    return uri, path.read_text()


async def hover(client, uri: str, p: types.Position) -> tuple[str, types.Range]:
    h = await client.text_document_hover_async(types.HoverParams(**at(uri, p)))
    assert h.contents.kind == types.MarkupKind.Markdown
    return h.contents.value, h.range


async def definition(client, uri: str, p: types.Position):
    return await client.text_document_definition_async(types.DefinitionParams(**at(uri, p)))


async def test_hover_on_a_task_name(client):
    uri, text = await opened(client, "stdlib_pipeline.ezflow")
    # On its declaration: the action, the agent, the stdlib rule it retries with, and
    # what it may cost (5m on `agents.shell` at $0.0001/s = $0.03, 3 attempts) and take
    # (3 × 5m, and 1s + 2s of exponential backoff between them).
    value, r = await hover(client, uri, pos(text, "task release", skip=7))
    assert value == (
        "```ezflow\ntask `release`\n```\n\n"
        "action `run`; agent: picked from the pool; retry: 3 attempts, exponential backoff; retries timeout, transient\n"
        "worst case per attempt: $0.03; 3 attempts: $0.09\n"
        "worst case time: 15m3s (all attempts, their timeouts and backoff)"
    )
    assert r == types.Range(start=pos(text, "task release", skip=5), end=pos(text, "task release", skip=12))


async def test_hover_on_a_task_used_in_a_string(client):
    uri, text = await opened(client, "ci_pipeline.ezflow")
    # `build` in `${build.outputs.image}`, the doc comment-less task on runner_large
    # (needs docker): 10m at $0.0004/s.
    p = pos(text, "${build.outputs.image}", skip=3)
    value, r = await hover(client, uri, p)
    assert value == (
        "```ezflow\ntask `build`\n```\n\naction `run`; agent: picked from the pool\n"
        "worst case per attempt: $0.24\nworst case time: 10m"
    )
    assert r == types.Range(start=pos(text, "${build.outputs.image}", skip=2), end=pos(text, "${build.outputs.image}", skip=7))


async def test_hover_on_an_input_shows_its_type_and_comment(client):
    uri, text = await opened(client, "ci_matrix.ezflow")
    value, r = await hover(client, uri, pos(text, "inputs.event", skip=8))
    assert value == (
        "```ezflow\ninput `event`: string\n```\n\n"
        "What triggered the run, as GitHub's `github.event_name` and `github.ref`."
    )
    assert r == span(text, "inputs.event")


async def test_hover_on_an_attribute_key(client):
    uri, text = await opened(client, "ci_pipeline.ezflow")
    value, r = await hover(client, uri, pos(text, "timeout: 10m", skip=2))
    assert value == "```ezflow\nattribute `timeout` of `task`\n```\n\neach attempt is stopped after this long"
    assert r == types.Range(start=pos(text, "timeout: 10m"), end=pos(text, "timeout: 10m", skip=7))
    value, _ = await hover(client, uri, pos(text, "deadline: 90m", skip=2))
    assert value == "```ezflow\nattribute `deadline` of `workflow`\n```\n\nthe whole run must finish within this time"


async def test_hover_on_a_stdlib_retry_rule(client):
    uri, text = await opened(client, "stdlib_pipeline.ezflow")
    value, r = await hover(client, uri, pos(text, "retry.standard", skip=8))
    # The comment above `retry standard {` in stdlib/retry.ezflow, joined into one line.
    assert value == (
        "```ezflow\nretry `standard`\n```\n\n"
        "The sensible default for idempotent work: a few quick retries on timeouts "
        "and transient failures (lost connections, killed runners)."
    )
    assert r == types.Range(start=pos(text, "retry.standard", skip=6), end=pos(text, "retry.standard", skip=14))


async def test_definition_of_a_task_used_in_a_string(client):
    uri, text = await opened(client, "ci_pipeline.ezflow")
    loc = await definition(client, uri, pos(text, "${build.outputs.image}", skip=3))
    assert loc == types.Location(uri=uri, range=types.Range(start=pos(text, "task build", skip=5), end=pos(text, "task build", skip=10)))


async def test_definition_of_an_input(client):
    uri, text = await opened(client, "ci_pipeline.ezflow")
    loc = await definition(client, uri, pos(text, "inputs.environment", skip=8))
    assert loc == types.Location(
        uri=uri, range=types.Range(start=pos(text, "input environment", skip=6), end=pos(text, "input environment", skip=17))
    )


async def test_definition_into_the_stdlib(client):
    uri, text = await opened(client, "stdlib_pipeline.ezflow")
    retry = (STDLIB / "retry.ezflow").read_text()
    loc = await definition(client, uri, pos(text, "retry.network", skip=8))
    assert loc.uri.endswith("/stdlib/retry.ezflow")
    assert loc.uri == uri_of(STDLIB / "retry.ezflow")
    assert loc.range == types.Range(start=types.Position(line=59, character=6), end=types.Position(line=59, character=13))
    assert loc.range == types.Range(start=pos(retry, "retry network", skip=6), end=pos(retry, "retry network", skip=13))

    loc = await definition(client, uri, pos(text, "roles.developer", skip=7))
    assert loc == types.Location(
        uri=uri_of(STDLIB / "roles.ezflow"),
        range=types.Range(start=types.Position(line=20, character=5), end=types.Position(line=20, character=14)),
    )


async def test_nothing_to_show_on_a_comment(client):
    uri, text = await opened(client, "ci_pipeline.ezflow")
    p = pos(text, "# CI pipeline", skip=4)
    assert await client.text_document_hover_async(types.HoverParams(**at(uri, p))) is None
    assert await definition(client, uri, p) is None


async def test_the_yaml_surface_answers_the_same(client):
    # The YAML twin of the example: the same hover and the same jump into stdlib/.
    uri, text = await opened(client, "stdlib_pipeline.ezflow.yaml")
    p = pos(text, "retry.standard", skip=8)
    value, r = await hover(client, uri, p)
    assert value.startswith("```ezflow\nretry `standard`\n```\n\nThe sensible default for idempotent work:")
    assert r == types.Range(start=pos(text, "retry.standard", skip=6), end=pos(text, "retry.standard", skip=14))
    loc = await definition(client, uri, p)
    assert loc == types.Location(
        uri=uri_of(STDLIB / "retry.ezflow"),
        range=types.Range(start=types.Position(line=26, character=6), end=types.Position(line=26, character=14)),
    )


async def test_error_classes_in_a_retry_rule(client):
    uri, text = await opened(client, "ci_pipeline.ezflow")
    # A user error class: its comment, and its declaration `error flaky_test`.
    p = pos(text, "on: [flaky_test, timeout", skip=6)
    value, r = await hover(client, uri, p)
    assert value == (
        "```ezflow\nerror class `flaky_test`\n```\n\n"
        "A test run that failed in a way known to be nondeterministic; the test runner "
        "reports it as this error class so only such failures are retried."
    )
    assert r == types.Range(start=pos(text, "on: [flaky_test", skip=5), end=pos(text, "on: [flaky_test", skip=15))
    loc = await definition(client, uri, p)
    assert loc == types.Location(uri=uri, range=types.Range(start=pos(text, "error flaky_test", skip=6), end=pos(text, "error flaky_test", skip=16)))
    # A built-in one: named so, with nowhere to go.
    p = pos(text, "flaky_test, timeout", skip=13)
    value, _ = await hover(client, uri, p)
    assert value == "```ezflow\nbuilt-in error class `timeout`\n```"
    assert await definition(client, uri, p) is None


async def test_hover_on_a_role_gives_its_effective_permissions(client):
    # std/roles' releaser holds nothing of its own: all comes up the ladder
    # releaser > reviewer (approve) > developer (run, the std/agents templates).
    uri, text = await opened(client, "stdlib_pipeline.ezflow")
    value, r = await hover(client, uri, pos(text, "approvers: [roles.releaser]", skip=19))
    assert value == (
        "```ezflow\nrole `releaser`\n```\n\n"
        "May approve releases; holds everything a reviewer holds.\n"
        "effective permissions: allow approve, run; agents: claude, gpt, shell, simulated, webhook; secrets: none "
        "(with what it inherits from developer, reviewer)"
    )
    assert r == name_in(text, "approvers: [roles.releaser]", "releaser")
