"""editors/vscode: the manifest names files that exist and the grammar of grammar/, the
copy step reproduces that grammar, the language configuration matches the language
(checked against the grammar and with node's own regular expressions, as VS Code reads
them), and extension.js starts `ezc lsp` as the settings say (run in node against
stand-ins for the `vscode` API, which only VS Code itself provides)."""

import json
import shutil
import subprocess
import textwrap

import pytest

from textmate_engine import GRAMMAR, ROOT, char_scopes, load, position

EXT = ROOT / "editors" / "vscode"
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")


def manifest():
    return json.loads((EXT / "package.json").read_text())


def language_configuration():
    return json.loads((EXT / "language-configuration.json").read_text())


def test_manifest_declares_the_language_and_its_files():
    m = manifest()
    assert m["name"] == "ezflow"
    assert (EXT / m["main"]).is_file()
    assert m["activationEvents"] == ["onLanguage:ezflow"]
    [lang] = m["contributes"]["languages"]
    assert lang["id"] == "ezflow"
    assert lang["extensions"] == [".ezflow"]
    assert (EXT / lang["configuration"]).is_file()
    [grammar] = m["contributes"]["grammars"]
    assert grammar["language"] == "ezflow"
    assert grammar["scopeName"] == json.loads(GRAMMAR.read_text())["scopeName"] == "source.ezflow"
    assert (EXT / grammar["path"]).is_file()
    setting = m["contributes"]["configuration"]["properties"]["ezflow.server.path"]
    assert setting["type"] == "string" and setting["default"] == "ezc"
    assert "vscode-languageclient" in m["dependencies"]
    assert (EXT / "README.md").is_file()


def test_packaged_grammar_is_the_repository_grammar():
    packaged = EXT / manifest()["contributes"]["grammars"][0]["path"]
    assert packaged.read_bytes() == GRAMMAR.read_bytes(), \
        "editors/vscode/syntaxes is stale: cp grammar/ezflow.tmLanguage.json editors/vscode/syntaxes/"


