/**
 * How long gathering facts takes: the first call in a fresh process, then warm calls, and each
 * fact's reader on its own. Figures are printed, never asserted.
 * Run: node --import tsx bench/facts.ts [RUNS]
 */
import { readArch } from "../agent/facts/arch.js";
import { readCpus } from "../agent/facts/cpus.js";
import { readFqdn } from "../agent/facts/fqdn.js";
import { localHost } from "../agent/facts/host.js";
import { readHostname } from "../agent/facts/hostname.js";
import { gatherFacts } from "../agent/facts/index.js";
import { readIpv4 } from "../agent/facts/ipv4.js";
import { readKernel } from "../agent/facts/kernel.js";
import { readMemoryMb } from "../agent/facts/memory_mb.js";
import { readOs } from "../agent/facts/os.js";

const runs = Number(process.argv[2] ?? 500);

async function time(fn: () => unknown): Promise<number> {
  const started = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

function summary(samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) =>
    (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0).toFixed(3);
  return `median ${at(0.5)} ms  p95 ${at(0.95)} ms  min ${at(0)} ms`;
}

const first = await time(() => gatherFacts());
const warm: number[] = [];
for (let i = 0; i < runs; i++) warm.push(await time(() => gatherFacts()));

console.log(`gatherFacts, first call in this process: ${first.toFixed(3)} ms`);
console.log(`gatherFacts, ${runs} warm calls:          ${summary(warm)}`);

const host = localHost();
const readers: Record<string, () => unknown> = {
  hostname: () => readHostname(host),
  fqdn: () => readFqdn(host),
  os: () => readOs(host),
  arch: () => readArch(host),
  kernel: () => readKernel(host),
  cpus: () => readCpus(host),
  memory_mb: () => readMemoryMb(host),
  ipv4: () => readIpv4(host),
};
for (const [name, read] of Object.entries(readers)) {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) samples.push(await time(read));
  console.log(`  ${name.padEnd(10)} ${summary(samples)}`);
}
console.log(`(${process.platform}/${process.arch}, node ${process.version})`);
