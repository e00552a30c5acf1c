/**
 * `exec`: a command run when its guards say so (`creates`, `unless`, `onlyif`), or only on a
 * notification (`refresh_only`). Always an argv array; a shell only when the recipe asked for one
 * (then argv is ["/bin/sh", "-c", command]). A timeout kills the whole process group.
 */
import { existsSync } from "node:fs";
import { TendError } from "../../core/errors.js";
import type { KindSpec } from "../../core/kind-spec.js";
import type { CatalogResource, Change } from "../../core/types.js";
import { Accounts } from "../sys/accounts.js";
import { describeExit, lastLines, type RunOptions, type RunResult, run } from "../sys/proc.js";
import type { ApplyResult, CheckResult, Kind, KindContext } from "./kind.js";

export interface ExecParams {
  argv: string[];
  creates?: string;
  unless?: string[];
  onlyif?: string[];
  refresh_only?: boolean;
  cwd?: string;
  env?: Record<string, string>;
  user?: string;
  timeout: number;
  sensitive?: boolean;
  shell?: boolean;
}

export const spec: KindSpec = {
  type: "exec",
  description:
    "A command, run when its guards say it is needed or when notified (no shell unless `shell: true`). The name is the command as written.",
  notes: `Runs argv without a shell unless the recipe said \`shell: true\`. Guards (\`creates\`, \`unless\`,
\`onlyif\`) decide whether it runs; \`unless\`/\`onlyif\` run in plans too (read-only probes by
contract). A command runs at most once per run (a notification after it ran does not run it again);
\`refresh_only\` runs only when notified. On timeout the whole process group gets SIGTERM, then
SIGKILL 10 s later. The report keeps the last 8 KiB of output. An exec comes after its \`user\` and
its \`cwd\` when they are managed.`,
  name: {
    title: "Name",
    description: "The command (and the resource's name) unless `command` is given.",
    type: "string",
    minLength: 1,
  },
  attributes: {
    command: {
      $ref: "#/$defs/argvOrString",
      title: "Command",
      description:
        "The command to run when it differs from the name: a string split into words (no shell), or an argv list.",
    },
    shell: {
      title: "Shell",
      description:
        "Run the command and its guards with /bin/sh -c (pipes, redirections, variables). Default false.",
      type: "boolean",
    },
    creates: {
      title: "Creates",
      description: "An absolute path: when it exists, the command is not run.",
      type: "string",
      pattern: "^/",
    },
    unless: {
      $ref: "#/$defs/argvOrString",
      title: "Unless",
      description: "A guard command: when it exits 0, the command is not run.",
    },
    onlyif: {
      $ref: "#/$defs/argvOrString",
      title: "Only if",
      description: "A guard command: the command runs only when it exits 0.",
    },
    refresh_only: {
      title: "Refresh only",
      description: "Run only when a resource that notifies this one changed. Default false.",
      type: "boolean",
    },
    cwd: {
      title: "Working directory",
      description: "The directory the command runs in (default /).",
      type: "string",
      pattern: "^/",
    },
    env: {
      title: "Environment",
      description: "Variables added to the agent's environment for the command and its guards.",
      type: "object",
      additionalProperties: { type: "string" },
    },
    user: {
      title: "User",
      description:
        "Run the command and its guards as this user (name or uid), with its primary group and HOME.",
      type: "string",
    },
    timeout: {
      title: "Timeout",
      description: "Seconds before the command's whole process group gets SIGTERM, then SIGKILL 10 s later.",
      type: "number",
      exclusiveMinimum: 0,
      default: 300,
    },
    sensitive: {
      title: "Sensitive",
      description:
        "Never show the command's output: it is left out of plans, output, reports and the dashboard, and an error keeps only its first line (default false).",
      type: "boolean",
    },
  },
  required: ["timeout"],
  commands: { argv: { param: "argv", from: "command" }, guards: ["unless", "onlyif"], shell: "shell" },
  edges: [
    { after: "user", param: "user" },
    { after: "file", param: "cwd" },
  ],
};

/** Output kept in the report: the last 8 KiB. */
const OUTPUT_LIMIT = 8 * 1024;

