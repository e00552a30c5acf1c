/**
 * `package` (apt). Reads are batched: one dpkg-query for every package of the catalog, and one
 * apt-cache policy only when a candidate version matters (latest, or something to install).
 *
 * Installs are batched: the first `apply` of a run installs, in one apt-get call, that package and
 * the package resources right after it in catalog order that also need installing (no other
 * resource in between, each requiring only packages of the batch). The others of the batch then
 * report their change at their own `check` (so notify and the report stay truthful) and their
 * `apply` has nothing left to do. Batching needs the whole ordered catalog in `prefetch`; given only
 * package resources, each installs on its own (declaration order is a promise).
 */
import { TendError } from "../../core/errors.js";
import type { KindSpec } from "../../core/kind-spec.js";
import type { CatalogResource, Change } from "../../core/types.js";
import {
  aptGet,
  candidates,
  dpkgAudit,
  type InstalledState,
  queryInstalled,
  waitForDpkgLock,
} from "../sys/dpkg.js";
import type { CheckResult, Kind, KindContext, WatchSpec } from "./kind.js";

export interface PackageParams {
  ensure: string;
}

export const spec: KindSpec = {
  type: "package",
  description: "A Debian package, managed with apt.",
  notes: `Reads every package of the catalog with one \`dpkg-query\`. Installs never prompt
(\`DEBIAN_FRONTEND=noninteractive\`, \`--force-confold\`); package resources next to each other in the
run order go in one \`apt-get install\` when the engine hands the kind's \`prefetch\` the whole run
order (see writing-a-kind.md). It waits for the dpkg lock up to 120 s (\`TEND_DPKG_LOCK_TIMEOUT\`
seconds overrides), then fails naming the holder's pid; it never deletes lock files. An interrupted
dpkg (\`dpkg --audit\`) fails the install with what dpkg reports; tend does not run
\`dpkg --configure -a\` on its own. \`absent\` removes (keeps conffiles).`,
  name: {
    title: "Package name",
    description: "The package's name, as apt knows it.",
    type: "string",
    pattern: "^[a-z0-9][a-z0-9+.-]+$",
    "x-hint": 'a Debian package name such as "nginx"',
  },
  attributes: {
    ensure: {
      title: "Ensure",
      description:
        "`installed` (any version), `latest` (the candidate apt would install), `absent` (removed; conffiles kept), or an exact version string.",
      type: "string",
      minLength: 1,
      default: "installed",
    },
  },
  required: ["ensure"],
};

/** Default wait for the dpkg lock; `ctx.run["package.lock_timeout_s"]` or TEND_DPKG_LOCK_TIMEOUT override. */
export const DEFAULT_LOCK_TIMEOUT_S = 120;

class PackageState {
  installed = new Map<string, InstalledState>();
  candidate = new Map<string, string | null>();
  /** Changes made for a resource by another resource's batched install, reported at its next check. */
  batched = new Map<string, Change[]>();
  constructor(
    readonly packages: CatalogResource[],
    /** Per package id: the id of the resource right before it in the catalog, when the whole catalog was given. */
    readonly previous: Map<string, string> | null,
  ) {}

  async refresh(names: string[], signal?: AbortSignal): Promise<void> {
    const now = await queryInstalled(names, signal);
    for (const n of names) {
      const s = now.get(n);
      if (s) this.installed.set(n, s);
      else this.installed.delete(n);
    }
  }

  /** Candidate versions for `names`, read once per run for those not yet known. */
  async candidates(names: string[], signal?: AbortSignal): Promise<void> {
    const unknown = names.filter((n) => !this.candidate.has(n));
    if (unknown.length === 0) return;
    const found = await candidates(unknown, signal);
    for (const n of unknown) this.candidate.set(n, found.get(n) ?? null);
  }
}

const ensureOf = (r: CatalogResource) => (r.params as unknown as PackageParams).ensure ?? "installed";
const installedVersion = (s: InstalledState | undefined) => (s?.status === "installed" ? s.version : null);

async function prefetch(
  resources: CatalogResource[],
  ctx: Omit<KindContext, "prefetched">,
): Promise<PackageState> {
  const packages = resources.filter((r) => r.type === "package");
  let previous: Map<string, string> | null = null;
  if (packages.length < resources.length) {
    previous = new Map();
    for (let i = 1; i < resources.length; i++) previous.set(resources[i]!.id, resources[i - 1]!.id);
  }
  const state = new PackageState(packages, previous);
  await state.refresh(
    packages.map((r) => r.name),
    ctx.signal,
  );
  // Candidates matter for `latest` and for anything not yet installed (does apt know it?).
  const need = packages.filter((r) => {
    const e = ensureOf(r);
    return e === "latest" || (e !== "absent" && installedVersion(state.installed.get(r.name)) === null);
  });
  await state.candidates(
    need.map((r) => r.name),
    ctx.signal,
  );
  return state;
}

