/** `tend agent enroll`: trade an enrolment token for this node's credential and pin the server's key. */
import { hostname } from "node:os";
import { TendError } from "../../core/errors.js";
import { USAGE, type Values } from "./agent-options.js";

export async function enrollCommand(values: Values, configFile: string): Promise<number> {
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
      import("../../agent/config.js"),
      import("../../agent/client/identity.js"),
      import("../../agent/client/api.js"),
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
