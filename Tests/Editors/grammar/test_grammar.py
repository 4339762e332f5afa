"""grammar/ezflow.tmLanguage.json on a real TextMate engine: every example and stdlib
file is scoped throughout without an invalid scope, and a table of snippets pins the
exact scope of each construct of the language."""

import copy
import json
import re

import onigurumacffi
import pytest

from textmate_engine import GRAMMAR, ROOT, char_scopes, load, position, problems

CORPUS = sorted((ROOT / "examples").glob("*.ezflow")) + sorted((ROOT / "stdlib").glob("*.ezflow"))


@pytest.fixture(scope="module")
def parser():
    return load()


def scopes_of(parser, snippet, needle, occurrence=1):
    """The scope stacks of the characters of the `occurrence`-th `needle` in `snippet`."""
    at = -1
    for _ in range(occurrence):
        at = snippet.find(needle, at + 1)
        assert at >= 0, f"{needle!r} not found {occurrence} times in {snippet!r}"
    table = char_scopes(parser, snippet)
    return [table.get(position(snippet, at + i), []) for i in range(len(needle))]


# ------------------------------------------------------------------ the corpus


def test_corpus_is_there():
    assert len(CORPUS) >= 10, CORPUS


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_example_is_scoped_without_invalid_text(parser, path):
    found = problems(parser, path.read_text())
    assert found == [], f"{path.relative_to(ROOT)}:\n" + "\n".join(found[:20])


# The lexer's refusals (E0100 a character, E0101 an unterminated string, E0102 an escape,
# E0103 a unit) are what a grammar can see: their fixtures must show an invalid scope.
# Every other fixture, refused later by the parser or the checker if at all, must not.
LEXICAL = ("E0100_", "E0101_", "E0102_", "E0103_")
FIXTURES = sorted((ROOT / "Tests" / "Fixtures").rglob("*.ezflow"))


def test_fixtures_are_there():
    assert len(FIXTURES) >= 100 and len([f for f in FIXTURES if f.name.startswith(LEXICAL)]) >= 4


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: str(p.relative_to(ROOT / "Tests" / "Fixtures")))
def test_fixture_is_invalid_exactly_where_the_lexer_refuses_it(parser, path):
    found = problems(parser, path.read_text(errors="replace"))  # E0108's file is not UTF-8
    if path.name.startswith(LEXICAL):
        assert found != [] and all("invalid.illegal" in f for f in found), found
    else:
        assert found == [], f"{path.relative_to(ROOT)}:\n" + "\n".join(found[:20])


# ------------------------------------------------------------- the samples

TASK = 'task build {\n  run: "make"\n}'

