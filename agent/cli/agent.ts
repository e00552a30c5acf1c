/**
 * `tend agent enroll | run | daemon`: the pull agent's command line. Output and exit codes are
 * those of `tend apply` (agent/output.ts, agent/report.ts): 0 no changes, 2 changes, 4 failures,
 * 6 both, 1 the run could not start (not enrolled, no catalog, stale cache).
 */
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { TendError } from "../../core/errors.js";
import type { Report } from "../../core/types.js";
import { DEFAULT_CONFIG_FILE } from "../config.js";
import { RunStop } from "./stop.js";

const USAGE = `usage: tend agent enroll --server URL --token TOKEN [--node NAME] [--server-key FINGERPRINT|PEM-FILE]
                         [--insecure-http] [--config FILE] [--force]
       tend agent run [--noop] [--json] [--config FILE]
       tend agent daemon [--config FILE]
       tend agent flush [--config FILE]

enroll   trade an enrolment token for this node's credential, pin the server's key, write the
         configuration (default ${DEFAULT_CONFIG_FILE}); the token may also come from TEND_ENROLL_TOKEN;
         --server-key refuses any server key but this one (\`tend server key\` on the server prints it);
         plain http:// is refused for any host but this one unless --insecure-http is given
run      one run: fetch the signed catalog (or use the cached one when the server is away),
         converge, report
daemon   run on the configured schedule, with this node's splay
flush    send the reports waiting in the spool (the daemon does this between runs); exit 0 when
         the spool is empty, 3 when reports are left

exit codes (run): 0 nothing changed, 2 changes, 4 failures, 6 both, 1 could not start`;

