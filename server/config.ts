/**
 * The server's configuration: a YAML file checked against schemas/server-config.schema.json, with
 * the defaults filled in and paths resolved. Mistakes come back as one TEND_E_CONFIG error listing
 * each problem with its file:line and field.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, resolve } from "node:path";
import { TendError } from "../core/errors.js";
import { DEFAULT_MAX_FILE_BYTES } from "../core/repo.js";
import { schemaProblems } from "../core/schema.js";
import { type ParsedYaml, parseYaml } from "../core/yaml.js";
import { type AlertsConfig, resolveAlerts } from "./alerts/config.js";
import type { Role } from "./roles.js";
import { type DeployConfig, resolveDeploy } from "./rollouts/config.js";

export interface ServerConfig {
  listen: { host: string; port: number };
  dataDir: string;
  database: string;
  databaseSchema: string;
  behindTlsProxy: boolean;
  /** `public_url` without a trailing slash; null: the listen address (known once listening). */
  publicUrl: string | null;
  tls: { cert: string; key: string } | null;
  recipes: {
    repo: string;
    /** The default environment's branch: the first of `branches`. */
    branch: string;
    /** The branches followed, each an environment (names or globs); the first is `branch`. */
    branches: string[];
    path: string;
    pollMs: number;
    webhookSecret: string | null;
  } | null;
  keepDays: number;
  /** How often agents run; the dashboard calls a node stale after two intervals without a report. */
  agentIntervalMs: number;
  limits: { bodyBytes: number; maxInFlight: number; enrollBurst: number; enrollPerMinute: number };
  alerts: AlertsConfig;
  inlineFileBytes: number;
  /** The largest file a recipe may hold; larger ones refuse the commit (TEND_E_FILE_TOO_LARGE). */
  maxFileBytes: number;
  /** The push channel (server/push/): heartbeat and replay window in ms, fleet run rate per second. */
  push: { heartbeatMs: number; replayMs: number; runRate: number };
  /** Rollouts (server/rollouts/): what a new commit does, and a rollout's defaults. */
  deploy: DeployConfig;
  logLevel: string;
  /** Dashboard sign-in with an OpenID Connect provider (server/oidc.ts); null: not configured. */
  oidc: OidcConfig | null;
}

export interface OidcConfig {
  issuer: string;
  clientId: string;
  clientSecretFile: string;
  label: string;
  scopes: string[];
  /** The claim naming the person (null: preferred_username, then email, then sub). */
  nameClaim: string | null;
  roleClaim: string;
  /** Claim values granting each role ("*": anyone the provider signs in). */
  roles: Partial<Record<Role, string[]>>;
}

/** `30s`, `5m`, `1h`, `2d`, `250ms`, or bare seconds. */
export function parseDuration(text: string): number {
  const m = /^([0-9]+)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) throw new TendError("TEND_E_USAGE", `"${text}" is not a duration; write e.g. 30s, 15m, 1h or 7d.`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? "s") as "s"];
  return Number(m[1]) * unit;
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127\./.test(host);
}

/** Loads and checks `file` (or only defaults when undefined). */
export function loadConfig(file?: string, overrides: Record<string, unknown> = {}): ServerConfig {
  let raw: Record<string, unknown> = {};
  let parsed: ParsedYaml | undefined;
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      throw new TendError(
        "TEND_E_CONFIG",
        `cannot read the configuration file ${file}: ${(err as Error).message}`,
      );
    }
    const result = parseYaml(text, file);
    if (!result.parsed) {
      throw new TendError(
        "TEND_E_CONFIG",
        `the configuration file ${file} is not valid YAML.`,
        result.problems,
      );
    }
    parsed = result.parsed;
    const value = parsed.value;
    if (value !== null && value !== undefined && (typeof value !== "object" || Array.isArray(value))) {
      throw new TendError(
        "TEND_E_CONFIG",
        `the configuration file ${file} must be a mapping of keys to values.`,
      );
    }
    raw = (value ?? {}) as Record<string, unknown>;
  }
  raw = { ...raw, ...overrides };
  // The one validation module (precompiled schemas): no schema file is read at run time.
  const problems = schemaProblems("server-config", raw, {
    file: file ?? "(defaults)",
    ...(parsed ? { locate: parsed.locate } : {}),
  });
  if (problems.length > 0) {
    throw new TendError(
      "TEND_E_CONFIG",
      `the configuration ${file ?? ""} has ${problems.length} error(s).`,
      problems,
    );
  }
  return resolveConfig(raw, file);
}

/** `branch:` or `branches:` (not both); the first branch is a plain name, the default environment. */
function resolveBranches(r: Record<string, unknown> | undefined, file?: string): string[] {
  const where = file ?? "(defaults)";
  if (r?.branch !== undefined && r.branches !== undefined) {
    throw new TendError(
      "TEND_E_CONFIG",
      `${where}: recipes: give either branch: or branches:, not both (branch: X is branches: [X]).`,
    );
  }
  const branches = (r?.branches as string[] | undefined) ?? [String(r?.branch ?? "main")];
  const first = branches[0]!;
  if (/[*?{},]/.test(first)) {
    throw new TendError(
      "TEND_E_CONFIG",
      `${where}: recipes.branches[0] is "${first}", a glob; the first branch is the default environment and must be one branch's name, e.g. branches: [main, "${first}"].`,
    );
  }
  return branches;
}