function runOptions(r: CatalogResource, p: ExecParams, ctx: KindContext): RunOptions {
  const env: NodeJS.ProcessEnv = { ...process.env, ...(p.env ?? {}) };
  const opts: RunOptions = { cwd: p.cwd ?? "/", env, signal: ctx.signal, maxOutput: OUTPUT_LIMIT };
  if (p.timeout > 0) opts.timeoutMs = p.timeout * 1000;
  if (p.user !== undefined) {
    const accounts = new Accounts();
    const u = /^\d+$/.test(p.user) ? accounts.userById(Number(p.user)) : accounts.user(p.user);
    if (!u)
      throw new TendError("TEND_E_UNKNOWN_OWNER", `${r.id}: user "${p.user}" is not a user on this box.`);
    opts.uid = u.uid;
    opts.gid = u.gid;
    Object.assign(env, { HOME: u.home, USER: u.name, LOGNAME: u.name });
  }
  return opts;
}

async function guard(
  r: CatalogResource,
  argv: string[],
  opts: RunOptions,
  ctx: KindContext,
): Promise<boolean> {
  let res: RunResult;
  try {
    res = await run(argv, opts);
  } catch (err) {
    // A guard that cannot start (no such program) is false, as a non-zero exit would be.
    ctx.log(`${r.id}: guard ${argv[0]} cannot run: ${(err as Error).message}`);
    return false;
  }
  if (res.timedOut)
    throw new TendError("TEND_E_EXEC_TIMEOUT", `${r.id}: guard ${JSON.stringify(argv)} timed out.`);
  return res.code === 0;
}

/** Whether the guards say the command should run. */
async function needed(r: CatalogResource, p: ExecParams, ctx: KindContext): Promise<boolean> {
  if (p.creates && existsSync(p.creates)) return false;
  if (!p.unless && !p.onlyif) return true;
  const opts = runOptions(r, p, ctx);
  if (p.unless && (await guard(r, p.unless, opts, ctx))) return false;
  if (p.onlyif && !(await guard(r, p.onlyif, opts, ctx))) return false;
  return true;
}

const ranKey = (r: CatalogResource) => `exec.ran:${r.id}`;

async function check(r: CatalogResource, ctx: KindContext): Promise<CheckResult> {
  const p = r.params as unknown as ExecParams;
  if (p.refresh_only) return { changes: [] };
  // A command runs at most once per run: after it ran, it is in sync for the rest of the run (the
  // engine's check after apply); its guards decide again on the next run.
  if (ctx.run[ranKey(r)] === true) return { changes: [] };
  if (!(await needed(r, p, ctx))) return { changes: [] };
  return { changes: [{ property: "executed", from: false, to: true }] };
}

async function execute(r: CatalogResource, p: ExecParams, ctx: KindContext): Promise<ApplyResult> {
  const opts = runOptions(r, p, ctx);
  let res: RunResult;
  try {
    res = await run(p.argv, opts);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new TendError("TEND_E_EXEC_FAILED", `${r.id}: cannot run ${p.argv[0]}: ${e.code ?? e.message}`);
  }
  ctx.run[ranKey(r)] = true;
  // sensitive: the output never leaves the process (TRUST L1); an error says only how it ended.
  const tail = p.sensitive ? "[output hidden: sensitive]" : lastLines(res.output);
  const output = p.sensitive
    ? res.output
      ? "[output hidden: sensitive]"
      : ""
    : res.truncated
      ? `[output truncated to the last ${OUTPUT_LIMIT} bytes]\n${res.output}`
      : res.output;
  if (res.timedOut) {
    throw new TendError(
      "TEND_E_EXEC_TIMEOUT",
      `${r.id}: timed out after ${p.timeout}s; its process group was killed.\n${tail}`,
    );
  }
  if (res.code !== 0) {
    throw new TendError("TEND_E_EXEC_FAILED", `${r.id}: command ${describeExit(res)}.\n${tail}`);
  }
  return { output };
}

async function apply(r: CatalogResource, _changes: Change[], ctx: KindContext): Promise<ApplyResult> {
  return execute(r, r.params as unknown as ExecParams, ctx);
}

async function refresh(r: CatalogResource, ctx: KindContext): Promise<ApplyResult | undefined> {
  const p = r.params as unknown as ExecParams;
  // Notified after it already ran in this run: once is enough.
  if (ctx.run[ranKey(r)] === true) return undefined;
  if (!(await needed(r, p, ctx))) return undefined;
  return execute(r, p, ctx);
}

export const exec: Kind = { type: "exec", spec, check, apply, refresh };