# (snippet, substring, the innermost scope of each of its characters, occurrence)
SAMPLES = [
    # comments
    ("# a note", "# a note", None, 1),  # checked below: the whole line is a comment
    ("# a note", "#", "punctuation.definition.comment.ezflow", 1),
    ("timeout: 5m # five minutes", "five minutes", "comment.line.number-sign.ezflow", 1),
    ('run: "echo #1" # why', "#1", "string.quoted.double.ezflow", 1),
    ('run: "echo #1" # why', "why", "comment.line.number-sign.ezflow", 1),
    ("// not ezflow", "// not ezflow", "invalid.illegal.comment.ezflow", 1),
    # imports
    ('import "std/retry" as r', "import", "keyword.control.import.ezflow", 1),
    ('import "std/retry" as r', "std/retry", "string.quoted.double.ezflow", 1),
    ('import "std/retry" as r', "as", "keyword.control.as.ezflow", 1),
    ('import "std/retry" as presets', "presets", "entity.name.namespace.ezflow", 1),
    # block kinds and the names they declare
    (TASK, "task", "storage.type.task.ezflow", 1),
    (TASK, "build", "entity.name.function.task.ezflow", 1),
    (TASK, "{", "punctuation.section.braces.begin.ezflow", 1),
    (TASK, "}", "punctuation.section.braces.end.ezflow", 1),
    ("workflow ci {\n}", "ci", "entity.name.function.workflow.ezflow", 1),
    ("group ingest {\n}", "ingest", "entity.name.function.group.ezflow", 1),
    ("agent runner {\n}", "runner", "entity.name.type.agent.ezflow", 1),
    ("role ci {\n}", "ci", "entity.name.type.role.ezflow", 1),
    ("policy no_prod {\n}", "no_prod", "entity.name.type.policy.ezflow", 1),
    ("secret key {\n}", "key", "entity.name.type.secret.ezflow", 1),
    ("retry standard {\n}", "standard", "entity.name.type.retry.ezflow", 1),
    ("error rate_limited", "error", "storage.type.error.ezflow", 1),
    ("error rate_limited", "rate_limited", "entity.name.type.error-class.ezflow", 1),
    ("  budget {\n    money: $1\n  }", "budget", "storage.type.budget.ezflow", 1),
    ("  finally {\n  }", "finally", "storage.type.finally.ezflow", 1),
    ("    retry {\n      attempts: 2\n    }", "retry", "storage.type.retry.ezflow", 1),
    ("enum Env { dev, prod }", "enum", "storage.type.enum.ezflow", 1),
    ("enum Env { dev, prod }", "Env", "entity.name.type.enum.ezflow", 1),
    ("enum Env { dev, prod }", "prod", "variable.other.enummember.ezflow", 1),
    ("type Point { x: int, tags: list[string]? }", "Point", "entity.name.type.record.ezflow", 1),
    ("type Point { x: int, tags: list[string]? }", "x", "variable.other.property.ezflow", 1),
    ("type Point { x: int, tags: list[string]? }", "list", "support.type.builtin.ezflow", 1),
    ("type Point { x: int, tags: list[string]? }", "?", "keyword.operator.optional.ezflow", 1),
    # inputs and outputs: a name, a type, a default
    ('input env: Env = Env.dev', "input", "storage.type.input.ezflow", 1),
    ('input env: Env = Env.dev', "env", "entity.name.variable.input.ezflow", 1),
    ('input env: Env = Env.dev', "Env", "entity.name.type.ezflow", 1),
    ('input env: Env = Env.dev', "=", "keyword.operator.assignment.ezflow", 1),
    ('input files: list[string] = ["a"]', "string", "support.type.primitive.ezflow", 1),
    ("output stats: map[string] {\n  on_conflict: merge\n}", "stats", "entity.name.variable.output.ezflow", 1),
    ("output stats: map[string] {\n  on_conflict: merge\n}", "merge", "support.constant.property-value.ezflow", 1),
    ("output report: file?", "file", "support.type.primitive.ezflow", 1),
    ("output a: list[int], output b: int", "b", "entity.name.variable.output.ezflow", 1),
    ("output v: verdicts.Verdict", "verdicts", "entity.name.namespace.ezflow", 1),
    ("output v: verdicts.Verdict", "Verdict", "entity.name.type.ezflow", 1),
    # attributes: keys and fixed words
    (TASK, "run", "support.type.property-name.ezflow", 1),
    (TASK, ":", "punctuation.separator.key-value.ezflow", 1),
    ("  driver: exec", "exec", "support.constant.property-value.ezflow", 1),
    ("  allow: [run, approve]", "approve", "support.constant.property-value.ezflow", 1),
    ("  env: { HOME: inputs.home }", "HOME", "support.type.property-name.ezflow", 1),
    # error classes in a retry rule
    ("  on: [flaky_test, timeout, std.rate_limited]", "timeout", "support.constant.error-class.ezflow", 1),
    ("  on: [flaky_test, timeout, std.rate_limited]", "flaky_test", "entity.name.type.error-class.ezflow", 1),
    ("  on: [flaky_test, timeout, std.rate_limited]", "std", "entity.name.namespace.ezflow", 1),
    ("  on: [flaky_test, timeout, std.rate_limited]", "rate_limited", "entity.name.type.error-class.ezflow", 1),
    ("  on: [agent_error, output_error, transient]", "output_error", "support.constant.error-class.ezflow", 1),
    # strings, escapes, interpolation
    ('  run: "make all"', "make all", "string.quoted.double.ezflow", 1),
    ('  run: "make all"', '"', "punctuation.definition.string.begin.ezflow", 1),
    ('  run: "make all"', '"', "punctuation.definition.string.end.ezflow", 2),
    ('  run: "say \\"hi\\""', '\\"', "constant.character.escape.ezflow", 1),
    ('  run: "say \\"hi\\""', "hi", "string.quoted.double.ezflow", 1),
    ('  run: "cost: \\$5 \\\\ \\n"', "\\$", "constant.character.escape.ezflow", 1),
    ('  run: "cost: \\$5 \\\\ \\n"', "\\n", "constant.character.escape.ezflow", 1),
    ('  run: "bad \\q"', "\\q", "invalid.illegal.escape.ezflow", 1),
    ('  run: "echo \\${HOME}"', "{HOME}", "string.quoted.double.ezflow", 1),
    ('  run: "deploy ${inputs.env} now"', "${", "punctuation.section.interpolation.begin.ezflow", 1),
    ('  run: "deploy ${inputs.env} now"', "}", "punctuation.section.interpolation.end.ezflow", 1),
    ('  run: "deploy ${inputs.env} now"', "inputs", "variable.language.inputs.ezflow", 1),
    ('  run: "deploy ${inputs.env} now"', "env", "variable.other.property.ezflow", 1),
    ('  run: "deploy ${inputs.env} now"', " now", "string.quoted.double.ezflow", 1),
    ('  prompt: "${previous.review.outputs.comments ?? "none"}"', "none", "string.quoted.double.ezflow", 1),
    ('  prompt: "${previous.review.outputs.comments ?? "none"}"', "??", "keyword.operator.null-coalescing.ezflow", 1),
    ('  prompt: "${previous.review.outputs.comments ?? "none"}"', "review", "variable.other.object.task.ezflow", 1),
    ('  prompt: """\n    Review ${fetch.outputs.diff}\n    """', "Review ", "string.quoted.triple.ezflow", 1),
    ('  prompt: """\n    Review ${fetch.outputs.diff}\n    """', "fetch", "variable.other.object.task.ezflow", 1),
    ('  prompt: """\n    Review ${fetch.outputs.diff}\n    """', '"""', "punctuation.definition.string.end.ezflow", 2),
    ('  prompt: """He said "hi" to ${inputs.who}"""', "hi", "string.quoted.triple.ezflow", 1),
    ('  prompt: """He said "hi" to ${inputs.who}"""', "who", "variable.other.property.ezflow", 1),
    ('  url: "http://127.0.0.1:8080/v1"', "//127.0.0.1:8080", "string.quoted.double.ezflow", 1),
    ('  run: "${join(run.failures, ", ")}"', "join", "support.function.builtin.ezflow", 1),
    ('  run: "${join(run.failures, ", ")}"', ", ", "string.quoted.double.ezflow", 2),
    ('  run: "open\n  timeout: 1m', "timeout", "support.type.property-name.ezflow", 1),
    ('  run: "open\n  timeout: 1m', "n", "invalid.illegal.newline.ezflow", 2),
    # numbers and units
    ("  timeout: 30s", "30", "constant.numeric.duration.ezflow", 1),
    ("  timeout: 30s", "s", "keyword.other.unit.duration.ezflow", 1),
    ("  delay: 250ms", "ms", "keyword.other.unit.duration.ezflow", 1),
    ("  deadline: 1.5h", "1.5", "constant.numeric.duration.ezflow", 1),
    ("  money: $2.50", "$", "keyword.other.unit.currency.ezflow", 1),
    ("  money: $2.50", "2.50", "constant.numeric.money.ezflow", 1),
    ("  money: $2k", "k", "invalid.illegal.unit.ezflow", 1),
    ("  tokens: 10k tokens", "10", "constant.numeric.tokens.ezflow", 1),
    ("  tokens: 10k tokens", "k", "keyword.other.unit.magnitude.ezflow", 2),
    ("  tokens: 10k tokens", "tokens", "keyword.other.unit.tokens.ezflow", 2),
    ("  max_tokens: 500 tokens", "500", "constant.numeric.tokens.ezflow", 1),
    ("  tokens: 2M tokens", "M", "keyword.other.unit.magnitude.ezflow", 1),
    ("  time: 1h\n  tokens: 5k tokens", "h", "keyword.other.unit.duration.ezflow", 1),
    ("  time: 1h\n  tokens: 5k tokens", "tokens", "support.type.property-name.ezflow", 1),
    ("  tokens: 200k", "k", "invalid.illegal.unit.ezflow", 2),
    ("  delay: 5y", "y", "invalid.illegal.unit.ezflow", 2),
    ("  attempts: 3", "3", "constant.numeric.integer.ezflow", 1),
    ("  max_items: 1_000", "1_000", "constant.numeric.integer.ezflow", 1),
    ("  failure_rate: 0.05", "0.05", "constant.numeric.float.ezflow", 1),
    # constants, operators, references
    ("  fail_fast: false", "false", "constant.language.boolean.false.ezflow", 1),
    ("  allow_failure: true", "true", "constant.language.boolean.true.ezflow", 1),
    ("  when: x != null", "null", "constant.language.null.ezflow", 1),
    ('  when: "a" in tags', "in", "keyword.operator.expression.in.ezflow", 1),
    ("  when: !a && b || c", "!", "keyword.operator.logical.ezflow", 1),
    ("  when: !a && b || c", "||", "keyword.operator.logical.ezflow", 1),
    ("  when: n >= 2", ">=", "keyword.operator.comparison.ezflow", 1),
    ("  max: 2 * 3 - 1", "-", "keyword.operator.arithmetic.ezflow", 1),
    ("  when: a & b", "&", "invalid.illegal.character.ezflow", 1),
    ("  env: { IMAGE: build.outputs.image }", "build", "variable.other.object.task.ezflow", 1),
    ("  env: { IMAGE: build.outputs.image }", "outputs", "variable.language.outputs.ezflow", 1),
    ("  env: { IMAGE: build.outputs.image }", "image", "variable.other.property.ezflow", 1),
    ("  env: { IMAGE: build.outputs.image }", ".", "punctuation.accessor.ezflow", 1),
    ("  run: \"${publish.status}\"", "publish", "variable.other.object.task.ezflow", 1),
    ("  when: run.status == run_status.succeeded", "run", "variable.language.run.ezflow", 1),
    ("  when: run.status == run_status.succeeded", "run_status", "support.type.enum.ezflow", 1),
    ("  when: principal.team != task.tags", "principal", "variable.language.principal.ezflow", 1),
    ("  when: principal.team != task.tags", "task", "variable.language.task.ezflow", 1),
    ("  needs: [item.os]", "item", "variable.language.item.ezflow", 1),
    ('  prompt: "Round ${iteration}"', "iteration", "variable.language.iteration.ezflow", 1),
    ('  env: { T: "${secrets.token}" }', "secrets", "variable.language.secrets.ezflow", 1),
    ("  retry: retry.standard", "retry", "support.type.property-name.ezflow", 1),
    ("  retry: retry.standard", "retry", "variable.other.readwrite.ezflow", 2),
    ("  retry: retry.standard", "standard", "variable.other.property.ezflow", 1),
    ("  after: [build, test]", "test", "variable.other.readwrite.ezflow", 1),
    ("  after: [build, test]", ",", "punctuation.separator.comma.ezflow", 1),
    ("  when: len(keys(m)) > 0", "keys", "support.function.builtin.ezflow", 1),
    ("  when: len(keys(m)) > 0", "(", "punctuation.section.parens.begin.ezflow", 1),
    ("  a: 1; b: 2", ";", "punctuation.separator.semicolon.ezflow", 1),
    ("  exclude: [{ os: \"mac\" }]", "os", "support.type.property-name.ezflow", 1),
    ("  exclude: [{ os: \"mac\" }]", "[", "punctuation.section.brackets.begin.ezflow", 1),
    ("  prices: { \"gpt-4o\": { input: $0.0025 } }", "input", "support.type.property-name.ezflow", 1),
    ("  prices: { \"gpt-4o\": { input: $0.0025 } }", "gpt-4o", "string.quoted.double.ezflow", 1),
    ("  name: “quoted”", "“", "invalid.illegal.character.ezflow", 1),
]


