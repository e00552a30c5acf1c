import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import t from "tap";
import { bootBox, noBoxes } from "./lib/index.js";

const checkout = resolve(import.meta.dirname, "../..");

t.test("a box with the host's node and the tend checkout bound in", { skip: noBoxes }, async (t) => {
  const shared = mkdtempSync(join(tmpdir(), "tend-bind-"));
  t.teardown(() => rmSync(shared, { recursive: true, force: true }));
  const box = await bootBox(t, {
    hostname: "agent-1",
    binds: [
      { host: process.execPath, box: "/usr/local/bin/node", readOnly: true },
      { host: checkout, box: "/opt/tend", readOnly: true },
      { host: shared, box: "/srv/shared", readOnly: false },
    ],
  });

  t.test("runs the host's node binary inside", async (t) => {
    t.equal(await box.run(["node", "-e", "console.log(1+1)"]), "2\n");
    t.equal(await box.run(["node", "-p", "process.version"]), `${process.version}\n`);
  });

  t.test("sees the checkout but cannot change it", async (t) => {
    t.equal(await box.run(["node", "-p", "require('/opt/tend/package.json').name"]), "tend\n");
    const write = await box.exec(["touch", "/opt/tend/written-by-a-box"]);
    t.not(write.code, 0);
    t.match(write.stderr, /Read-only file system/);
  });

  t.test("writes through a writable bind to the host", async (t) => {
    await box.writeFile("/srv/shared/note", "from agent-1\n");
    t.equal(readFileSync(join(shared, "note"), "utf8"), "from agent-1\n");
  });
});
