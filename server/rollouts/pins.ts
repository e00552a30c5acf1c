/**
 * Per-node commit pins, the catalog route's hook: which commit a node is served. Without any
 * rollout, the live commit (as always). Otherwise the node's newest rollout decides:
 *
 *   running, halted, superseded   a node of a done or signalled wave gets the rollout's commit;
 *                                  a node still pending keeps the commit the rollout started from
 *                                  (unless it had reported on the new one before the rollout)
 *   aborted                        the commit the rollout started from
 *   done                           the rollout's commit
 *
 * With `deploy.on_commit: push` a rollout of an older commit no longer holds anyone: the live
 * commit was signalled to every node. With `auto` or `manual` it does, until a rollout of the new
 * commit reaches the node; with `manual`, a node no rollout has reached keeps the commit of its
 * latest report (a new node gets the live one). Before the first rollout the table is not read on each request (a look
 * at most once a second); after it, one indexed query per catalog request.
 */
import type { GitGate } from "../git/gate.js";
import type { GitTree } from "../git/tree.js";
import type { Storage } from "../storage/types.js";
import type { OnCommit } from "./config.js";
import type { NodePin } from "./types.js";

export interface Served {
  sha: string;
  tree: GitTree;
  preview?: boolean;
}

/** The commit a pin serves, or null for the live commit. */
export function pinnedCommit(pin: NodePin | undefined, live: string, onCommit: OnCommit): string | null {
  if (!pin) return null;
  if (pin.commit !== live && onCommit === "push") return null;
  if (pin.state === "done") return pin.commit;
  if (pin.state === "aborted") return pin.from;
  if (pin.nodeState === "pending" && !pin.already) return pin.from;
  return pin.commit;
}

export class Pins {
  constructor(
    private readonly storage: Storage,
    private readonly onCommit: () => OnCommit,
    private readonly warn: (message: string, err?: unknown) => void,
  ) {}

  /**
   * The commit and files `node` is served, given the gate's live commit. A plan (`noop`) of a node
   * a running preview asked is served the preview's commit, marked `preview` (the agent plans it
   * and does not keep it).
   */
  async serve(gate: GitGate, live: Served, node: string, noop = false): Promise<Served> {
    if (noop) {
      const sha = await this.storage.rollouts.previewFor(node);
      if (sha) {
        const served = await this.tree(gate, live, node, sha);
        if (served.sha === sha) return { ...served, preview: true };
      }
    }
    const onCommit = this.onCommit();
    if (onCommit === "manual") return this.manual(gate, live, node);
    if (!(await this.storage.rollouts.any())) return live;
    return this.tree(
      gate,
      live,
      node,
      pinnedCommit(await this.storage.rollouts.pin(node), live.sha, onCommit),
    );
  }

  /** `manual`: as above, and a node no rollout has reached keeps the commit it last reported on. */
  private async manual(gate: GitGate, live: Served, node: string): Promise<Served> {
    const pin = await this.storage.rollouts.pin(node);
    const sha = pin ? pinnedCommit(pin, live.sha, "manual") : await this.storage.rollouts.lastCommit(node);
    return this.tree(gate, live, node, sha);
  }

  private async tree(gate: GitGate, live: Served, node: string, sha: string | null): Promise<Served> {
    if (!sha || sha === live.sha) return live;
    const tree = await gate.treeOf(sha).catch((err) => {
      this.warn(`rollouts: cannot read commit ${sha} for ${node}; serving the live commit`, err);
      return null;
    });
    return tree ? { sha, tree } : live;
  }
}