@pytest.mark.parametrize("snippet,needle,scope,occurrence",
                         [s for s in SAMPLES if s[2] is not None],
                         ids=lambda v: v if isinstance(v, str) and len(v) < 40 else None)
def test_sample_scope(parser, snippet, needle, scope, occurrence):
    got = scopes_of(parser, snippet, needle, occurrence)
    innermost = [s[-1] if s else None for s in got]
    assert innermost == [scope] * len(needle), f"{needle!r} in {snippet!r}: {got}"


def test_comment_line_is_one_comment(parser):
    got = scopes_of(parser, "# a note", "# a note")
    assert all("comment.line.number-sign.ezflow" in s for s in got), got


def test_interpolation_is_embedded_in_its_string(parser):
    # Themes reset the string colour inside `meta.embedded`: the expression shows as code.
    for stack in scopes_of(parser, '  run: "deploy ${inputs.env} now"', "${inputs.env}"):
        assert stack[-3:-1] == ["string.quoted.double.ezflow", "meta.embedded.line.ezflow"] or \
            stack[-2:] == ["string.quoted.double.ezflow", "meta.embedded.line.ezflow"], stack
    for stack in scopes_of(parser, '  prompt: "${x ?? "none"}"', "none"):
        assert stack == ["source.ezflow", "string.quoted.double.ezflow", "meta.embedded.line.ezflow",
                         "string.quoted.double.ezflow"], stack


