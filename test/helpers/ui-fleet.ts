/**
 * A real tend server process on 127.0.0.1 holding real agent reports, for the dashboard tests:
 * small recipe repositories in a temp dir, `tend apply [--noop] --json` run on them as real
 * processes (every managed file is under the temp dir), a file edited by hand between runs (drift),
 * and the reports posted with node credentials from the real enrolment API.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "./cli.js";
import { goodRecipes, TestRepo } from "./server-git.js";
import { type ServerProcess, spawnServer, stop, tendServer } from "./server-process.js";

const run = promisify(execFile);

/** Untrusted text (TRUST C5) that must come out verbatim and inert. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: the literal text is the point (TRUST C5)
export const hostile = "{{ 7*7 }} ${7*7} <%= 7*7 %> `id` $(id) <script>window.__pwned=1</script>";

export interface UiFleet {
  url: string;
  admin: string;
  dir: string;
  /** web-1's managed file, edited by hand between its runs. */
  driftedFile: string;
  badCommit: string;
  server: ServerProcess;
  close(): Promise<void>;
}

export async function post(url: string, body: unknown, token?: string): Promise<Response> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`POST ${url}: ${res.status} ${await res.text()}`);
  return res;
}

/** `tend apply DIR --node NAME --json`; the exit code says changes or failures, the report is on stdout. */
export async function apply(recipes: string, node: string, stateDir: string, noop = false): Promise<unknown> {
  const args = ["--import", "tsx", join(repoRoot, "cli/main.ts"), "apply", recipes, "--node", node];
  args.push("--state-dir", stateDir, "--json", ...(noop ? ["--noop"] : []));
  const out = await run(process.execPath, args, {
    cwd: repoRoot,
    env: { ...process.env, NO_COLOR: "1" },
  }).catch((err: { stdout?: string; code?: number }) => {
    if (typeof err.stdout === "string" && err.stdout.trim().startsWith("{")) return { stdout: err.stdout };
    throw err;
  });
  return JSON.parse(out.stdout);
}

export function recipeRepo(dir: string, resources: string): string {
  mkdirSync(join(dir, "main"), { recursive: true });
  writeFileSync(join(dir, "nodes.yaml"), '- name: "*"\n  recipes: [main]\n');
  writeFileSync(join(dir, "main", "recipe.yaml"), `resources:\n${resources}`);
  return dir;
}

export async function startUiFleet(): Promise<UiFleet> {
  const dir = mkdtempSync(join(tmpdir(), "tend-ui-"));
  const repo = new TestRepo();
  repo.commit(goodRecipes, "good recipes");
  const config = join(dir, "server.yaml");
  writeFileSync(
    config,
    `listen: 127.0.0.1:0\ndata_dir: ${join(dir, "data")}\nrecipes: { repo: ${repo.dir}, poll: "0" }\nlog_level: warn\n`,
  );
  const admin = (await tendServer(["token", "create", "--admin", "--config", config])).stdout.trim();
  const enrol = (await tendServer(["token", "create", "--uses", "10", "--config", config])).stdout.trim();
  const server = await spawnServer(config);
  const url = server.url;
  const close = async () => {
    await stop(server);
    repo.cleanup();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // A refused commit: its file:line error shows on the commits page; the good one stays live.
    const badCommit = repo.commit(
      { "web/recipe.yaml": "resources:\n  - file: [unclosed\n" },
      "broken recipe",
    );
    await post(`${url}/api/v1/hooks/git`, {}, admin);

    const t = join(dir, "managed");
    mkdirSync(t);
    const driftedFile = join(t, "web-1.conf");
    const web = recipeRepo(
      join(dir, "web"),
      `  - file: ${driftedFile}\n    content: ${JSON.stringify(`listen 8080\n# ${hostile}\n`)}\n    mode: "0644"\n`,
    );
    const web2 = recipeRepo(
      join(dir, "web2"),
      `  - exec: echo hello from exec\n    creates: ${join(t, "web-2.conf")}\n  - file: ${join(t, "web-2.conf")}\n    content: "ok\\n"\n`,
    );
    const db = recipeRepo(
      join(dir, "db"),
      `  - file: ${join(t, "db-1.conf")}\n    content: "db\\n"\n  - exec: ls ${join(t, "missing")}\n`,
    );
    const creds: Record<string, string> = {};
    const facts = JSON.parse(
      (await run(process.execPath, ["--import", "tsx", join(repoRoot, "cli/main.ts"), "facts", "--json"]))
        .stdout,
    );
    for (const node of ["web-1", "web-2", "db-1"]) {
      const res = await post(`${url}/api/v1/enroll`, { token: enrol, node });
      creds[node] = ((await res.json()) as { credential: string }).credential;
      // The catalog request is how the server learns a node's facts.
      await post(`${url}/api/v1/catalog`, { facts: { ...facts, motd: hostile } }, creds[node]);
    }
    const send = (node: string, report: unknown) => post(`${url}/api/v1/reports`, report, creds[node]);
    const s = (n: string) => join(dir, `state-${n}`);
    const [w2a, d1] = await Promise.all([apply(web2, "web-2", s("web-2")), apply(db, "db-1", s("db-1"))]);
    await send("web-2", w2a);
    await send("db-1", d1);
    await send("web-1", await apply(web, "web-1", s("web-1")));
    writeFileSync(driftedFile, "listen 80\n# edited by hand\n");
    await send("web-1", await apply(web, "web-1", s("web-1"), true));
    await send("web-1", await apply(web, "web-1", s("web-1")));
    await send("web-2", await apply(web2, "web-2", s("web-2")));
    return { url, admin, dir, driftedFile, badCommit, server, close };
  } catch (err) {
    await close();
    throw err;
  }
}