const options = {
  server: { type: "string" },
  token: { type: "string" },
  node: { type: "string" },
  config: { type: "string" },
  "state-dir": { type: "string" },
  force: { type: "boolean" },
  "server-key": { type: "string" },
  "insecure-http": { type: "boolean" },
  noop: { type: "boolean" },
  json: { type: "boolean" },
  "log-line": { type: "boolean" },
  debug: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>["values"];

export async function main(argv: string[]): Promise<number> {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new TendError("TEND_E_USAGE", `${(err as Error).message}\n\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  const [sub, ...extra] = positionals;
  if (values.help || !sub) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 1;
  }
  if (extra.length > 0)
    throw new TendError("TEND_E_USAGE", `unexpected arguments: ${extra.join(" ")}\n\n${USAGE}`);
  const configFile = values.config ?? DEFAULT_CONFIG_FILE;
  switch (sub) {
    case "enroll":
      return enrollCommand(values, configFile);
    case "run":
      return runCommand(values, configFile);
    case "flush":
      return flushCommand(configFile);
    case "daemon": {
      const { daemon } = await import("../daemon.js");
      return daemon(configFile);
    }
    default:
      throw new TendError("TEND_E_USAGE", `unknown agent command "${sub}"\n\n${USAGE}`);
  }
}

async function enrollCommand(values: Values, configFile: string): Promise<number> {
  // The token is checked after the "already enrolled" test: re-running install.sh without one
  // on an enrolled box changes nothing instead of failing.
  const token = values.token || process.env.TEND_ENROLL_TOKEN || undefined;
  if (!values.server) {
    throw new TendError("TEND_E_USAGE", `enroll needs --server URL and --token TOKEN\n\n${USAGE}`);
  }
  let url: URL | null = null;
  try {
    url = /^https?:\/\/[^\s/]+/.test(values.server) ? new URL(values.server) : null;
  } catch {
    url = null;
  }
  if (!url) {
    throw new TendError(
      "TEND_E_USAGE",
      `--server takes a URL such as https://tend.example.com:7420, not "${values.server}"`,
    );
  }
  const server = values.server.replace(/\/+$/, "");
  const [{ readRawConfig, renderConfig }, identity, { enroll }, { mkdir, chmod, readFile }, { dirname }] =
    await Promise.all([
      import("../config.js"),
      import("../client/identity.js"),
      import("../client/api.js"),
      import("node:fs/promises"),
      import("node:path"),
    ]);
  const raw = await readRawConfig(configFile);
  const node = values.node ?? (raw.node as string | undefined) ?? hostname().toLowerCase();
  const stateDir = values["state-dir"] ?? (raw.state_dir as string | undefined) ?? "/var/lib/tend";
  // Checked before anything goes on the wire: a bad value must not cost the token.
  const pinned = values["server-key"] ? await identity.expectedFingerprint(values["server-key"]) : null;
  const current = await identity.loadIdentity(stateDir).catch(() => null);
  const writeConfig = async () => {
    const text = renderConfig({
      ...raw,
      server,
      node,
      ...(values["state-dir"] ? { state_dir: stateDir } : {}),
    });
    await mkdir(dirname(configFile), { recursive: true, mode: 0o755 });
    const before = await readFile(configFile, "utf8").catch(() => null);
    if (before !== text) await identity.writePrivate(configFile, text);
    await chmod(configFile, 0o600);
  };
  if (current && current.server === server && current.node === node && !values.force) {
    if (pinned && identity.keyFingerprint(current.server_key) !== pinned) {
      throw new TendError(
        "TEND_E_AGENT_ENROLL",
        `this box is enrolled with ${server}, whose key it pinned is ${identity.keyFingerprint(current.server_key)}, not ${pinned} as --server-key says; if the server's key really changed, enrol again with --force and a re-enrolment token`,
      );
    }
    await writeConfig();
    process.stdout.write(`already enrolled as ${node} with ${server} (--force enrols again)\n`);
    return 0;
  }
  if (!token) {
    throw new TendError(
      "TEND_E_USAGE",
      `enroll needs --token TOKEN (this box is not enrolled as ${node} with ${server})\n\n${USAGE}`,
    );
  }
  if (url.protocol === "http:" && !isLoopback(url.hostname)) {
    if (!values["insecure-http"]) {
      throw new TendError(
        "TEND_E_AGENT_ENROLL",
        `refusing to enrol over plain HTTP with ${url.host}: whoever is on the path can answer in the server's place and have this agent pin their signing key, and a catalog signed with it runs as root here; they also see the token and credential. Use an https:// URL, or pin the server's key out of band with --server-key (\`tend server key\` on the server prints it) and accept plain HTTP with --insecure-http`,
      );
    }
    process.stderr.write(
      `tend: warning: enrolling over plain HTTP with ${url.host} (--insecure-http): the token, the credential and this node's catalogs travel unencrypted${pinned ? "" : ", and the server's key is trusted as first seen (no --server-key)"}\n`,
    );
  }
  const reply = await enroll(server, token, node);
  const fingerprint = identity.keyFingerprint(reply.server_key);
  if (pinned && fingerprint !== pinned) {
    throw new TendError(
      "TEND_E_AGENT_ENROLL",
      `${server} presented server key ${fingerprint}, not ${pinned} as --server-key says; refused, nothing saved. Something between this box and the server may be answering in its place, or the URL or fingerprint is wrong (\`tend server key\` on the server prints it); the token must be treated as spent: create a new one`,
    );
  }
  const keyId = identity.keyIdOf(reply.server_key);
  if (keyId !== reply.key_id) {
    throw new TendError(
      "TEND_E_AGENT_ENROLL",
      `the server's key_id ${reply.key_id} does not match its key (${keyId})`,
    );
  }
  await identity.saveIdentity(stateDir, {
    format: 1,
    server,
    node,
    credential: reply.credential,
    server_key: reply.server_key,
    key_id: reply.key_id,
    enrolled_at: new Date().toISOString(),
  });
  await writeConfig();
  process.stdout.write(
    `enrolled as ${node} with ${server}; server key ${fingerprint} pinned${pinned ? " (as --server-key said)" : ""}; configuration in ${configFile}\n`,
  );
  return 0;
}

/** A host name that cannot leave this box: localhost, 127.0.0.0/8, ::1. */
export function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

