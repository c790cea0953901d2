// Starts `constlang lsp` for .const files; everything else is the server's work.
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const [command, ...args] = vscode.workspace
    .getConfiguration("constlang")
    .get("server.command", ["constlang", "lsp"]);
  client = new LanguageClient(
    "constlang",
    "constlang",
    { command, args },
    {
      documentSelector: [{ scheme: "file", language: "constlang" }],
      synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher("**/*.const") },
    },
  );
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
