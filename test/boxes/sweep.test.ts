import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import t from "tap";
import { leftovers, noBoxes, sweepLeakedBoxes } from "./lib/index.js";

const fixture = join(import.meta.dirname, "lib/leak-fixture.ts");

t.test("a killed test run leaves nothing behind after the next sweep", { skip: noBoxes }, async (t) => {
  const child = spawn(process.execPath, ["--import", "tsx", fixture], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, TEND_LEAK_FIXTURE: "1" },
  });
  t.teardown(() => child.kill("SIGKILL"));
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once("line", resolve);
    child.once("exit", (code) =>
      reject(new Error(`fixture exited ${code} before its box was up:\n${stderr}`)),
    );
  });
  const dir = /^up (.*)$/.exec(line)?.[1] ?? "";
  t.ok(existsSync(join(dir, "root/etc/os-release")), "the fixture's box is up");

  child.kill("SIGKILL");
  await once(child, "exit");
  const leaked = leftovers(child.pid);
  t.equal(leaked.dirs.length, 1, "its directory outlives it");
  t.equal(leaked.mounts.length, 1, "so does its overlay mount");
  t.ok(leaked.processes.length >= 2, "and systemd-nspawn with the box's systemd");

  const swept = await sweepLeakedBoxes();
  t.ok(swept.includes(dir), "the sweep names the leaked box");
  t.same(leftovers(child.pid), { dirs: [], mounts: [], processes: [] }, "nothing of it is left");
});