@needs_node
def test_copy_step_copies_the_grammar(tmp_path):
    # `vsce package` runs `vscode:prepublish`, which runs `copy-grammar`: run that command
    # as npm would (through the shell, in the extension folder) in a scratch checkout.
    scripts = manifest()["scripts"]
    assert scripts["vscode:prepublish"] == "npm run copy-grammar"
    (tmp_path / "grammar").mkdir()
    shutil.copy(GRAMMAR, tmp_path / "grammar")
    ext = tmp_path / "editors" / "vscode"
    (ext / "syntaxes").mkdir(parents=True)
    r = subprocess.run(scripts["copy-grammar"], shell=True, cwd=ext, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert (ext / "syntaxes" / "ezflow.tmLanguage.json").read_bytes() == GRAMMAR.read_bytes()


@needs_node
def test_extension_js_parses():
    r = subprocess.run([NODE, "--check", str(EXT / "extension.js")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_comment_token_is_the_grammars():
    lc = language_configuration()
    assert lc["comments"] == {"lineComment": "#"}
    parser = load()
    text = "timeout: 5m " + lc["comments"]["lineComment"] + " why"
    scopes = char_scopes(parser, text)
    assert "comment.line.number-sign.ezflow" in scopes[position(text, text.index("#"))]


def test_brackets_are_the_languages():
    lc = language_configuration()
    pairs = [tuple(p) for p in lc["brackets"]]
    assert pairs == [("{", "}"), ("[", "]"), ("(", ")")]
    assert [tuple(p) for p in lc["surroundingPairs"]] == pairs + [('"', '"')]
    assert [(p["open"], p["close"]) for p in lc["autoClosingPairs"]] == pairs + [('"', '"')]
    # Each bracket is punctuation to the grammar, where the language uses it.
    parser = load()
    text = 'env: { A: [len(x)] }'
    scopes = char_scopes(parser, text)
    for ch in "{}[]()":
        assert scopes[position(text, text.index(ch))][-1].startswith("punctuation.section."), ch


INDENT_CASES = [
    # line, opens an indented block, closes one
    ("task build {", True, False),
    ("  input files: list[string] = [", True, False),
    ("  env: {  # the job's environment", True, False),
    ('  run: "printf \\"{\\" x" {', True, False),
    ('  run: "echo {"', False, False),
    ("  env: { A: inputs.a }", False, False),
    ("# a comment {", False, False),
    ("  timeout: 5m", False, False),
    ("}", False, True),
    ("    ]", False, True),
    ("  ) ", False, True),
]


@needs_node
def test_indentation_rules_in_node():
    rules = language_configuration()["indentationRules"]
    script = textwrap.dedent("""
        const rules = JSON.parse(process.argv[1]);
        const lines = JSON.parse(process.argv[2]);
        const inc = new RegExp(rules.increaseIndentPattern), dec = new RegExp(rules.decreaseIndentPattern);
        console.log(JSON.stringify(lines.map((l) => [inc.test(l), dec.test(l)])));
    """)
    lines = [c[0] for c in INDENT_CASES]
    r = subprocess.run([NODE, "-e", script, json.dumps(rules), json.dumps(lines)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert [[c[1], c[2]] for c in INDENT_CASES] == got, list(zip(lines, got))


@needs_node
def test_word_pattern_in_node():
    pattern = language_configuration()["wordPattern"]
    script = "const re = new RegExp(process.argv[1], 'g'); console.log(JSON.stringify(process.argv[2].match(re)));"
    r = subprocess.run([NODE, "-e", script, pattern, "timeout: 30s, money: $2.50, max_tokens: 10k tokens"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == ["timeout", "30s", "money", "$2.50", "max_tokens", "10k", "tokens"]


# A stand-in for the two modules only VS Code provides: records what the extension asks
# of them, and lets a test fail the server's start or change a setting.
STUBS = {
    "vscode/index.js": """
        const log = (globalThis.__log = globalThis.__log || []);
        const listeners = [];
        exports.__settings = {};
        exports.__listeners = listeners;
        exports.workspace = {
          getConfiguration: (section) => ({ get: (key) => exports.__settings[section + "." + key] }),
          onDidChangeConfiguration: (f) => { listeners.push(f); return { dispose() {} }; },
          createFileSystemWatcher: (glob) => ({ glob }),
        };
        exports.window = { showErrorMessage: (m) => { log.push(["error", m]); } };
    """,
    "vscode-languageclient/node.js": """
        const log = (globalThis.__log = globalThis.__log || []);
        exports.TransportKind = { stdio: 0 };
        exports.LanguageClient = class {
          constructor(id, name, server, client) { log.push(["client", id, name, server, client]); this.server = server; }
          async start() { log.push(["start", this.server.command]); if (this.server.command === "missing-ezc") throw new Error("spawn missing-ezc ENOENT"); }
          async stop() { log.push(["stop", this.server.command]); }
        };
    """,
}

DRIVER = """
    const vscode = require("vscode");
    const ext = require("./extension.js");
    const context = { subscriptions: [] };
    (async () => {
      await ext.activate(context);
      vscode.__settings["ezflow.server.path"] = "/opt/ezflow/bin/ezc";
      for (const f of vscode.__listeners) await f({ affectsConfiguration: (s) => s === "ezflow.server.path" });
      vscode.__settings["ezflow.server.path"] = "missing-ezc";
      for (const f of vscode.__listeners) await f({ affectsConfiguration: (s) => s === "ezflow.server.path" });
      await ext.deactivate();
      console.log(JSON.stringify(globalThis.__log));
    })().catch((e) => { console.error(e); process.exit(1); });
"""


@needs_node
def test_extension_starts_ezc_lsp_as_configured(tmp_path):
    shutil.copy(EXT / "extension.js", tmp_path / "extension.js")
    for path, source in STUBS.items():
        target = tmp_path / "node_modules" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(source))
    (tmp_path / "driver.js").write_text(textwrap.dedent(DRIVER))
    r = subprocess.run([NODE, "driver.js"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    log = json.loads(r.stdout)
    selector = [{"scheme": "file", "language": "ezflow"}, {"scheme": "untitled", "language": "ezflow"}]
    options = {"documentSelector": selector, "synchronize": {"fileEvents": {"glob": "**/*.{ezflow,ezflow.yaml}"}}}
    assert log == [
        # activation: the default command
        ["client", "ezflow", "ezflow", {"command": "ezc", "args": ["lsp"], "transport": 0}, options],
        ["start", "ezc"],
        # the setting changed: the server restarts with the new path
        ["stop", "ezc"],
        ["client", "ezflow", "ezflow", {"command": "/opt/ezflow/bin/ezc", "args": ["lsp"], "transport": 0},
         options],
        ["start", "/opt/ezflow/bin/ezc"],
        # a command that cannot start: one clear message, nothing left to stop
        ["stop", "/opt/ezflow/bin/ezc"],
        ["client", "ezflow", "ezflow", {"command": "missing-ezc", "args": ["lsp"], "transport": 0},
         options],
        ["start", "missing-ezc"],
        ["error", "ezflow: could not start the language server `missing-ezc lsp` (spawn missing-ezc ENOENT). "
                  "Install ezc or set `ezflow.server.path` to its path."],
    ]


def test_sublime_text_conversion_in_the_docs(tmp_path):
    # docs/EDITORS.md converts the grammar to the property list Sublime Text reads: run
    # that command as written, in a scratch checkout, and read the result back.
    import plistlib
    import sys

    docs = (ROOT / "docs" / "EDITORS.md").read_text()
    [command] = [line.strip() for line in docs.splitlines() if line.strip().startswith("python3 -c 'import json")]
    (tmp_path / "grammar").mkdir()
    shutil.copy(GRAMMAR, tmp_path / "grammar")
    argv = [sys.executable, "-c", command.split("'")[1]]
    r = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert plistlib.loads((tmp_path / "ezflow.tmLanguage").read_bytes()) == json.loads(GRAMMAR.read_text())
