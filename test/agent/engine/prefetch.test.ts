/**
 * The engine hands each kind's `prefetch` the whole catalog in run order, so that the package kind
 * can batch installs of neighbouring packages: proven with a probe kind and with the real package
 * kind and apt (figlet and cowsay, which no other test touches, removed again afterwards). And it
 * calls a kind's `settle` once at the end of an apply, for work batched over the run.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { runCatalog } from "../../../agent/engine/index.js";
import type { Kind } from "../../../agent/resources/kind.js";
import { pkg } from "../../../agent/resources/package.js";
import type { CatalogResource } from "../../../core/types.js";
import { catalog, testFacts as facts, probeKind, resource } from "../../helpers/catalog.js";

t.test("prefetch gets every resource of the catalog, in run order, once per kind", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tend-prefetch-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const seen: string[][] = [];
  const probe = probeKind("file", dir, []);
  const file: Kind = {
    ...probe,
    async prefetch(all: CatalogResource[], ctx) {
      seen.push(all.map((r) => r.id));
      return probe.prefetch?.(all, ctx);
    },
  };
  const cat = catalog([
    resource("service", "s", { content: "S" }),
    resource("file", "a", { content: "A" }),
    resource("file", "b", { content: "B" }),
  ]);
  const report = await runCatalog(cat, {
    kinds: { file, service: probeKind("service", dir, []) },
    facts,
    stateDir: join(dir, "state"),
  });
  t.equal(report.status, "changed");
  t.same(seen, [["service:s", "file:a", "file:b"]]);
});

t.test("settle runs once per prefetched kind at the end of an apply, never in a plan", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tend-settle-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const events: string[] = [];
  const probe = probeKind("file", dir, events);
  const file: Kind = {
    ...probe,
    async settle(prefetched) {
      events.push(`settle ${JSON.stringify(prefetched)}`);
    },
  };
  const cat = catalog([resource("file", "a", { content: "A" }), resource("file", "b", { content: "B" })]);
  const run = (noop: boolean) =>
    runCatalog(cat, { kinds: { file }, facts, stateDir: join(dir, "state"), noop });
  await run(true);
  t.notOk(
    events.some((e) => e.startsWith("settle")),
    "a plan settles nothing",
  );
  events.length = 0;
  await run(false);
  t.same(events.at(-1), 'settle {"count":2}', "after the last resource, with what prefetch returned");
  t.equal(events.filter((e) => e.startsWith("settle")).length, 1);
});

const installed = (name: string) =>
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
  spawnSync("dpkg-query", ["-W", "-f=${db:Status-Abbrev}", name], { encoding: "utf8" }).stdout.startsWith(
    "ii",
  );
const purge = (...names: string[]) =>
  spawnSync("apt-get", ["-y", "-q", "purge", ...names], {
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });

const names = ["figlet", "cowsay"];
const skip = names.some(installed) && "figlet or cowsay is installed already; this test would remove it";

t.test("through the engine, neighbouring packages install in one apt-get call", { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tend-prefetch-apt-"));
  // A stand-in apt-get first on PATH logs its arguments, then runs the real one.
  const bin = join(dir, "bin");
  const log = join(dir, "apt-get.log");
  mkdirSync(bin);
  writeFileSync(join(bin, "apt-get"), `#!/bin/sh\necho "$*" >> ${log}\nexec /usr/bin/apt-get "$@"\n`, {
    mode: 0o755,
  });
  const saved = process.env.PATH;
  process.env.PATH = `${bin}:${saved}`;
  t.teardown(() => {
    process.env.PATH = saved;
    purge(...names);
    rmSync(dir, { recursive: true, force: true });
  });

  const cat = catalog([
    resource("file", join(dir, "before"), { ensure: "absent" }),
    ...names.map((n) => resource("package", n, { ensure: "installed" })),
  ]);
  const report = await runCatalog(cat, {
    kinds: { package: pkg, file: probeKind("file", dir, []) },
    facts,
    stateDir: join(dir, "state"),
  });
  t.same(
    report.resources.filter((r) => r.type === "package").map((r) => [r.id, r.status, r.error]),
    names.map((n) => [`package:${n}`, "changed", null]),
  );
  const installs = readFileSync(log, "utf8")
    .split("\n")
    .filter((l) => / install /.test(` ${l} `));
  t.equal(installs.length, 1, "one apt-get install");
  for (const n of names) t.match(installs[0], new RegExp(`\\b${n}\\b`), `it names ${n}`);
  t.ok(names.every(installed), "both are installed");
});
