import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import t from "tap";
import { Box, bootBox, boxUsage, leftovers, noBoxes, withBoxes } from "./lib/index.js";

t.test("a booted box", { skip: noBoxes }, async (t) => {
  const box = await bootBox(t, { hostname: "web-1" });

  t.test("costs little: a few processes, tens of MiB of memory, a few MiB of disk", async (t) => {
    const usage = await boxUsage(box);
    t.comment(`fresh box: ${JSON.stringify(usage)}`);
    t.ok(usage.processes >= 4, "nspawn, systemd, journald, dbus at least");
    t.ok(usage.memoryKiB > 0 && usage.memoryKiB < 200 * 1024);
    t.ok(usage.diskKiB < 100 * 1024);
  });

  t.test("answers to its hostname", async (t) => {
    t.equal((await box.run("hostname")).trim(), "web-1");
    t.match(await box.readFile("/etc/hostname"), /^web-1$/m);
  });

  t.test("runs systemd as PID 1 and has finished booting", async (t) => {
    t.equal((await box.readFile("/proc/1/comm")).trim(), "systemd");
    const state = await box.exec(["systemctl", "is-system-running"]);
    t.match(state.stdout.trim(), /^(running|degraded)$/);
    t.match(await box.readFile("/etc/os-release"), /VERSION_CODENAME=trixie/);
  });

  t.test("reports stdout, stderr and the exit code of a command", async (t) => {
    const r = await box.exec("echo out; echo err >&2; exit 3");
    t.same(r, { stdout: "out\n", stderr: "err\n", code: 3 });
    t.equal((await box.exec(["cat"], { input: "piped" })).stdout, "piped");
    await t.rejects(box.run("exit 1"), /exited 1/);
  });

  t.test("writes and reads files, also on its tmpfs", async (t) => {
    await box.writeFile("/run/tend/a b.txt", "hello\n", { mode: "0600" });
    t.equal(await box.readFile("/run/tend/a b.txt"), "hello\n");
    t.equal((await box.run(["stat", "-c", "%a", "/run/tend/a b.txt"])).trim(), "600");
    await t.rejects(box.readFile("/no/such/file"), /No such file/);
  });

  t.test("installs a package with apt", async (t) => {
    await box.run("apt-get update -q", { env: { DEBIAN_FRONTEND: "noninteractive" } });
    await box.run("apt-get install -y -q hello", { env: { DEBIAN_FRONTEND: "noninteractive" } });
    t.equal((await box.run("hello")).trim(), "Hello, world!");
    t.match(await box.run(["dpkg", "-s", "hello"]), /^Status: install ok installed$/m);
    t.comment(`after apt-get update and install: ${JSON.stringify(await boxUsage(box))}`);
  });

  t.test("starts a unit written into it", async (t) => {
    await box.writeFile(
      "/etc/systemd/system/ticker.service",
      // `systemctl start` returns once ExecStartPre is done, so /run/ticker exists when we look.
      "[Service]\nExecStartPre=/bin/sh -c 'date > /run/ticker'\nExecStart=/bin/sleep infinity\n",
    );
    await box.run("systemctl daemon-reload && systemctl start ticker.service");
    t.equal((await box.exec(["systemctl", "is-active", "ticker.service"])).stdout.trim(), "active");
    t.match(await box.readFile("/run/ticker"), /\d{4}/);
  });
});

t.test("three boxes at once", { skip: noBoxes }, async (t) => {
  // The host serves a page on loopback: boxes share the host's network, so they reach it.
  const server = createServer((_req, res) => res.end("from the host\n"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const hostnames = ["web-1", "web-2", "db-1"];

  await withBoxes(
    t,
    hostnames.map((hostname) => ({ hostname })),
    async (boxes) => {
      const names = await Promise.all(boxes.map((b) => b.run("hostname")));
      t.same(names.map((n) => n.trim()).sort(), [...hostnames].sort(), "each has its own hostname");
      const ids = await Promise.all(boxes.map((b) => b.readFile("/etc/machine-id")));
      t.equal(new Set(ids).size, 3, "each has its own machine id");
      for (const b of boxes) t.equal(await b.run(["curl", "-fsS", url]), "from the host\n");
    },
  );
});

t.test("a box that does not come up in time", { skip: noBoxes }, async (t) => {
  await t.rejects(
    Box.boot({ hostname: "slow-1", bootTimeoutMs: 1 }),
    /not up within 1 ms[\s\S]*console of box slow-1/,
  );
});

t.test("after the suite nothing of this run's boxes is left", { skip: noBoxes }, async (t) => {
  t.same(leftovers(), { dirs: [], mounts: [], processes: [] });
});
