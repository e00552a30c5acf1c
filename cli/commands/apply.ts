/**
 * `tend apply [DIR]` and `tend plan [DIR]`: compile the recipe folder for this node (masterless),
 * converge (or only plan), print the outcome like a good plan, exit 0/2/4/6, or 1 when the run
 * could not start. Everything heavier than argument parsing is imported when it is needed.
 */
import { parseArgs } from "node:util";
import type { ContentFile } from "../../agent/resources/kind.js";
import { TendError } from "../../core/errors.js";
import type { Catalog, Facts, Report } from "../../core/types.js";
import { RunStop } from "../run-stop.js";
import type { FactsFrom } from "./facts-from.js";

const USAGE = `usage: tend apply [DIR] [--node NAME] [--noop] [--json] [--state-dir DIR] [--wait SECONDS] [--debug]
       tend plan  [DIR] [--node NAME] [--json] [--state-dir DIR] [--debug]
       tend plan  DIR --node NAME --facts-from SERVER [--token-file FILE] [--insecure-http] [--json]

Converge this box from the recipe folder DIR (default: .), compiled for node NAME (default: the
host name). plan (or apply --noop) shows what would change, with diffs, and changes nothing.

  --node NAME        compile for this node name
  --noop             check only: report would-change, write nothing
  --json             print the run report as JSON instead of the plan
  --catalog FILE     apply a compiled catalog (JSON, as \`tend compile\` prints) instead of DIR
  --state-dir DIR    where tend keeps its lock, state, backups and compile cache (default /var/lib/tend)
  --wait SECONDS     how long to wait for another run's lock (default 1)
  --facts-from URL   plan only: compile for --node NAME with the facts the server last had from
                     that node (GET /api/v1/nodes/NAME/facts; an admin token of the viewer role or
                     above in TEND_ADMIN_TOKEN or --token-file FILE). Live state is still read on
                     this box: run it on the node, or a box built like it, to see the real changes
  --token-file FILE  the admin token for --facts-from
  --insecure-http    let --facts-from send the token over plain http to another machine
  --debug            show stack traces

exit codes: 0 nothing changed, 2 changes, 4 failures, 6 changes and failures, 1 could not start`;

export const DEFAULT_STATE_DIR = "/var/lib/tend";
const DEFAULT_WAIT_S = 1;

interface ApplyArgs {
  dir: string;
  node?: string;
  noop: boolean;
  json: boolean;
  catalog?: string;
  stateDir: string;
  waitMs: number;
  factsFrom?: FactsFrom;
}