def test_a_string_stops_at_the_end_of_its_line(parser):
    # As the lexer does (E0101): the next line is code again.
    snippet = '  run: "open\n  timeout: 1m'
    assert scopes_of(parser, snippet, "1")[0][-1] == "constant.numeric.duration.ezflow"


def test_samples_cover_every_construct():
    assert len([s for s in SAMPLES if s[2]]) >= 30
    scopes = {s[2] for s in SAMPLES if s[2]}
    for part in ["comment", "storage.type", "entity.name", "support.type.property-name", "string",
                 "punctuation.section.interpolation", "constant.character.escape",
                 "constant.numeric", "keyword.other.unit", "constant.language.boolean", "error-class",
                 "keyword.operator", "variable.language", "keyword.control.import"]:
        assert any(part in s for s in scopes), part


# ----------------------------------------------- the grammar against the language

ATTRIBUTES = (ROOT / "docs" / "ATTRIBUTES.md").read_text()
UNNAMED = {"budget", "finally", "matrix", "repeat"}


def block_kinds():
    """Every block kind with attributes (docs/ATTRIBUTES.md, generated from the one
    table) and the kinds without any (grammar/ezflow.ebnf: finally, enum, type)."""
    kinds = re.findall(r"^## `([a-z_]+)`$", ATTRIBUTES, re.M)
    assert "task" in kinds and "workflow" in kinds, kinds
    return sorted(set(kinds) | {"finally", "enum", "type"})


