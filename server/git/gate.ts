/**
 * The git gate: fetches the mirror, validates each new commit as a whole (the repository
 * validator, symlinks leaving the folder, and a compile for every node the server knows, with its
 * last facts) and promotes it unless it breaks something: the repository's checks, or a node that
 * compiles on the live commit (a node whose facts fail on the live commit too is recorded, not
 * blocking). A refused commit is recorded with its file:line problems and the previous commit
 * keeps serving. With PostgreSQL, one server ingests a commit (advisory lock) and the others adopt
 * its verdict.
 */
import type { FastifyBaseLogger } from "fastify";
import type { Problem } from "../../core/errors.js";
import { isValid } from "../../core/schema.js";
import type { Facts } from "../../core/types.js";
import { recipesSubject, refusedCommitInput } from "../alerts/detect.js";
import type { CompilerFns } from "../compiler.js";
import type { Storage } from "../storage/types.js";
import type { GitMirror } from "./mirror.js";
import type { GitTree } from "./tree.js";

export interface GateResult {
  head: string | null;
  live: string | null;
  /** The verdict on `head`: true when valid, false when refused, null when not judged yet. */
  valid: boolean | null;
  problems: Problem[];
}

const maxProblems = 200;
/** How long the commit check compiles before it lets the event loop serve requests. */
const yieldEveryMs = 5;

export class GitGate {
  /** The live commit and its files; catalogs are compiled from it. */
  live: { sha: string; tree: GitTree } | null = null;
  /** Called once this server has promoted a commit and serves it (the push channel signals it). */
  onPromote: ((sha: string) => void) | null = null;
  private running: Promise<GateResult> | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  /** A commit this server made live since the last announce(). */
  private promoted: string | null = null;