function parse(argv: string[], plan: boolean): ApplyArgs | null {
  let parsed: ReturnType<typeof parseOnly>;
  try {
    parsed = parseOnly(argv);
  } catch (err) {
    throw new TendError("TEND_E_USAGE", `${(err as Error).message}\n\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) return null;
  if (positionals.length > 1) {
    throw new TendError(
      "TEND_E_USAGE",
      `expected at most one recipe folder, got ${positionals.join(" ")}\n\n${USAGE}`,
    );
  }
  const wait = values.wait === undefined ? DEFAULT_WAIT_S : Number(values.wait);
  if (!Number.isFinite(wait) || wait < 0) {
    throw new TendError("TEND_E_USAGE", `--wait takes a number of seconds (0 or more), not "${values.wait}"`);
  }
  if (values.node !== undefined && values.node.trim() === "")
    throw new TendError("TEND_E_USAGE", "--node needs a name");
  const factsFrom = factsFromArgs(values, plan);
  return {
    dir: positionals[0] ?? ".",
    node: values.node,
    noop: plan || Boolean(values.noop),
    json: Boolean(values.json),
    catalog: values.catalog,
    stateDir: values["state-dir"] ?? DEFAULT_STATE_DIR,
    waitMs: Math.round(wait * 1000),
    ...(factsFrom ? { factsFrom } : {}),
  };
}

/** `--facts-from` and its companions: plan only, with --node, never with --catalog. */
function factsFromArgs(values: ReturnType<typeof parseOnly>["values"], plan: boolean): FactsFrom | undefined {
  if (values["facts-from"] === undefined) {
    if (values["token-file"] !== undefined || values["insecure-http"])
      throw new TendError("TEND_E_USAGE", "--token-file and --insecure-http go with --facts-from");
    return undefined;
  }
  if (!plan) {
    throw new TendError(
      "TEND_E_USAGE",
      "--facts-from is for tend plan only: converging this box with another node's facts would build the wrong box",
    );
  }
  if (!values.node)
    throw new TendError("TEND_E_USAGE", "--facts-from needs --node NAME: whose facts to read");
  if (values.catalog)
    throw new TendError("TEND_E_USAGE", "--facts-from compiles DIR; it does not go with --catalog");
  return {
    server: values["facts-from"],
    ...(values["token-file"] ? { tokenFile: values["token-file"] } : {}),
    insecureHttp: Boolean(values["insecure-http"]),
  };
}

function parseOnly(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      node: { type: "string" },
      noop: { type: "boolean" },
      json: { type: "boolean" },
      catalog: { type: "string" },
      "state-dir": { type: "string" },
      wait: { type: "string" },
      "facts-from": { type: "string" },
      "token-file": { type: "string" },
      "insecure-http": { type: "boolean" },
      debug: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
}

async function loadCatalogFile(path: string): Promise<Catalog> {
  const { readFile } = await import("node:fs/promises");
  let data: Partial<Catalog>;
  try {
    data = JSON.parse(await readFile(path, "utf8")) as Partial<Catalog>;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === "ENOENT") throw new TendError("TEND_E_NOT_FOUND", `no catalog file at ${path}`);
    throw new TendError("TEND_E_CATALOG", `${path} is not a catalog: ${e.message}`);
  }
  // The catalog schema, like every input that crosses a boundary (core/schema.ts).
  const { schemaProblems } = await import("../../core/schema.js");
  const problems = schemaProblems("catalog", data, { file: path });
  if (problems.length) throw new TendError("TEND_E_CATALOG", `${path} is not a valid tend catalog`, problems);
  return data as Catalog;
}

/** The catalog for this node: from the compile cache in state_dir when the recipes are unchanged. */
async function compile(
  dir: string,
  node: string,
  facts: Facts,
  stateDir: string,
): Promise<{
  catalog: Catalog;
  fetchContent?: (sha: string) => Promise<Buffer>;
  fetchContentFile?: (sha: string) => Promise<ContentFile | null>;
  save(): Promise<void>;
}> {
  const { statSync } = await import("node:fs");
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new TendError("TEND_E_NOT_FOUND", `no recipe folder at ${dir}`);
  }
  const { compileCached } = await import("../../agent/store/compile-cache.js");
  return compileCached(dir, node, facts, stateDir, { log: (m) => process.stderr.write(`${m}\n`) });
}

async function converge(args: ApplyArgs): Promise<number> {
  const { gatherFacts } = await import("../../agent/facts/index.js");
  let facts: Facts;
  if (args.factsFrom) {
    const { remoteFacts } = await import("./facts-from.js");
    const remote = await remoteFacts(args.factsFrom, args.node!);
    facts = remote.facts;
    if (!args.json) {
      process.stdout.write(
        `planning ${args.dir} for ${args.node} (now in environment ${remote.environment || "?"}) with its facts from ${args.factsFrom.server}; live state read on this box\n`,
      );
    }
  } else {
    facts = await gatherFacts();
  }
  const node = args.node ?? facts.hostname;
  const compiled: Awaited<ReturnType<typeof compile>> = args.catalog
    ? { catalog: await loadCatalogFile(args.catalog), save: async () => {} }
    : await compile(args.dir, node, facts, args.stateDir);
  const catalog = compiled.catalog;

  const [{ runCatalog }, { kinds }, output, { exitCode }] = await Promise.all([
    import("../../agent/engine/index.js"),
    import("../../agent/resources/index.js"),
    import("../../agent/output.js"),
    import("../../agent/report.js"),
  ]);

  let lock: { release(): Promise<void> } | null = null;
  if (!args.noop) {
    // A plan reads only, so it takes no lock: it works beside a running apply, and as a user who
    // cannot write state_dir.
    const [{ mkdir }, { acquireLock }] = await Promise.all([
      import("node:fs/promises"),
      import("../../agent/lock.js"),
    ]);
    await mkdir(args.stateDir, { recursive: true, mode: 0o700 });
    lock = await acquireLock(args.stateDir, { waitMs: args.waitMs });
    // Only an apply stores a fresh catalog: a plan writes nothing, and may run without the right to.
    await compiled.save().catch((err: Error) => {
      process.stderr.write(`tend: could not store the compile cache (${err.message}); continuing\n`);
    });
  }

  const stop = new RunStop();
  const style = { color: output.wantsColor(process.stdout) };
  let report: Report;
  try {
    report = await runCatalog(catalog, {
      kinds,
      facts,
      stateDir: args.stateDir,
      noop: args.noop,
      signal: stop.signal,
      log: (m) => process.stderr.write(`${m}\n`),
      onResource: args.json
        ? undefined
        : (r) => {
            const text = output.formatResource(r, style);
            if (text) process.stdout.write(text);
          },
      // A plan shows every probe's result; an apply, the checks that are not ok.
      onCheck: args.json
        ? undefined
        : (c) => {
            const text = output.formatCheck(c, { ...style, showOk: args.noop });
            if (text) process.stdout.write(text);
          },
      catalogSource: "local",
      // A catalog from the compile cache carries no file content: the content store has it.
      fetchContent: compiled.fetchContent,
      // A large file (never inline) is copied from disk in chunks: the content store or the recipe folder.
      fetchContentFile: compiled.fetchContentFile,
    });
  } finally {
    stop.release();
    await lock?.release();
  }
  process.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : output.formatSummary(report));
  return exitCode(report);
}

/**
 * Keep V8's heap close to what a run holds. A run from the compile cache holds little (the catalog
 * without contents, a report line per resource) but allocates steadily while it walks 10,000
 * resources, and V8's defaults size the heap for throughput: the young generation doubles up to
 * 2 × 16 MiB as soon as a few MiB survive, and the old generation may grow to several times what is
 * live before it is collected. Measured on a no-op run at N=10,000 (docs/performance.md): 113 MiB
 * peak RSS with the defaults, 78 MiB with these two, and no slower. Node options cannot be given to
 * `tend` (bin/tend.js is run by its shebang, or imported), so they are set here, before the run
 * allocates: both are read by the GC each time it sizes a space. GC policy only; nothing else changes.
 */
async function smallHeap(): Promise<void> {
  const { setFlagsFromString } = await import("node:v8");
  setFlagsFromString("--semi-space-growth-factor=1"); // young generation stays at its initial size
  setFlagsFromString("--heap-growing-percent=20"); // collect the old one at 1.2 × live, not ~3 ×
}

async function main(argv: string[], plan: boolean): Promise<number> {
  await smallHeap();
  const args = parse(argv, plan);
  if (!args) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  return converge(args);
}

export function applyMain(argv: string[]): Promise<number> {
  return main(argv, false);
}

export function planMain(argv: string[]): Promise<number> {
  return main(argv, true);
}