def header(kind):
    if kind in UNNAMED:
        return f"{kind} {{\n}}"
    if kind in ("input", "output"):
        return f"{kind} thing: string"
    if kind == "enum":
        return "enum thing { a }"
    if kind == "type":
        return "type thing { a: int }"
    return f"{kind} thing {{\n}}"


@pytest.mark.parametrize("kind", block_kinds())
def test_every_block_kind_is_a_storage_type(parser, kind):
    snippet = header(kind)
    got = scopes_of(parser, snippet, kind)
    assert [s[-1] for s in got] == [f"storage.type.{kind}.ezflow"] * len(kind), got
    if kind not in UNNAMED:
        name = scopes_of(parser, snippet, "thing")[0][-1]
        assert name.startswith("entity.name."), (snippet, name)
    assert problems(parser, snippet) == []


def word_attributes():
    """(key, word) for every attribute that takes one word of a fixed set or a list of them."""
    pairs = []
    for key, words in re.findall(r"^\| `([a-z_]+)` \| (?:one of|list of) ((?:`[a-z_]+`(?:, )?)+) \|", ATTRIBUTES, re.M):
        pairs += [(key, w) for w in re.findall(r"`([a-z_]+)`", words)]
    assert ("driver", "exec") in pairs and ("allow", "approve") in pairs, pairs
    return pairs


