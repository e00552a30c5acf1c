/**
 * The console's actions on nodes and commits, shared by the API (routes/console-api.ts) and the
 * dashboard (routes/ui-actions.ts): revoke a node, ask nodes to run or plan now (issue 11's push
 * channel), re-check a commit with the git gate, deploy a commit (issue 11's rollouts). Each is
 * recorded in the audit log once it has happened.
 */
import { type Actor, audit } from "../audit.js";
import type { Deps } from "../deps.js";
import { HttpError } from "../http.js";

/** 503 TEND_E_PUSH_UNAVAILABLE: what a run, plan or deploy answers until issue 11 is connected. */
export const pushUnavailable = (what: string) =>
  new HttpError(
    503,
    "TEND_E_PUSH_UNAVAILABLE",
    `The push channel is not available on this server, so it cannot ${what}; nodes pick up the live commit at their next scheduled run.`,
  );

export async function revokeNode(d: Deps, actor: Actor, name: string): Promise<boolean> {
  const now = d.now();
  if (!(await d.storage.revokeNode(name, now))) return false;
  // Its push streams end now, here and on the other servers (TRUST A7).
  await d.push.revoked(name);
  await audit(d.storage, actor, { action: "node.revoke", nodes: [name] }, now);
  return true;
}

/** Asks `nodes` to run now (`noop`: a plan). The caller resolved and checked the names. */
export async function signalNodes(d: Deps, actor: Actor, nodes: string[], noop: boolean): Promise<void> {
  if (!d.signals) throw pushUnavailable(noop ? "ask nodes to plan now" : "ask nodes to run now");
  await d.signals.send(nodes, noop ? "noop" : "run");
  await audit(
    d.storage,
    actor,
    { action: noop ? "nodes.plan" : "nodes.run", nodes, details: { count: nodes.length } },
    d.now(),
  );
}

export interface RecheckResult {
  commit: string;
  valid: boolean | null;
  live: string | null;
  head: string | null;
  errors: { code: string; message: string }[];
}

/** Judges `sha` (or `head`) again; 404 when the repository has no such commit. */
export async function recheckCommit(d: Deps, actor: Actor, sha: string): Promise<RecheckResult> {
  if (!d.gate) throw new HttpError(404, "TEND_E_HTTP_NOT_FOUND", "No recipe repository is configured.");
  const r = await d.gate.recheck(sha);
  if (r === null) throw new HttpError(404, "TEND_E_HTTP_NOT_FOUND", "The repository has no such commit.");
  if (r === undefined) {
    throw new HttpError(
      409,
      "TEND_E_BUSY",
      "Another server is judging a commit right now; try again in a moment.",
    );
  }
  await audit(
    d.storage,
    actor,
    { action: "commit.recheck", details: { commit: r.commit, valid: r.valid, live: r.live } },
    d.now(),
  );
  return { commit: r.commit, valid: r.valid, live: r.live, head: r.head, errors: r.problems };
}

/** Starts a rollout of a valid commit through issue 11's rollouts. */
export async function deployCommit(
  d: Deps,
  actor: Actor,
  sha: string,
  noop: boolean,
): Promise<{ id: string }> {
  const commit = await d.storage.getCommit(sha);
  if (!commit) throw new HttpError(404, "TEND_E_HTTP_NOT_FOUND", "No such commit.");
  if (!commit.valid)
    throw new HttpError(
      409,
      "TEND_E_COMMIT_REFUSED",
      "The git gate refused this commit; it cannot be deployed.",
    );
  if (!d.rollouts) throw pushUnavailable("deploy a commit");
  const started = await d.rollouts.start({
    commit: sha,
    noop,
    startedBy: `${actor.principal.kind}:${actor.principal.id}`,
  });
  await audit(
    d.storage,
    actor,
    { action: "commit.deploy", details: { commit: sha, noop, rollout: started.id } },
    d.now(),
  );
  return started;
}
