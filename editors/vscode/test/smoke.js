// Drives `constlang lsp` with the protocol library the VS Code extension's client is built on
// (vscode-languageserver-protocol, from vscode-languageclient's own dependencies), the way
// VS Code does: initialize, open a file, wait for diagnostics, hover, complete, format, fix
// the file, shut down. Usage: node test/smoke.js DIR -- COMMAND [ARGS...]
// DIR must hold main.const (with one unknown name, `helpfull`) and prompts.jsonl.
// Prints one JSON line of what it saw; exits 1 on a failed check.
"use strict";
const { spawn } = require("child_process");
const fs = require("fs");
const path = require("path");
const { pathToFileURL } = require("url");
const P = require("vscode-languageserver-protocol/node");

function fail(message) {
  console.error(`smoke: ${message}`);
  process.exit(1);
}

async function main() {
  const [dir, dashes, command, ...args] = process.argv.slice(2);
  if (!dir || dashes !== "--" || !command) fail("usage: smoke.js DIR -- COMMAND [ARGS...]");
  const file = path.join(dir, "main.const");
  const uri = pathToFileURL(file).href;
  const text = fs.readFileSync(file, "utf8");
  const server = spawn(command, args, { cwd: dir, stdio: ["pipe", "pipe", "inherit"] });
  const conn = P.createProtocolConnection(
    new P.StreamMessageReader(server.stdout), new P.StreamMessageWriter(server.stdin));
  const published = [];
  let wake = null;
  conn.onNotification(P.PublishDiagnosticsNotification.type, (params) => {
    published.push(params);
    if (wake) wake();
  });
  conn.onRequest(P.RegistrationRequest.type, () => null);
  conn.listen();
  const timer = setTimeout(() => fail("no answer within 60 s"), 60000);

  async function diagnosticsOf(version) {
    for (;;) {
      const got = published.find((p) => p.uri === uri && p.version === version);
      if (got) return got.diagnostics;
      await new Promise((resolve) => { wake = resolve; });
    }
  }

  const init = await conn.sendRequest(P.InitializeRequest.type, {
    processId: process.pid,
    rootUri: pathToFileURL(dir).href,
    capabilities: {
      general: { positionEncodings: ["utf-16"] },
      textDocument: {
        publishDiagnostics: { relatedInformation: true, versionSupport: true,
                              codeDescriptionSupport: true, dataSupport: true,
                              tagSupport: { valueSet: [1, 2] } },
        hover: { contentFormat: ["markdown", "plaintext"] },
        completion: { completionItem: { snippetSupport: false } },
      },
    },
    workspaceFolders: [{ uri: pathToFileURL(dir).href, name: "smoke" }],
  });
  conn.sendNotification(P.InitializedNotification.type, {});
  conn.sendNotification(P.DidOpenTextDocumentNotification.type, {
    textDocument: { uri, languageId: "constlang", version: 1, text } });
  const first = await diagnosticsOf(1);
  const unknown = first.find((d) => d.code === "E101");
  if (!unknown) fail(`no E101 among ${JSON.stringify(first.map((d) => d.code))}`);
  const line = text.split("\n")[unknown.range.start.line];
  const named = line.slice(unknown.range.start.character, unknown.range.end.character);
  if (named !== "helpfull") fail(`E101 covers ${JSON.stringify(named)}, not "helpfull"`);

  // hover on the model a stage names
  const lines = text.split("\n");
  const at = lines.findIndex((l) => /\bmodel\s*=\s*base\b/.test(l));
  const hover = await conn.sendRequest(P.HoverRequest.type, {
    textDocument: { uri }, position: { line: at, character: lines[at].indexOf("base") + 1 } });
  const hoverText = hover && (hover.contents.value || JSON.stringify(hover.contents));
  if (!hoverText || !hoverText.includes("embedded")) fail(`hover: ${hoverText}`);

  const completion = await conn.sendRequest(P.CompletionRequest.type, {
    textDocument: { uri }, position: { line: at, character: lines[at].indexOf("base") } });
  const items = Array.isArray(completion) ? completion : completion.items;
  if (!items.some((i) => i.label === "base")) fail("completion after `model =` lacks `base`");

  const edits = await conn.sendRequest(P.DocumentFormattingRequest.type, {
    textDocument: { uri }, options: { tabSize: 2, insertSpaces: true } });

  // fix the name: the error goes away
  conn.sendNotification(P.DidChangeTextDocumentNotification.type, {
    textDocument: { uri, version: 2 },
    contentChanges: [{ text: text.replace("helpfull", "helpful") }] });
  const second = await diagnosticsOf(2);
  if (second.some((d) => d.severity === 1)) fail(`errors left: ${JSON.stringify(second)}`);

  await conn.sendRequest(P.ShutdownRequest.type);
  await conn.sendNotification(P.ExitNotification.type);
  clearTimeout(timer);
  console.log(JSON.stringify({
    server: init.serverInfo, first: first.map((d) => d.code), href: unknown.codeDescription,
    hover: hoverText.split("\n")[0], completion: items.length, formatting: (edits || []).length,
    after_fix: second.map((d) => d.code) }));
  conn.dispose();
  server.stdin.end();
}

main().catch((err) => fail(err && err.stack ? err.stack : String(err)));
