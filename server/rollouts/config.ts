/** `deploy:` in server.yaml, resolved (the schema has checked the shapes; plan.ts the canary). */
import { TendError } from "../../core/errors.js";
import { canaryProblem } from "./plan.js";

export type OnCommit = "push" | "auto" | "manual";

export interface DeployConfig {
  onCommit: OnCommit;
  canary: string;
  waves: number;
  pauseMs: number;
  timeoutMs: number;
}

export function resolveDeploy(
  raw: Record<string, unknown> | undefined,
  parseDuration: (text: string) => number,
): DeployConfig {
  const r = raw ?? {};
  const canary = String(r.canary ?? "1");
  const problem = canaryProblem(canary);
  if (problem) throw new TendError("TEND_E_CONFIG", `deploy.canary: ${problem}.`);
  return {
    onCommit: (r.on_commit as OnCommit | undefined) ?? "push",
    canary,
    waves: Number(r.waves ?? 4),
    pauseMs: parseDuration(String(r.pause ?? "0s")),
    timeoutMs: parseDuration(String(r.timeout ?? "10m")),
  };
}
