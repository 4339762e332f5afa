"""The TextMate engine the grammar tests run on (textmate-grammar-python, an Oniguruma
port of the TextMate tokenizer), and the questions they ask of it: the scopes of each
character of a text, and what in a text is left unscoped or scoped as invalid."""

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
GRAMMAR = ROOT / "grammar" / "ezflow.tmLanguage.json"


def _import_engine():
    # Importing the engine creates a `.textmate_cache` directory in the working
    # directory (its optional on-disk cache, unused here): import it from a scratch
    # directory so the checkout stays clean.
    here = os.getcwd()
    scratch = tempfile.mkdtemp(prefix="ezflow-textmate-")
    try:
        os.chdir(scratch)
        from textmate_grammar.parsers.base import LanguageParser
    finally:
        os.chdir(here)
        shutil.rmtree(scratch, ignore_errors=True)
    # The engine logs every stretch of text no rule matched (a string's plain text
    # included) as a warning; the tests look at the scopes instead.
    logging.getLogger("textmate_grammar").setLevel(logging.ERROR)
    return LanguageParser


LanguageParser = _import_engine()


def load(grammar=None):
    """A tokenizer for `grammar` (a dict), by default the committed grammar file."""
    if grammar is None:
        grammar = json.loads(GRAMMAR.read_text())
    return LanguageParser(grammar)


def char_scopes(parser, text):
    """{(line, column): [scope, ...]} for every character of `text`, outermost scope first."""
    element = parser.parse_string(text)
    out = {}
    if element is None:
        return out
    for (line, col), content, scopes in element.flatten():
        for i in range(len(content)):
            out[(line, col + i)] = scopes
    return out


def position(text, offset):
    """(line, column) of a character offset, as the engine counts them."""
    before = text[:offset]
    return before.count("\n"), offset - (before.rfind("\n") + 1)


def problems(parser, text):
    """Where the grammar fails a text: every non-blank character that got no scope but
    `source.ezflow` or `meta.*`, and every one scoped `invalid.*`, as readable lines."""
    scopes = char_scopes(parser, text)
    found = []
    for offset, ch in enumerate(text):
        if ch.isspace():
            continue
        line, col = position(text, offset)
        s = scopes.get((line, col), [])
        own = [x for x in s if x != "source.ezflow" and not x.startswith("meta.")]
        bad = [x for x in s if x.startswith("invalid.")]
        if not own or bad:
            source_line = text.split("\n")[line]
            found.append(f"{line + 1}:{col + 1}: {ch!r} has scopes {s} in {source_line.strip()!r}")
    return found
