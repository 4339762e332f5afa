"""Loopback LLM server that checks requests against the official SDKs' own types.

Started by Tests/EzflowAgentsTests/SDKValidationTests.swift with the python of the venv
that scripts/test.sh makes (EZFLOW_SDK_PYTHON; pinned `openai` and `anthropic`).

  POST /v1/chat/completions  body validated as openai's CompletionCreateParams(Non)Streaming
  POST /v1/messages          body validated as anthropic's MessageCreateParams(Non)Streaming

Every TypedDict of both SDKs is made to refuse unknown keys (pydantic ignores them by
default), and lazily validated iterables are drained, so a body passes only when every
key and value is one the SDK itself would send. A valid request is answered with a body
built through the SDK's response model (`ChatCompletion`, `Message`) and dumped as JSON;
an invalid one with status 400 and the format's error body naming what pydantic refused.
Headers are checked too (Bearer key; x-api-key + anthropic-version).

Binds 127.0.0.1 on a port the system chooses and prints `PORT <n>` on its first line.
Exits when its stdin closes, so a test that dies does not leave it behind.
"""
import importlib
import json
import pkgutil
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anthropic.types
import openai.types
from anthropic.types import Message
from anthropic.types import message_create_params as anthropic_params
from openai.types.chat import ChatCompletion
from openai.types.chat import completion_create_params as openai_params
from pydantic import TypeAdapter
from typing_extensions import is_typeddict


def forbid_extra_keys(package):
    """Sets `extra: forbid` on every TypedDict the SDK package defines."""
    root = package.__name__.split(".")[0]
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        try:
            module = importlib.import_module(info.name)
        except Exception:  # an optional extra the venv does not carry
            continue
        for value in vars(module).values():
            if isinstance(value, type) and is_typeddict(value) and value.__module__.startswith(root):
                value.__pydantic_config__ = {"extra": "forbid", "arbitrary_types_allowed": True}


forbid_extra_keys(openai.types)
forbid_extra_keys(anthropic.types)

ADAPTERS = {
    ("openai", False): TypeAdapter(openai_params.CompletionCreateParamsNonStreaming),
    ("openai", True): TypeAdapter(openai_params.CompletionCreateParamsStreaming),
    ("anthropic", False): TypeAdapter(anthropic_params.MessageCreateParamsNonStreaming),
    ("anthropic", True): TypeAdapter(anthropic_params.MessageCreateParamsStreaming),
}


def drain(value):
    """Consumes the iterators pydantic returns for `Iterable[...]` fields (they validate lazily)."""
    if isinstance(value, dict):
        return {k: drain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [drain(v) for v in value]
    if hasattr(value, "__next__"):
        return [drain(v) for v in value]
    return value


def validate(fmt, body):
    if not isinstance(body, dict):
        raise ValueError("the body is not a JSON object")
    return drain(ADAPTERS[(fmt, body.get("stream") is True)].validate_python(body))


def answer_text(body):
    last = body["messages"][-1]["content"]
    return "echo: " + (last if isinstance(last, str) else json.dumps(last))


def openai_answer(body):
    content = answer_text(body)
    if "response_format" in body:
        content = json.dumps({"answer": content})
    return ChatCompletion.model_validate({
        "id": "chatcmpl-sdk", "object": "chat.completion", "created": 0, "model": body["model"],
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    }).model_dump_json(exclude_unset=True)


def anthropic_answer(body):
    if "tools" in body:
        block = {"type": "tool_use", "id": "toolu_sdk", "name": body["tools"][0]["name"], "input": {"answer": answer_text(body)}}
    else:
        block = {"type": "text", "text": answer_text(body)}
    return Message.model_validate({
        "id": "msg_sdk", "type": "message", "role": "assistant", "model": body["model"], "content": [block],
        "stop_reason": "tool_use" if "tools" in body else "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 11, "output_tokens": 7, "cache_creation_input_tokens": 2, "cache_read_input_tokens": 3},
    }).model_dump_json(exclude_unset=True)


def header_problem(fmt, headers):
    if fmt == "openai":
        return None if (headers.get("Authorization") or "").startswith("Bearer ") else "missing `Authorization: Bearer`"
    if not headers.get("x-api-key"):
        return "missing `x-api-key`"
    if headers.get("anthropic-version") != "2023-06-01":
        return "missing `anthropic-version: 2023-06-01`"
    return None


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        fmt = {"/v1/chat/completions": "openai", "/v1/messages": "anthropic"}.get(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if fmt is None:
            return self.reply(404, {"error": {"message": "no endpoint " + self.path}})
        problem = header_problem(fmt, self.headers)
        body = None
        if problem is None:
            try:
                body = json.loads(raw)
                validate(fmt, body)
            except Exception as e:  # pydantic's ValidationError, or bad JSON
                problem = str(e)
        if problem is not None:
            error = {"type": "error", "error": {"type": "invalid_request_error", "message": problem}} if fmt == "anthropic" \
                else {"error": {"message": problem, "type": "invalid_request_error"}}
            return self.reply(400, error)
        self.reply(200, None, (openai_answer if fmt == "openai" else anthropic_answer)(body))

    def reply(self, status, obj, text=None):
        data = (text if text is not None else json.dumps(obj)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("PORT", server.server_address[1], flush=True)
    sys.stdin.read()  # until the test closes it (or dies)
    server.shutdown()


if __name__ == "__main__":
    main()
