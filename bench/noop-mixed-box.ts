/**
 * Runs inside the test box of bench/noop-mixed.ts: what the box already has that a workload can
 * declare as it is (installed packages, running services, kernel parameters), as JSON.
 */
import { execFileSync } from "node:child_process";
import { sysctlParams } from "./box-sysctl.js";

const lines = (cmd: string, args: string[]) =>
  execFileSync(cmd, args, { encoding: "utf8" }).split("\n").filter(Boolean);
// dpkg-query's own ${field} syntax, not a template string.
const format = ["$", "{db:Status-Abbrev} $", "{Package}\\n"].join("");
const packages = lines("dpkg-query", ["-W", "-f", format])
  .filter((l) => l.startsWith("ii "))
  .map((l) => l.split(" ").pop()!);
const services = lines("systemctl", [
  "list-units",
  "--type=service",
  "--state=running",
  "--no-legend",
  "--plain",
])
  .map((l) => l.split(/\s+/)[0]!.replace(/\.service$/, ""))
  .filter((s) => !s.includes("@"));
process.stdout.write(`${JSON.stringify({ packages, services, sysctl: sysctlParams(1000) })}\n`);
