/**
 * `tend deploy`: start, follow, resume or abort a rollout through the server's API
 * (POST /api/v1/rollouts and the routes beside it) with an operator's admin token.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { TendError } from "../../core/errors.js";
import type { RolloutView } from "../../server/rollouts/view.js";
import { endText, startedText, statusText, waveLine } from "./deploy-print.js";

const HELP = `usage: tend deploy [COMMIT] [--nodes GLOB] [--canary N|P%] [--waves N] [--pause 2m]
                   [--timeout 10m] [--noop] [--wait] [--json] --server URL
       tend deploy status ID [--wait] [--json] --server URL
       tend deploy --resume [ID] [--wait] --server URL
       tend deploy --abort [ID] --server URL

Starts a rollout of COMMIT (default: the live commit) to the nodes GLOB matches (default: all): a
canary (1 node by default, or N, or P% of them) is signalled to run now; once every node of it has
reported on the commit and none failed (a resource or a health check), the next wave follows, and
so on (--waves N waves after the canary, 4 by default, after --pause each). Meanwhile the nodes
not reached yet keep being served the previous commit, also at their scheduled runs. A wave that
fails, or does not report within --timeout, halts the rollout and raises the rollout-halted alert.
--resume runs the failed wave again and goes on; --abort serves every node of the rollout the
previous commit again (without ID: the newest rollout that is halted, or running or halted). --noop is a preview: every node plans the commit now and reports what it
would change, changing nothing.

  --server URL       the tend server (or TEND_SERVER)
  --token-file FILE  a file holding an operator's or admin's token (or TEND_ADMIN_TOKEN); make one with
                     tend server token create --admin --role operator
  --wait             print a line as each wave moves; exit 0 when done, 4 when halted or aborted
  --json             print the rollout as JSON (docs/api.md, "Rollouts")

Exit codes: 0 started (or done, with --wait), 4 halted, aborted or superseded (with --wait),
1 bad input, refused, or the server unreachable.`;

const options = {
  server: { type: "string" },
  "token-file": { type: "string" },
  nodes: { type: "string" },
  canary: { type: "string" },
  waves: { type: "string" },
  pause: { type: "string" },
  timeout: { type: "string" },
  noop: { type: "boolean" },
  wait: { type: "boolean" },
  json: { type: "boolean" },
  abort: { type: "boolean" },
  resume: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  debug: { type: "boolean" },
} as const;

type Values = ReturnType<typeof parse>["values"];

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new TendError("TEND_E_USAGE", `${(err as Error).message}\n\n${HELP}`);
  }
}

const usage = (message: string) => new TendError("TEND_E_USAGE", `${message}\n\n${HELP}`);

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const api = client(values);
  const idOf = (text: string | undefined) => {
    if (!text || !/^[0-9]{1,15}$/.test(text)) throw usage(`a rollout id is a number, not "${text ?? ""}"`);
    return text;
  };
  if (values.abort || values.resume) {
    if (values.abort && values.resume) throw usage("--abort and --resume do not go together");
    // Without an id: the newest rollout that can be resumed (halted) or aborted (running, halted).
    const id =
      positionals[0] === undefined
        ? await current(api, values.resume ? ["halted"] : ["running", "halted"])
        : idOf(positionals[0]);
    const r = await api<RolloutView>(
      "POST",
      `/api/v1/rollouts/${id}/${values.abort ? "abort" : "resume"}`,
      {},
    );
    if (values.resume && values.wait) return follow(api, r, values);
    return show(
      r,
      values,
      values.abort
        ? `rollout ${r.id} aborted: its nodes are served ${r.from?.slice(0, 12) ?? "the live commit"} again`
        : `rollout ${r.id} resumed`,
    );
  }
  if (positionals[0] === "status") {
    const r = await api<RolloutView>("GET", `/api/v1/rollouts/${idOf(positionals[1])}`);
    if (values.wait) return follow(api, r, values);
    if (values.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    else process.stdout.write(`${statusText(r, api.base)}\n`);
    return 0;
  }
  if (positionals.length > 1) throw usage(`unexpected argument "${positionals[1]}"`);
  const body: Record<string, unknown> = {};
  if (positionals[0]) body.commit = positionals[0];
  for (const k of ["nodes", "canary", "pause", "timeout"] as const)
    if (values[k] !== undefined) body[k] = values[k];
  if (values.waves !== undefined) {
    if (!/^[0-9]{1,4}$/.test(values.waves)) throw usage(`--waves takes a number, not "${values.waves}"`);
    body.waves = Number(values.waves);
  }
  if (values.noop) body.noop = true;
  const r = await api<RolloutView>("POST", "/api/v1/rollouts", body);
  if (values.wait) {
    if (!values.json) process.stdout.write(`${startedText(r)}\n`);
    return follow(api, r, values);
  }
  return show(r, values, `${startedText(r)}\nfollow it: tend deploy status ${r.id} --wait`);
}

async function current(api: Api, states: string[]): Promise<string> {
  const { rollouts } = await api<{ rollouts: RolloutView[] }>("GET", "/api/v1/rollouts?limit=20");
  const r = rollouts.find((x) => states.includes(x.state));
  if (!r)
    throw new TendError(
      "TEND_E_DEPLOY",
      `no rollout is ${states.join(" or ")} now; name one: tend deploy status ID`,
    );
  return String(r.id);
}

function show(r: RolloutView, values: Values, text: string): number {
  process.stdout.write(values.json ? `${JSON.stringify(r, null, 2)}\n` : `${text}\n`);
  return 0;
}

/** Prints a line each time a wave changes state, until the rollout ends; its exit code. */
async function follow(api: Api, first: RolloutView, values: Values): Promise<number> {
  const seen = new Map<number, string>();
  let r = first;
  for (;;) {
    for (const w of r.waves) {
      if (seen.get(w.index) === w.state) continue;
      const was = seen.get(w.index);
      seen.set(w.index, w.state);
      if (w.state === "pending" && was === undefined) continue;
      if (!values.json) process.stdout.write(`${waveLine(w)}\n`);
    }
    if (r.state !== "running") break;
    await new Promise((resolve) => setTimeout(resolve, 500));
    r = await api<RolloutView>("GET", `/api/v1/rollouts/${r.id}`);
  }
  process.stdout.write(values.json ? `${JSON.stringify(r, null, 2)}\n` : `${endText(r)}\n`);
  return r.state === "done" ? 0 : 4;
}

