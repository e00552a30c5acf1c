/**
 * The package kind against the real apt: installs and removes `hello` (and `sl` for batching), and
 * leaves them removed afterwards.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { pkg } from "../../../agent/resources/package.js";
import { parseAptPolicy, parseDpkgQuery } from "../../../agent/sys/dpkg.js";
import { context, type KindCase, resource, runCases } from "../../helpers/kind-harness.js";

const root = mkdtempSync(join(tmpdir(), "tend-package-"));
const stateDir = join(root, "state");
const installed = (name: string) =>
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
  spawnSync("dpkg-query", ["-W", "-f=${db:Status-Abbrev}", name], { encoding: "utf8" }).stdout.startsWith(
    "ii",
  );
const remove = (...names: string[]) =>
  spawnSync("apt-get", ["-y", "-q", "purge", ...names], {
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
const hadHello = installed("hello");
const hadSl = installed("sl");
t.teardown(() => {
  if (!hadHello) remove("hello");
  if (!hadSl) remove("sl");
  rmSync(root, { recursive: true, force: true });
});
const helloVersion = parseAptPolicy(
  spawnSync("apt-cache", ["policy", "hello"], { encoding: "utf8" }).stdout,
).get("hello");

t.test("parses dpkg-query and apt-cache policy output", async (t) => {
  const q = parseDpkgQuery("hello\tii \t2.10-3\nsl\trc \t5.02-1\nfoo\tun \t\nlibc6\tiU \t2.36\n");
  t.same(Object.fromEntries(q), {
    hello: { status: "installed", version: "2.10-3" },
    sl: { status: "config-files", version: "5.02-1" },
    foo: { status: "not-installed", version: null },
    libc6: { status: "unpacked", version: "2.36" },
  });
  const p = parseAptPolicy(
    "hello:\n  Installed: (none)\n  Candidate: 2.10-3\n  Version table:\nlibc6:amd64:\n  Installed: 2.36\n  Candidate: (none)\n",
  );
  t.same(Object.fromEntries(p), { hello: "2.10-3", libc6: null });
});

const cases: KindCase[] = [
  {
    name: "installs a package",
    given: () => remove("hello"),
    resource: resource("package", "hello", { ensure: "installed" }),
    expect: [{ property: "ensure", from: "absent", to: "installed" }],
    watch: ["/var/lib/dpkg/status"],
    after: (t) => t.ok(installed("hello")),
  },
  {
    name: "removes a package",
    resource: resource("package", "hello", { ensure: "absent" }),
    expect: [{ property: "ensure", from: helloVersion ?? "", to: "absent" }],
    watch: ["/var/lib/dpkg/status"],
    after: (t) => t.notOk(installed("hello")),
  },
  {
    name: "installs an exact version",
    resource: resource("package", "hello", { ensure: helloVersion ?? "" }),
    expect: [{ property: "ensure", from: "absent", to: helloVersion ?? "" }],
  },
  {
    name: "latest is in sync when the candidate is installed",
    resource: resource("package", "hello", { ensure: "latest" }),
    expect: [],
  },
];

if (helloVersion) await runCases(t, pkg, cases, () => ({ stateDir }));
else t.test("against apt", { skip: "apt has no candidate for hello (run apt-get update)" }, () => {});

t.test("a package apt does not know is a clear error", async (t) => {
  const r = resource("package", "tendtest-no-such-package", { ensure: "installed" });
  await t.rejects(pkg.check(r, context({ stateDir })), {
    code: "TEND_E_PACKAGE_NOT_FOUND",
    message: /tendtest-no-such-package/,
  });
});

t.test("installs neighbouring packages in one apt-get call", async (t) => {
  remove("hello", "sl");
  const file = resource("file", "/tmp/x", { ensure: "absent" });
  const hello = resource("package", "hello", { ensure: "installed" });
  const sl = resource("package", "sl", { ensure: "installed" });
  const run = {};
  const prefetched = await pkg.prefetch?.([file, hello, sl], context({ stateDir, run }));
  const ctx = context({ stateDir, run, prefetched });
  const first = await pkg.check(hello, ctx);
  await pkg.apply(hello, first.changes, ctx);
  t.ok(installed("sl"), "sl was installed together with hello");
  t.same((await pkg.check(hello, ctx)).changes, []);
  const second = await pkg.check(sl, ctx);
  t.same(
    second.changes,
    [{ property: "ensure", from: "absent", to: "installed" }],
    "sl still reports what was done for it",
  );
  await pkg.apply(sl, second.changes, ctx);
  t.same((await pkg.check(sl, ctx)).changes, [], "and is in sync after its own apply");
  remove("sl");
});

t.test("waits a bounded time for the dpkg lock, then names the holder", async (t) => {
  remove("hello");
  const holder = spawn("python3", [
    "-c",
    "import fcntl,sys,time\nf=open('/var/lib/dpkg/lock-frontend','w')\nfcntl.lockf(f,fcntl.LOCK_EX)\nprint('locked',flush=True)\ntime.sleep(60)",
  ]);
  t.teardown(() => holder.kill("SIGKILL"));
  await new Promise((resolve) => holder.stdout.once("data", resolve));
  const r = resource("package", "hello", { ensure: "installed" });
  const ctx = context({ stateDir, run: { "package.lock_timeout_s": 1 } });
  await t.rejects(pkg.apply(r, [], ctx), {
    code: "TEND_E_DPKG_LOCKED",
    message: new RegExp(`pid ${holder.pid}\\b`),
  });
  t.notOk(installed("hello"), "nothing was installed");
});

t.test("an interrupted dpkg is reported, not repaired", async (t) => {
  // A stand-in dpkg on PATH answers `dpkg --audit` as dpkg does after a kill during --configure.
  const bin = join(root, "bin");
  mkdirSync(bin, { recursive: true });
  writeFileSync(
    join(bin, "dpkg"),
    "#!/bin/sh\necho 'The following packages are only half configured, probably due to problems'\necho ' hello                GNU hello'\n",
    { mode: 0o755 },
  );
  const saved = process.env.PATH;
  process.env.PATH = `${bin}:${saved}`;
  t.teardown(() => {
    process.env.PATH = saved;
  });
  const r = resource("package", "hello", { ensure: "installed" });
  await t.rejects(pkg.apply(r, [], context({ stateDir })), {
    code: "TEND_E_DPKG_INTERRUPTED",
    message: /half configured[\s\S]*dpkg --configure -a/,
  });
});
