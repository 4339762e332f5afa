// The ezflow extension. package.json declares the language (.ezflow files), its
// grammar and its brackets and comments; this file only starts the language server,
// `ezc lsp`, over stdio for ezflow documents. Every feature (diagnostics, hover,
// definition, completion, formatting) is the server's, so other editors get the same.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

/** @type {LanguageClient | undefined} */
let client;

function serverCommand() {
  const configured = vscode.workspace.getConfiguration("ezflow").get("server.path");
  // An empty setting means the default, as an unset one does.
  return typeof configured === "string" && configured.trim() !== "" ? configured.trim() : "ezc";
}

async function startClient() {
  const command = serverCommand();
  const serverOptions = { command, args: ["lsp"], transport: TransportKind.stdio };
  const clientOptions = {
    // Saved files and new unsaved ones; the server checks the editor's text of both.
    documentSelector: [
      { scheme: "file", language: "ezflow" },
      { scheme: "untitled", language: "ezflow" },
    ],
    // Files changed on disk (imports, files of the workspace that are not open) are
    // reported to the server (workspace/didChangeWatchedFiles), which checks again.
    synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher("**/*.{ezflow,ezflow.yaml}") },
  };
  client = new LanguageClient("ezflow", "ezflow", serverOptions, clientOptions);
  try {
    await client.start();
  } catch (err) {
    // Most often `ezc` is not on PATH: say what was run and where to change it,
    // rather than leave highlighting without diagnostics and no word why.
    client = undefined;
    const detail = err && err.message ? err.message : String(err);
    vscode.window.showErrorMessage(
      `ezflow: could not start the language server \`${command} lsp\` (${detail}). ` +
        "Install ezc or set `ezflow.server.path` to its path."
    );
  }
}

async function stopClient() {
  if (client) {
    const running = client;
    client = undefined;
    try {
      await running.stop();
    } catch {
      // Already stopped (the server exited and was not restarted): nothing to undo.
    }
  }
}

/** @param {vscode.ExtensionContext} context */
async function activate(context) {
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration("ezflow.server.path")) {
        await stopClient();
        await startClient();
      }
    })
  );
  await startClient();
}

function deactivate() {
  return stopClient();
}

module.exports = { activate, deactivate };