async function flushCommand(configFile: string): Promise<number> {
  const [{ loadConfig }, { flushSpool }] = await Promise.all([import("../config.js"), import("../run.js")]);
  const r = await flushSpool(await loadConfig(configFile));
  if (r.sent > 0) process.stdout.write(`spool: sent ${r.sent} report(s), ${r.left} left\n`);
  return r.left > 0 ? 3 : 0;
}

/** The one line a daemon run leaves in the journal. */
export function logLine(report: Report, notice: string | null, spoolLeft: number): string {
  const s = report.summary;
  const parts = [
    `run ${report.id}`,
    `status=${report.status}`,
    `changed=${s.changed}`,
    `drifted=${s.drifted}`,
    `failed=${s.failed}`,
    `skipped=${s.skipped}`,
    `commit=${report.commit?.slice(0, 12) ?? "-"}`,
    `catalog=${report.catalog_source}`,
    `age=${report.catalog_age_s}s`,
    `duration=${(report.duration_ms / 1000).toFixed(2)}s`,
  ];
  if (spoolLeft > 0) parts.push(`spooled=${spoolLeft}`);
  if (notice) parts.push(`note="${notice.replace(/"/g, "'")}"`);
  if (report.error) parts.push(`error="${report.error.split("\n")[0]!.replace(/"/g, "'")}"`);
  return `${parts.join(" ")}\n`;
}

async function runCommand(values: Values, configFile: string): Promise<number> {
  const [{ loadConfig }, { agentRun, CatalogRefusedError }, output, { exitCode, EXIT }] = await Promise.all([
    import("../config.js"),
    import("../run.js"),
    import("../output.js"),
    import("../report.js"),
  ]);
  const config = await loadConfig(configFile);
  if (values["state-dir"]) config.stateDir = values["state-dir"];
  const noop = Boolean(values.noop);
  let lock: { release(): Promise<void> } | null = null;
  if (!noop) {
    const [{ ensureStateDir }, { acquireLock }] = await Promise.all([
      import("../client/identity.js"),
      import("../lock.js"),
    ]);
    await ensureStateDir(config.stateDir);
    lock = await acquireLock(config.stateDir, { waitMs: Math.round(config.lockWaitS * 1000) });
  }
  const stop = new RunStop();
  const timer = setTimeout(() => stop.abort(), config.runTimeoutS * 1000);
  timer.unref();
  // A daemon that stops while its scoped run goes on closes the pipe: the run must not die of it.
  if (values["log-line"]) process.stdout.on("error", () => {});
  const style = { color: output.wantsColor(process.stdout) };
  const quiet = Boolean(values.json) || Boolean(values["log-line"]);
  let result: Awaited<ReturnType<typeof agentRun>>;
  try {
    result = await agentRun(config, {
      noop,
      signal: stop.signal,
      log: (m) => process.stderr.write(`${m}\n`),
      onResource: quiet
        ? undefined
        : (r) => {
            const text = output.formatResource(r, style);
            if (text) process.stdout.write(text);
          },
    });
  } catch (err) {
    // A refused catalog: its failed report went to the server (or the spool); the --json and
    // --log-line outputs still show it, then the error ends the run (exit 1: nothing applied).
    if (err instanceof CatalogRefusedError) {
      if (values.json) process.stdout.write(`${JSON.stringify(err.report, null, 2)}\n`);
      else if (values["log-line"]) process.stdout.write(logLine(err.report, null, err.flush.left));
    }
    throw err;
  } finally {
    clearTimeout(timer);
    stop.release();
    await lock?.release();
  }
  const { report, notice, flush } = result;
  if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else if (values["log-line"]) process.stdout.write(logLine(report, notice, flush.left));
  else {
    if (report.catalog_source === "cache") {
      process.stdout.write(`catalog: cached (${report.catalog_age_s}s old; the server was unreachable)\n`);
    }
    process.stdout.write(output.formatSummary(report));
  }
  return report.status === "stale" ? EXIT.couldNotStart : exitCode(report);
}