@pytest.mark.parametrize("key,word", word_attributes())
def test_every_fixed_word_is_a_property_value(parser, key, word):
    snippet = f"  {key}: [{word}]" if key == "allow" else f"  {key}: {word}"
    assert scopes_of(parser, snippet, key)[0][-1] == "support.type.property-name.ezflow"
    got = scopes_of(parser, snippet, word, 2 if word == key else 1)
    assert [s[-1] for s in got] == ["support.constant.property-value.ezflow"] * len(word), (snippet, got)


def swift_strings(path, pattern):
    text = (ROOT / path).read_text()
    m = re.search(pattern, text, re.S)
    assert m, f"{pattern} not found in {path}"
    return re.findall(r'"([a-z_]+)"', m.group(1))


@pytest.mark.parametrize("name", swift_strings("Sources/EzflowCheck/SchemaInfo.swift",
                                               r"builtinErrorClasses = \[(.*?)\]"))
def test_every_builtin_error_class_is_known(parser, name):
    got = scopes_of(parser, f"  on: [{name}]", name)
    assert [s[-1] for s in got] == ["support.constant.error-class.ezflow"] * len(name), got


@pytest.mark.parametrize("name", swift_strings("Sources/EzflowCheck/ExprTyper.swift",
                                               r"static let functions: \[String: \(Int, String\)\] = \[(.*?)\n    \]"))
def test_every_builtin_function_is_known(parser, name):
    # The table's quoted words are the names (its signatures hold spaces and parentheses).
    got = scopes_of(parser, f"  when: {name}(x)", name)
    assert [s[-1] for s in got] == ["support.function.builtin.ezflow"] * len(name), got


@pytest.mark.parametrize("unit", ["ms", "s", "m", "h", "d"])
def test_every_duration_unit(parser, unit):
    # Sources/EzflowUnits/Units.swift, durationFactor: ms s m h d.
    got = scopes_of(parser, f"  delay: 12{unit}", f"12{unit}")
    assert [s[-1] for s in got] == ["constant.numeric.duration.ezflow"] * 2 + \
        ["keyword.other.unit.duration.ezflow"] * len(unit), got


# ------------------------------------------------------------ the grammar file


def rules(node):
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from rules(v)
    elif isinstance(node, list):
        for v in node:
            yield from rules(v)


def test_grammar_file_is_sound():
    g = json.loads(GRAMMAR.read_text())
    assert g["scopeName"] == "source.ezflow"
    assert g["fileTypes"] == ["ezflow"]
    for rule in rules([g["patterns"], g["repository"]]):
        for key in ("match", "begin", "end"):
            if isinstance(rule.get(key), str):
                onigurumacffi.compile(rule[key])  # raises on a regex Oniguruma refuses
        for key in ("name", "contentName"):
            if isinstance(rule.get(key), str):
                assert rule[key].endswith(".ezflow"), rule[key]
        include = rule.get("include")
        if isinstance(include, str):
            assert include.startswith("#") and include[1:] in g["repository"], include


def test_a_broken_grammar_fails_the_corpus_check():
    # The corpus check can fail: without string rules, examples show unscoped text.
    g = json.loads(GRAMMAR.read_text())
    broken = copy.deepcopy(g)
    broken["repository"]["string"] = {"patterns": []}
    try:
        text = (ROOT / "examples" / "ci_pipeline.ezflow").read_text()
        assert problems(load(broken), text) != []
    finally:
        load(g)  # the engine keeps one parser per scope name: restore the real one