type Api = (<T>(method: "GET" | "POST", path: string, body?: object) => Promise<T>) & { base: string };

function client(values: Values): Api {
  const server = (values.server ?? process.env.TEND_SERVER ?? "").replace(/\/+$/, "");
  if (!/^https?:\/\/[^/]+/.test(server)) throw usage("tend deploy needs --server URL (http:// or https://)");
  let token = process.env.TEND_ADMIN_TOKEN?.trim() ?? "";
  if (values["token-file"]) {
    try {
      token = readFileSync(values["token-file"], "utf8").trim();
    } catch (err) {
      throw new TendError("TEND_E_USAGE", `cannot read the token file: ${(err as Error).message}`);
    }
  }
  if (!token) throw usage("tend deploy needs an operator's token: --token-file FILE or TEND_ADMIN_TOKEN");
  const api = async <T>(method: "GET" | "POST", path: string, body?: object): Promise<T> => {
    let res: Response;
    try {
      res = await fetch(`${server}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body ? { "content-type": "application/json" } : {}),
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      const cause = (err as { cause?: Error }).cause?.message ?? (err as Error).message;
      throw new TendError("TEND_E_DEPLOY", `cannot reach the tend server at ${server}: ${cause}`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
    if (!res.ok) {
      const e = json as { code?: string; message?: string } | null;
      throw new TendError(
        "TEND_E_DEPLOY",
        `the server answered ${res.status}${e?.code ? ` ${e.code}` : ""}: ${e?.message ?? text.slice(0, 200)}`,
      );
    }
    return json as T;
  };
  return Object.assign(api, { base: server });
}