function resolveConfig(raw: Record<string, unknown>, file?: string): ServerConfig {
  const base = file ? dirname(resolve(file)) : process.cwd();
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const listen = String(raw.listen ?? "127.0.0.1:7420");
  const cut = listen.lastIndexOf(":");
  const host = listen.slice(0, cut).replace(/^\[|\]$/g, "");
  const port = Number(listen.slice(cut + 1));
  if (port > 65535) throw new TendError("TEND_E_CONFIG", `listen: port ${port} is above 65535.`);
  const tls = raw.tls as { cert: string; key: string } | undefined;
  if (!tls && !isLoopback(host) && raw.behind_tls_proxy !== true) {
    throw new TendError(
      "TEND_E_CONFIG",
      `listen: ${listen} is not a loopback address, and without TLS credentials and enrolment tokens would cross the network in clear. Configure tls: {cert, key}, or set behind_tls_proxy: true if a proxy terminates TLS in front of the server.`,
    );
  }
  const r = raw.recipes as Record<string, string> | undefined;
  const branches = resolveBranches(r, file);
  const limits = (raw.limits ?? {}) as Record<string, number>;
  const pushRaw = (raw.push ?? {}) as Record<string, unknown>;
  const defaultDir = process.getuid?.() === 0 ? "/var/lib/tend-server" : resolve(homedir(), ".tend-server");
  return {
    listen: { host, port },
    dataDir: raw.data_dir ? abs(String(raw.data_dir)) : defaultDir,
    database: String(raw.database ?? "sqlite"),
    databaseSchema: String(raw.database_schema ?? "public"),
    behindTlsProxy: raw.behind_tls_proxy === true,
    publicUrl: raw.public_url ? String(raw.public_url).replace(/\/+$/, "") : null,
    tls: tls ? { cert: abs(tls.cert), key: abs(tls.key) } : null,
    recipes: r
      ? {
          repo:
            /^[a-z][a-z0-9+.-]*:\/\//i.test(r.repo ?? "") || /^[^/]+@[^:]+:/.test(r.repo ?? "")
              ? String(r.repo)
              : abs(String(r.repo)),
          branch: branches[0]!,
          branches,
          path: r.path ?? "",
          pollMs: parseDuration(String(r.poll ?? "60s")),
          webhookSecret: r.webhook_secret ?? null,
        }
      : null,
    agentIntervalMs: parseDuration(String(raw.agent_interval ?? "30m")),
    keepDays: Number((raw.reports as { keep_days?: number } | undefined)?.keep_days ?? 90),
    limits: {
      bodyBytes: limits.body_bytes ?? 4 * 1024 * 1024,
      maxInFlight: limits.max_in_flight ?? 1024,
      enrollBurst: limits.enroll_burst ?? 10,
      enrollPerMinute: limits.enroll_per_minute ?? 30,
    },
    alerts: resolveAlerts(raw.alerts as Record<string, unknown> | undefined, abs, parseDuration),
    inlineFileBytes: Number(
      (raw.catalog as { inline_file_bytes?: number } | undefined)?.inline_file_bytes ?? 65536,
    ),
    maxFileBytes: Number(
      (raw.catalog as { max_file_bytes?: number } | undefined)?.max_file_bytes ?? DEFAULT_MAX_FILE_BYTES,
    ),
    push: {
      heartbeatMs: Math.max(100, parseDuration(String(pushRaw.heartbeat ?? "25s"))),
      replayMs: parseDuration(String(pushRaw.replay ?? "15m")),
      runRate: Number(pushRaw.run_rate ?? 100),
    },
    deploy: resolveDeploy(raw.deploy as Record<string, unknown> | undefined, parseDuration),
    logLevel: String(raw.log_level ?? "info"),
    oidc: resolveOidc(raw.oidc as Record<string, unknown> | undefined, abs, file),
  };
}

function resolveOidc(
  o: Record<string, unknown> | undefined,
  abs: (p: string) => string,
  file?: string,
): OidcConfig | null {
  if (!o) return null;
  const issuer = String(o.issuer).replace(/\/+$/, "");
  const host = new URL(issuer).hostname;
  if (issuer.startsWith("http://") && !isLoopback(host)) {
    throw new TendError(
      "TEND_E_CONFIG",
      `${file ?? "server.yaml"}: oidc.issuer is ${issuer}: plain http would carry sign-ins in clear; use the provider's https:// address (http is allowed on a loopback address only).`,
    );
  }
  return {
    issuer,
    clientId: String(o.client_id),
    clientSecretFile: abs(String(o.client_secret_file)),
    label: String(o.label ?? "OIDC"),
    scopes: (o.scopes as string[] | undefined) ?? ["openid", "email", "profile"],
    nameClaim: o.name_claim ? String(o.name_claim) : null,
    roleClaim: String(o.role_claim ?? "groups"),
    roles: o.roles as OidcConfig["roles"],
  };
}
