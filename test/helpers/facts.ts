import type { Facts } from "../../core/types.js";

/** Facts of an imaginary Debian box, for compiles that must not depend on this machine. */
export function sampleFacts(over: Partial<Facts> = {}): Facts {
  return {
    hostname: "web-1",
    fqdn: "web-1.example.com",
    os: { id: "debian", version_id: "12", family: "debian", name: "Debian GNU/Linux" },
    arch: "x86_64",
    kernel: "6.1.0-18-amd64",
    cpus: 2,
    memory_mb: 2048,
    ipv4: ["10.0.0.5"],
    ...over,
  };
}