async function stateOf(r: CatalogResource, ctx: KindContext): Promise<PackageState> {
  const given = ctx.prefetched as PackageState | undefined;
  if (given instanceof PackageState) return given;
  return prefetch([r], ctx);
}

function diffOf(r: CatalogResource, state: PackageState): Change[] {
  const want = ensureOf(r);
  const have = installedVersion(state.installed.get(r.name));
  const from = have ?? "absent";
  if (want === "absent") return have === null ? [] : [{ property: "ensure", from, to: "absent" }];
  if (want === "installed") return have === null ? [{ property: "ensure", from, to: "installed" }] : [];
  if (want === "latest") {
    const cand = state.candidate.get(r.name) ?? null;
    if (cand === null || cand === have) return [];
    return [{ property: "ensure", from, to: cand }];
  }
  return have === want ? [] : [{ property: "ensure", from, to: want }];
}

async function check(r: CatalogResource, ctx: KindContext): Promise<CheckResult> {
  const state = await stateOf(r, ctx);
  const reported = state.batched.get(r.id);
  if (reported) return { changes: reported };
  const changes = diffOf(r, state);
  const want = ensureOf(r);
  if (changes.length > 0 && want !== "absent") {
    await state.candidates([r.name], ctx.signal);
    if (!state.candidate.get(r.name)) {
      throw new TendError(
        "TEND_E_PACKAGE_NOT_FOUND",
        `${r.id}: apt knows no package "${r.name}" (apt-cache policy has no candidate); check the name, or run apt-get update.`,
      );
    }
  }
  return { changes };
}

function lockTimeoutS(ctx: KindContext): number {
  const v = ctx.run["package.lock_timeout_s"] ?? process.env.TEND_DPKG_LOCK_TIMEOUT;
  const n = Number(v);
  return v !== undefined && Number.isFinite(n) && n >= 0 ? n : DEFAULT_LOCK_TIMEOUT_S;
}

/** The package resources installed together with `r`: it, then its neighbours in catalog order. */
function batchFor(r: CatalogResource, state: PackageState): CatalogResource[] {
  const batch = [r];
  if (!state.previous) return batch;
  const ids = new Set([r.id]);
  const at = state.packages.indexOf(r);
  for (const q of state.packages.slice(at + 1)) {
    const adjacent = state.previous.get(q.id) === batch[batch.length - 1]!.id;
    const want = ensureOf(q);
    if (!adjacent || want === "absent" || !q.require.every((id) => ids.has(id))) break;
    if (diffOf(q, state).length === 0 || !state.candidate.get(q.name)) break;
    batch.push(q);
    ids.add(q.id);
  }
  return batch;
}

const installSpec = (r: CatalogResource) => {
  const e = ensureOf(r);
  return e === "installed" || e === "latest" ? r.name : `${r.name}=${e}`;
};

async function apply(r: CatalogResource, _changes: Change[], ctx: KindContext): Promise<undefined> {
  const state = await stateOf(r, ctx);
  if (state.batched.delete(r.id)) return; // installed with an earlier package of its batch
  const audit = await dpkgAudit(ctx.signal);
  if (audit) {
    throw new TendError(
      "TEND_E_DPKG_INTERRUPTED",
      `dpkg was interrupted earlier and reports:\n${audit}\nRun dpkg --configure -a (tend does not repair dpkg on its own).`,
    );
  }
  const timeout = lockTimeoutS(ctx);
  await waitForDpkgLock(timeout * 1000, ctx.signal);
  if (ensureOf(r) === "absent") {
    await aptGet(["remove", "--", r.name], timeout, ctx.signal);
    await state.refresh([r.name], ctx.signal);
    return;
  }
  const batch = batchFor(r, state);
  const before = new Map(batch.map((q) => [q.id, diffOf(q, state)]));
  const allowDowngrade =
    ensureOf(r) !== "installed" && ensureOf(r) !== "latest" ? ["--allow-downgrades"] : [];
  try {
    await aptGet(["install", ...allowDowngrade, "--", ...batch.map(installSpec)], timeout, ctx.signal);
  } catch (err) {
    if (batch.length === 1) throw err;
    ctx.log(`${r.id}: batched install of ${batch.length} packages failed; installing it alone`);
    batch.splice(1);
    await aptGet(["install", ...allowDowngrade, "--", installSpec(r)], timeout, ctx.signal);
  }
  await state.refresh(
    batch.map((q) => q.name),
    ctx.signal,
  );
  for (const q of batch.slice(1)) {
    const done = before.get(q.id) ?? [];
    if (diffOf(q, state).length === 0 && done.length > 0) state.batched.set(q.id, done);
  }
}

/** Watch mode: the package, through dpkg's status file (an install, removal or upgrade rewrites it). */
function watch(r: CatalogResource): WatchSpec {
  return { packages: [r.name] };
}

export const pkg: Kind = { type: "package", spec, prefetch, check, apply, watch };