  constructor(
    private readonly mirror: GitMirror,
    private readonly subpath: string,
    private readonly storage: Storage,
    private readonly compiler: CompilerFns,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** Fetches and ingests; concurrent calls share one run. */
  refresh(): Promise<GateResult> {
    if (!this.running) {
      this.running = this.serially(() => this.doRefresh()).finally(() => {
        this.running = null;
      });
    }
    return this.running;
  }

  private async doRefresh(): Promise<GateResult> {
    const head = await this.mirror.sync();
    let verdict = head ? await this.storage.getCommit(head) : undefined;
    if (head && !verdict) {
      const ran = await this.storage.withIngestLock(async () => {
        if (!(await this.storage.getCommit(head))) await this.ingest(head);
        return true;
      });
      verdict = await this.storage.getCommit(head);
      // Another server holds the lock: wait (bounded) for its verdict rather than judge twice.
      for (let i = 0; !ran && !verdict && i < 300; i++) {
        await new Promise((r) => setTimeout(r, 100));
        verdict = await this.storage.getCommit(head);
      }
    }
    await this.loadLive();
    this.announce();
    return {
      head,
      live: this.live?.sha ?? null,
      valid: verdict ? verdict.valid : null,
      problems: verdict?.problems ?? [],
    };
  }

  /**
   * Re-check (the commit page's button, `POST /api/v1/commits/SHA/recheck`): fetches, then judges
   * `sha` (or the branch head) again with the nodes' facts as they are now — a node fixed or
   * revoked since may change the verdict — and replaces the recorded verdict. Only the head is
   * promoted when now valid: making an older commit live would be a rollback, which is a deploy's
   * business. Null when the commit is not in the repository, undefined when another server holds
   * the ingest lock. Waits for a fetch in progress rather than running beside it.
   */
  recheck(sha: string | "head"): Promise<(GateResult & { commit: string }) | null | undefined> {
    return this.serially(async () => {
      const head = await this.mirror.sync();
      const target = sha === "head" ? head : sha;
      if (!target || !(await this.mirror.hasCommit(target))) return null;
      const ran = await this.storage.withIngestLock(async () => {
        await this.ingest(target, { replace: true, promote: target === head });
        return true;
      });
      if (!ran) return undefined;
      await this.loadLive();
      this.announce();
      const verdict = await this.storage.getCommit(target);
      return {
        commit: target,
        head,
        live: this.live?.sha ?? null,
        valid: verdict ? verdict.valid : null,
        problems: verdict?.problems ?? [],
      };
    });
  }

  /** Once a commit this server promoted is the one it serves: onPromote (the push channel). */
  private announce(): void {
    const promoted = this.promoted;
    this.promoted = null;
    if (promoted && this.live?.sha === promoted) this.onPromote?.(promoted);
  }

  /** Fetches and re-checks run one after another: two git fetches into one mirror would collide. */
  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Judges one commit and records the verdict; promotes it when valid (and `promote`). */
  private async ingest(sha: string, o: { replace?: boolean; promote?: boolean } = {}): Promise<void> {
    const tree = await this.mirror.tree(sha, this.subpath);
    const verdict = await this.judge(sha, tree);
    const valid = verdict.blocking.length === 0;
    const subject = await this.mirror.subject(sha).catch(() => "");
    const failing = verdict.failingNodes.length;
    const also = failing > 0 ? ` (${failing} node(s) fail to compile on it, as on the live commit)` : "";
    const summary = valid
      ? `valid: ${subject}${also}`
      : `${verdict.blocking.length} error(s): ${subject}${also}`;
    const record = {
      sha,
      valid,
      // Blocking problems first; the failing nodes' problems after them (on a promoted commit, alone).
      problems: [...verdict.blocking, ...verdict.nodeProblems].slice(0, maxProblems),
      seen_at: Date.now(),
      summary,
    };
    if (o.replace && (await this.storage.getCommit(sha))) await this.storage.updateCommit(record);
    else await this.storage.recordCommit(record);
    if (valid && o.promote !== false) {
      const before = await this.storage.liveCommit();
      await this.storage.setLiveCommit(sha);
      if (before !== sha) this.promoted = sha;
    }
    // The branch's head decides the refused-commit alert; a re-check of an older commit does not.
    if (o.promote !== false) await this.alert(sha, valid, summary, verdict.blocking);
    this.log.info(
      { commit: sha, valid, problems: verdict.blocking.length, failingNodes: failing },
      valid ? "commit promoted" : "commit refused",
    );
    if (failing > 0) {
      this.log.warn(
        { commit: sha, nodes: verdict.failingNodes.slice(0, 20), count: failing },
        "nodes whose facts do not compile on the live commit do not compile on this one either; they do not block it",
      );
    }
  }

  /** The refused-commit condition: raised by a refused commit, resolved when a valid one lands. */
  private async alert(sha: string, valid: boolean, summary: string, problems: Problem[]): Promise<void> {
    const alerts = this.storage.alerts;
    const now = Date.now();
    try {
      if (valid) await alerts.clear("refused-commit", recipesSubject, now);
      else
        await alerts.raise("refused-commit", recipesSubject, refusedCommitInput(sha, summary, problems), now);
    } catch (err) {
      // The verdict stands; the sweeper raises or clears the condition from it later.
      this.log.warn(
        { commit: sha, err: (err as Error).message },
        "could not record the refused-commit alert",
      );
    }
  }

  /**
   * The verdict on a commit. Blocking (the commit is refused): symlinks leaving the folder, the
   * repository validator's problems, and every node that compiles on the live commit but not on
   * this one, a regression this commit causes. A node that fails on the live commit too fails
   * because of its facts (say `ipv4: []` where a template reads `facts.ipv4[0]`): it must not
   * freeze the fleet's deploys, so its problems are recorded (`nodeProblems`) without blocking,
   * and the node keeps getting its 422 from the catalog route. Revoked nodes do not count.
   * Yields to the event loop every few milliseconds of compiling, so requests keep being served
   * while a large fleet is judged (TRUST H5, E4).
   */
  async judge(
    sha: string,
    tree: GitTree,
  ): Promise<{ blocking: Problem[]; nodeProblems: Problem[]; failingNodes: string[] }> {
    const blocking: Problem[] = [...tree.escapingSymlinks()];
    const nodeProblems: Problem[] = [];
    const failingNodes: string[] = [];
    try {
      blocking.push(...this.compiler.validateRepo(tree).problems);
      const base = await this.liveTree(sha);
      const known = await this.storage.knownFacts(); // revoked nodes' are left out
      let sliceStart = performance.now();
      for (const { node, facts } of known) {
        if (performance.now() - sliceStart >= yieldEveryMs) {
          await new Promise((resolve) => setImmediate(resolve));
          sliceStart = performance.now();
        }
        // Facts stored before the catalog route checked them whole: a node must not be able to
        // block the fleet's deploys by reporting incomplete facts.
        if (!isValid("facts", facts)) {
          this.log.warn({ node }, "skipping a node with incomplete facts in the commit check");
          continue;
        }
        const problems = this.compileProblems(tree, sha, node, facts);
        if (problems.length === 0) continue;
        // No live commit yet: nothing was served, so nothing can regress. A live commit missing
        // from the mirror: no baseline, so every failure blocks (as it always did).
        const regression =
          base === undefined
            ? false
            : base === null || this.compileProblems(base.tree, base.sha, node, facts).length === 0;
        if (regression) {
          for (const p of problems) blocking.push({ ...p, message: `node ${node}: ${p.message}` });
          if (blocking.length >= maxProblems) break;
        } else {
          failingNodes.push(node);
          for (const p of problems) {
            if (nodeProblems.length >= maxProblems) break;
            nodeProblems.push({
              ...p,
              message: `node ${node} (also fails on the live commit, so it does not block this one): ${p.message}`,
            });
          }
        }
      }
    } catch (err) {
      blocking.push({ code: "TEND_E_VALIDATION", message: `the compiler failed: ${(err as Error).message}` });
    }
    return { blocking, nodeProblems, failingNodes };
  }

  /** The node's compile problems; a compiler exception is one problem (it fails that node only). */
  private compileProblems(tree: GitTree, sha: string, node: string, facts: Facts): Problem[] {
    try {
      return this.compiler.compile(tree, node, facts, { commit: sha }).problems;
    } catch (err) {
      return [{ code: "TEND_E_VALIDATION", message: `the compiler failed: ${(err as Error).message}` }];
    }
  }

  /**
   * The live commit's tree, the baseline a new commit is compared with: undefined when no commit is
   * live, null when the live commit is not in this mirror.
   */
  private async liveTree(sha: string): Promise<{ sha: string; tree: GitTree } | null | undefined> {
    const live = await this.storage.liveCommit();
    if (!live || live === sha) return undefined;
    if (this.live?.sha === live) return this.live;
    if (!(await this.mirror.hasCommit(live))) return null;
    return { sha: live, tree: await this.mirror.tree(live, this.subpath) };
  }

  /** Trees of commits other than the live one (rollout pins serve the previous commit), a few kept. */
  private readonly older = new Map<string, Promise<GitTree | null>>();

  /** The files of a commit of the repository, or null when the mirror has no such commit. */
  treeOf(sha: string): Promise<GitTree | null> {
    if (this.live?.sha === sha) return Promise.resolve(this.live.tree);
    let tree = this.older.get(sha);
    if (!tree) {
      tree = (async () => {
        // Another server may have promoted it: fetch once (serially with the gate's own fetches).
        if (!(await this.mirror.hasCommit(sha))) await this.serially(() => this.mirror.sync());
        return (await this.mirror.hasCommit(sha)) ? await this.mirror.tree(sha, this.subpath) : null;
      })();
      // Not kept when missing or unreadable: a later fetch may bring it.
      void tree.then(
        (t) => t ?? this.older.delete(sha),
        () => this.older.delete(sha),
      );
      if (this.older.size >= 4) this.older.delete(this.older.keys().next().value as string);
      this.older.set(sha, tree);
    }
    return tree;
  }

  warn(message: string, err: unknown): void {
    this.log.warn({ err: (err as Error)?.message }, message);
  }

  /** Adopts the storage's live commit (another server may have promoted it). */
  async loadLive(): Promise<void> {
    const sha = await this.storage.liveCommit();
    if (!sha || sha === this.live?.sha) return;
    if (!(await this.mirror.hasCommit(sha))) await this.mirror.sync();
    if (!(await this.mirror.hasCommit(sha))) {
      this.log.warn({ commit: sha }, "the live commit is not in this server's mirror yet");
      return;
    }
    this.live = { sha, tree: await this.mirror.tree(sha, this.subpath) };
  }
}
