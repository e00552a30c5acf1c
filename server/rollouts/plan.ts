/**
 * How a rollout splits its nodes, pure: the canary (`N` nodes or `P%` of them), then the rest in
 * waves (`waves` of them, equal in size; by default 4, so waves of 25 %). Nodes are taken in name
 * order, so the same fleet and options give the same waves.
 */
import picomatch from "picomatch";

export interface WavePlanOptions {
  /** `1`, `0` (no canary), `10%`. */
  canary: string;
  /** How many waves after the canary. */
  waves: number;
}

const canaryPattern = /^(\d{1,6})(%?)$/;

/** A problem with a canary setting, in words, or null when it is fine. */
export function canaryProblem(canary: string): string | null {
  const m = canaryPattern.exec(canary);
  if (!m) return `canary "${canary}" is neither a node count (1) nor a percentage (10%)`;
  if (m[2] === "%" && Number(m[1]) > 100) return `canary "${canary}" is more than 100%`;
  return null;
}

/** The canary's size for a fleet of `total` nodes: a percentage rounds up, to at least one node. */
export function canarySize(canary: string, total: number): number {
  const m = canaryPattern.exec(canary);
  if (!m) throw new Error(canaryProblem(canary) ?? "bad canary");
  const n = Number(m[1]);
  if (m[2] !== "%") return Math.min(n, total);
  if (n === 0) return 0;
  return Math.min(total, Math.max(1, Math.ceil((n / 100) * total)));
}

/** The nodes matched by `glob`, in name order. */
export function selectNodes(names: string[], glob: string): string[] {
  const match = picomatch(glob, { dot: true });
  return names.filter((n) => match(n)).sort();
}

/** The waves: the canary first (when not empty), then the rest in at most `waves` equal waves. */
export function planWaves(nodes: string[], o: WavePlanOptions): string[][] {
  const sorted = [...nodes].sort();
  const size = canarySize(o.canary, sorted.length);
  const plan: string[][] = [];
  if (size > 0) plan.push(sorted.slice(0, size));
  const rest = sorted.slice(size);
  const count = Math.max(1, Math.min(o.waves, rest.length));
  const per = Math.ceil(rest.length / count);
  for (let i = 0; i < rest.length; i += per) plan.push(rest.slice(i, i + per));
  return plan;
}
