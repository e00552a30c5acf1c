import { execFile } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import t from "tap";
import { gatherFacts } from "../../../agent/facts/index.js";
import { factLines } from "../../../cli/commands/facts.js";
import { run } from "../../../cli/tend.js";
import type { Facts } from "../../../core/types.js";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/** Runs `tend ARGV` in this process with stdout and stderr captured; nothing else may write meanwhile. */
async function tend(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { stdout: "", stderr: "" };
  const saved = { stdout: process.stdout.write, stderr: process.stderr.write };
  const into = (stream: "stdout" | "stderr") =>
    ((chunk: string) => {
      out[stream] += chunk;
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = into("stdout");
  process.stderr.write = into("stderr");
  try {
    return { code: await run(argv), ...out };
  } finally {
    process.stdout.write = saved.stdout;
    process.stderr.write = saved.stderr;
  }
}

/** Runs `tend ARGV` as its own node process from the repository root. */
async function tendProcess(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const script = `import("./cli/tend.ts").then((m) => m.run(${JSON.stringify(argv)})).then((c) => { process.exitCode = c; })`;
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", "-e", script],
      {
        cwd: repo,
        timeout: 60_000,
      },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout: string; stderr: string };
    if (typeof e.code !== "number") throw err;
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

t.test("tend facts --json prints the gathered facts as JSON", async (t) => {
  const { code, stdout, stderr } = await tend(["facts", "--json"]);
  t.equal(code, 0);
  t.equal(stderr, "");
  t.same(JSON.parse(stdout), await gatherFacts());
});

t.test("tend facts prints one key: value line per fact, nested keys dotted", async (t) => {
  const { code, stdout } = await tend(["facts"]);
  t.equal(code, 0);
  const facts = await gatherFacts();
  const lines = stdout.trimEnd().split("\n");
  t.same(lines, factLines(facts));
  t.ok(lines.includes(`os.id: ${facts.os.id}`));
  t.ok(lines.includes(`os.family: ${facts.os.family}`));
  t.ok(lines.includes(`memory_mb: ${facts.memory_mb}`));
  t.ok(lines.includes(`hostname: ${facts.hostname}`));
});

t.test(
  "human output: lists are comma-separated, empty ones say so, control characters are quoted",
  async (t) => {
    const facts: Facts = {
      hostname: "web-1",
      fqdn: "web-1.example.com",
      os: { id: "debian", version_id: "12", family: "debian", name: "Debian GNU/Linux" },
      arch: "x86_64",
      kernel: "6.1.0-18-amd64",
      cpus: 4,
      memory_mb: 7936,
      ipv4: ["10.0.0.5", "172.17.0.1"],
    };
    t.same(factLines(facts), [
      "hostname: web-1",
      "fqdn: web-1.example.com",
      "os.id: debian",
      "os.version_id: 12",
      "os.family: debian",
      "os.name: Debian GNU/Linux",
      "arch: x86_64",
      "kernel: 6.1.0-18-amd64",
      "cpus: 4",
      "memory_mb: 7936",
      "ipv4: 10.0.0.5, 172.17.0.1",
    ]);
    const odd = factLines({ ...facts, ipv4: [], os: { ...facts.os, name: "two\nlines" } });
    t.ok(odd.includes("ipv4: (none)"));
    t.ok(odd.includes('os.name: "two\\nlines"'));
  },
);

t.test("tend facts --help prints the usage and exits 0", async (t) => {
  for (const flag of ["--help", "-h"]) {
    const { code, stdout } = await tend(["facts", flag]);
    t.equal(code, 0, flag);
    t.match(stdout, /^usage: tend facts \[--json\]/, flag);
  }
});

t.test("wrong arguments are a usage error with exit 1, never a stack trace", async (t) => {
  const cases = [
    { argv: ["--jsno"], says: 'facts: unknown option "--jsno"' },
    { argv: ["-x"], says: 'facts: unknown option "-x"' },
    { argv: ["extra"], says: 'facts: unexpected argument "extra"' },
    { argv: ["--json=yes"], says: "does not take an argument" },
  ];
  for (const c of cases) {
    const { code, stdout, stderr } = await tend(["facts", ...c.argv]);
    t.equal(code, 1, c.argv.join(" "));
    t.equal(stdout, "");
    t.match(stderr, c.says);
    t.match(stderr, "usage: tend facts [--json]");
    t.notMatch(stderr, /\n\s+at /, "no stack trace");
  }
});

t.test("as a real process: `tend facts --json` exits 0 with this box's facts", async (t) => {
  const { code, stdout, stderr } = await tendProcess(["facts", "--json"]);
  t.equal(code, 0, stderr);
  t.same(JSON.parse(stdout), await gatherFacts());
});

t.test("as a real process: an unknown flag exits 1 with the usage on stderr", async (t) => {
  const { code, stdout, stderr } = await tendProcess(["facts", "--bogus"]);
  t.equal(code, 1);
  t.equal(stdout, "");
  t.match(stderr, /^tend: facts: unknown option "--bogus"\nusage: tend facts/);
});
