// Benchmark driver for the official TypeScript SDK (@openai/codex-sdk).
//
// Protocol: one JSON command per stdin line, exactly one JSON reply per stdout
// line; logs go to stderr. See bench/peers/py_driver.py for the Python twin.
//
// Environment: CODEX_BIN, CODEX_HOME, BENCH_WS, BENCH_PROMPT, and
// BENCH_PEERS_NODE = directory whose node_modules/ holds @openai/codex-sdk.
//
// SDK resolution: ESM resolves bare specifiers relative to *this file*, not
// the cwd, and ignores NODE_PATH. createRequire().resolve() does not work
// either, because the SDK's package.json only exports an "import" condition.
// So when BENCH_PEERS_NODE is set we read
// $BENCH_PEERS_NODE/node_modules/@openai/codex-sdk/package.json and import its
// exports["."].import entry by file URL; otherwise we fall back to a plain
// `import("@openai/codex-sdk")` (works when node_modules sits beside this file).
//
// The TS SDK has no long-lived server: every turn spawns `codex exec
// --experimental-json` and parses its JSONL events, and startThread() is a
// pure in-memory object. So "seq"/"concurrent" are reported as unsupported.

import { readFileSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import readline from "node:readline";
import { pathToFileURL } from "node:url";

const EXPECTED = "benchmark answer";
const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`missing environment variable ${name}`);
  return value;
};

async function loadSdk() {
  const base = process.env.BENCH_PEERS_NODE;
  if (!base) {
    const mod = await import("@openai/codex-sdk").catch((err) => {
      throw new Error(`cannot import @openai/codex-sdk (set BENCH_PEERS_NODE): ${err.message}`);
    });
    return { Codex: mod.Codex, version: "unknown" };
  }
  const pkgDir = path.join(base, "node_modules", "@openai", "codex-sdk");
  const pkg = JSON.parse(readFileSync(path.join(pkgDir, "package.json"), "utf8"));
  const exp = pkg.exports?.["."];
  const entry = (typeof exp === "string" ? exp : exp?.import ?? exp?.default) ?? pkg.module ?? pkg.main;
  const mod = await import(pathToFileURL(path.join(pkgDir, entry)).href);
  return { Codex: mod.Codex, version: pkg.version };
}

const { Codex, version: SDK_VERSION } = await loadSdk();
const PROMPT = env("BENCH_PROMPT");
// `env` replaces the child's whole environment, so start from ours.
const codex = new Codex({
  codexPathOverride: env("CODEX_BIN"),
  env: { ...process.env, CODEX_HOME: env("CODEX_HOME") },
});
const THREAD_OPTIONS = {
  workingDirectory: env("BENCH_WS"),
  skipGitRepoCheck: true,
  sandboxMode: "read-only",
  approvalPolicy: "never",
};

// Non-streamed turn: thread.run() resolves with { items, finalResponse, usage }
// and throws Error(message) on a `turn.failed` event or a non-zero exec exit.
async function runTurn() {
  const t0 = performance.now();
  const result = await codex.startThread(THREAD_OPTIONS).run(PROMPT);
  const ms = performance.now() - t0;
  if (result.finalResponse !== EXPECTED) {
    throw new Error(`unexpected final response: ${JSON.stringify(result.finalResponse)}`);
  }
  return ms;
}

// Streamed turn: runStreamed() only builds a lazy async generator; the exec
// process is spawned on the first next(), so the timer starts before the call.
async function streamTurn() {
  const t0 = performance.now();
  const { events } = await codex.startThread(THREAD_OPTIONS).runStreamed(PROMPT);
  let firstEvent = null;
  let finalText = null;
  let completed = false;
  for await (const event of events) {
    firstEvent ??= performance.now() - t0;
    if (event.type === "item.completed" && event.item.type === "agent_message") {
      finalText = event.item.text;
    } else if (event.type === "turn.completed") {
      completed = true;
    } else if (event.type === "turn.failed") {
      throw new Error(`turn failed: ${event.error.message}`);
    }
  }
  const turnMs = performance.now() - t0;
  if (!completed) throw new Error("stream ended without turn.completed");
  if (finalText !== EXPECTED) throw new Error(`unexpected final response: ${JSON.stringify(finalText)}`);
  return [firstEvent, turnMs];
}

async function handle(cmd) {
  switch (cmd.op) {
    case "ready":
      return { ok: true, sdk: `@openai/codex-sdk ${SDK_VERSION}` };
    case "run": {
      const turn_ms = [];
      for (let i = 0; i < cmd.turns; i++) turn_ms.push(await runTurn());
      return { turn_ms };
    }
    case "stream": {
      const first_event_ms = [];
      const turn_ms = [];
      for (let i = 0; i < cmd.turns; i++) {
        const [first, total] = await streamTurn();
        first_event_ms.push(first);
        turn_ms.push(total);
      }
      return { first_event_ms, turn_ms };
    }
    case "seq":
    case "concurrent":
      return { error: "unsupported" };
    default:
      return { error: `unknown op ${JSON.stringify(cmd.op)}` };
  }
}

const reply = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);
const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
  if (!line.trim()) continue;
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (err) {
    reply({ error: `bad command: ${err.message}` });
    continue;
  }
  if (cmd.op === "quit") break;
  try {
    reply(await handle(cmd));
  } catch (err) {
    console.error(err);
    reply({ error: String(err?.message ?? err) });
  }
}
process.exit(0);
