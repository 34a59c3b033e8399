#!/usr/bin/env node
// Builds the compatibility plugins with the pinned AssemblyScript compiler.
//   node build.js [--out DIR] [--debug | --env-abort] [PLUGIN ...]
// PLUGIN is a file name under assembly/ without .ts; default: all of them.
// Output: DIR/PLUGIN.wasm (DIR defaults to ./build), optimized like the SDK's
// "asbuild:optimized"; with --debug, DIR/PLUGIN.debug.wasm, unoptimized with
// debug information like its "asbuild:untouched"; with --env-abort,
// DIR/PLUGIN.envabort.wasm, built without the abort flag (the usual mistake), so
// it imports env.abort.
"use strict";
const fs = require("fs");
const path = require("path");
const { spawnSync } = require("child_process");

// Every plugin must name its abort handler: without it the module imports
// env.abort, which Proxy-Wasm hosts do not provide.
const ABORT_FLAGS = ["--use", "abort=abort_proc_exit"];
const HELPERS = new Set(["common"]);

const here = __dirname;
let out = path.join(here, "build");
let variant = "";
const names = [];
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--out") out = path.resolve(args[++i]);
  else if (args[i] === "--debug") variant = "debug";
  else if (args[i] === "--env-abort") variant = "envabort";
  else names.push(args[i]);
}
if (names.length === 0) {
  for (const f of fs.readdirSync(path.join(here, "assembly")).sort()) {
    const name = path.basename(f, ".ts");
    if (f.endsWith(".ts") && !HELPERS.has(name)) names.push(name);
  }
}

let asc;
try {
  asc = require.resolve("assemblyscript/bin/asc", { paths: [here] });
} catch (e) {
  console.error("build.js: assemblyscript is not installed; run `npm ci` in " + here + " (scripts/setup.sh does)");
  process.exit(1);
}

fs.mkdirSync(out, { recursive: true });
for (const name of names) {
  const src = path.join("assembly", name + ".ts");
  const dst = path.join(out, name + (variant ? "." + variant : "") + ".wasm");
  const flags = variant === "debug" ? [...ABORT_FLAGS, "--debug"]
    : variant === "envabort" ? ["--optimize"] : [...ABORT_FLAGS, "--optimize"];
  const r = spawnSync(process.execPath, [asc, src, "-b", dst, ...flags], { cwd: here, encoding: "utf8" });
  // asc 0.14 warns (AS201) about its own standard library; show only real problems.
  const messages = (r.stderr || "") + (r.stdout || "");
  if (r.status !== 0) {
    process.stderr.write(messages);
    console.error("build.js: asc failed for " + name);
    process.exit(1);
  }
  if (/ERROR|WARNING AS(?!201)/.test(messages)) process.stderr.write(messages);
  console.log("built " + dst);
}
