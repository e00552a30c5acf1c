/**
 * The git gate: fetches the mirror, validates each new commit as a whole (the repository
 * validator, symlinks leaving the folder, and a compile for every node the server knows, with its
 * last facts) and promotes it only when all of that is clean. An invalid commit is recorded with
 * its file:line problems and the previous commit keeps serving. With PostgreSQL, one server
 * ingests a commit (advisory lock) and the others adopt its verdict.
 */
import type { FastifyBaseLogger } from "fastify";
import type { Problem } from "../../core/errors.js";
import { isValid } from "../../core/schema.js";
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

export class GitGate {
  /** The live commit and its files; catalogs are compiled from it. */
  live: { sha: string; tree: GitTree } | null = null;
  private running: Promise<GateResult> | null = null;

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
      this.running = this.doRefresh().finally(() => {
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
    return {
      head,
      live: this.live?.sha ?? null,
      valid: verdict ? verdict.valid : null,
      problems: verdict?.problems ?? [],
    };
  }

  /** Judges one commit and records the verdict; promotes it when valid. */
  private async ingest(sha: string): Promise<void> {
    const tree = await this.mirror.tree(sha, this.subpath);
    const problems = await this.judge(sha, tree);
    const valid = problems.length === 0;
    const subject = await this.mirror.subject(sha).catch(() => "");
    const summary = valid ? `valid: ${subject}` : `${problems.length} error(s): ${subject}`;
    await this.storage.recordCommit({
      sha,
      valid,
      problems: problems.slice(0, maxProblems),
      seen_at: Date.now(),
      summary,
    });
    if (valid) await this.storage.setLiveCommit(sha);
    this.log.info(
      { commit: sha, valid, problems: problems.length },
      valid ? "commit promoted" : "commit refused",
    );
  }

  async judge(sha: string, tree: GitTree): Promise<Problem[]> {
    const problems: Problem[] = [...tree.escapingSymlinks()];
    try {
      problems.push(...this.compiler.validateRepo(tree).problems);
      for (const { node, facts } of await this.storage.knownFacts()) {
        // Facts stored before the catalog route checked them whole: a node must not be able to
        // block the fleet's deploys by reporting incomplete facts.
        if (!isValid("facts", facts)) {
          this.log.warn({ node }, "skipping a node with incomplete facts in the commit check");
          continue;
        }
        const result = this.compiler.compile(tree, node, facts, { commit: sha });
        for (const p of result.problems) problems.push({ ...p, message: `node ${node}: ${p.message}` });
        if (problems.length >= maxProblems) break;
      }
    } catch (err) {
      problems.push({ code: "TEND_E_VALIDATION", message: `the compiler failed: ${(err as Error).message}` });
    }
    return problems;
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
