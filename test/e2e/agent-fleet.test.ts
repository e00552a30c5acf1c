/**
 * The whole product on real machines: a server process on the host over a real git repository;
 * two bare Debian trixie boxes bootstrapped with the one command (one with the token in TEND_TOKEN
 * and the server's key pinned, after refusing a wrong pin; one with PRODUCT.md's `--token`);
 * converge, serve, deploy a commit, repair drift, survive a server outage without losing a report,
 * run on the daemon's schedule, survive a recipe restarting tend-agent.service mid-run, install
 * twice, uninstall.
 */
import t from "tap";
import { type Box, bootBox, noBoxes } from "../boxes/lib/index.js";
import { buildBundle, fleetServer, freePort } from "../helpers/agent-e2e.js";
import { TestRepo } from "../helpers/server-git.js";
import { stop, tendServer } from "../helpers/server-process.js";

const recipes = (ports: number[], greeting: string): Record<string, string> => ({
  "nodes.yaml": [
    '- name: "web-*"',
    "  recipes: [demo]",
    ...ports.flatMap((p, i) => [`- name: web-${i + 1}`, `  vars: { port: ${p} }`]),
    "",
  ].join("\n"),
  "demo/recipe.yaml": [
    "description: a page served by a tiny HTTP server",
    `vars: { greeting: ${JSON.stringify(greeting)}, port: 18080 }`,
    "resources:",
    "  - package: hello",
    "  - file: /srv/demo",
    "    ensure: directory",
    "  - file: /srv/demo/index.html",
    "    template: index.html.liquid",
    "  - file: /srv/demo/server.js",
    "    source: files/server.js",
    "  - file: /etc/systemd/system/tend-demo.service",
    "    template: tend-demo.service.liquid",
    "    notify: [service:tend-demo]",
    "  - service: tend-demo",
    "    ensure: running",
    "    enabled: true",
    "",
  ].join("\n"),
  "demo/templates/index.html.liquid": "<p>{{ node }}: {{ vars.greeting }}</p>\n",
  "demo/files/server.js":
    'const fs = require("node:fs");\nrequire("node:http").createServer((q, s) => s.end(fs.readFileSync("/srv/demo/index.html"))).listen(Number(process.argv[2]), "127.0.0.1");\n',
  "demo/templates/tend-demo.service.liquid":
    "[Unit]\nDescription=tend demo page\n[Service]\nExecStart=/usr/bin/node /srv/demo/server.js {{ vars.port }}\nRestart=on-failure\n[Install]\nWantedBy=multi-user.target\n",
});

const selfRestart = {
  "nodes.yaml": null as unknown as string, // filled in below
  "restart/recipe.yaml": [
    "description: a recipe that restarts the agent's own unit in the middle of a run",
    "resources:",
    "  - exec: restart-tend-agent",
    "    command: touch /var/lib/tend-e2e-restarted && systemctl restart tend-agent.service",
    "    shell: true",
    "    creates: /var/lib/tend-e2e-restarted",
    "  - file: /var/lib/tend-e2e-after-restart",
    '    content: "the run outlived the restart\\n"',
    "    require: [exec:restart-tend-agent]",
    "",
  ].join("\n"),
};

interface ReportSummary {
  id: string;
  status: string;
  commit: string | null;
}

const page = async (port: number) => (await fetch(`http://127.0.0.1:${port}/`)).text();

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 180_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

t.test("a fleet bootstraps, converges and keeps converging", { skip: noBoxes }, async (t) => {
  const bundle = buildBundle();
  const ports = [await freePort(), await freePort()];
  const repo = new TestRepo();
  t.teardown(() => repo.cleanup());
  repo.commit(recipes(ports, "hello"), "demo");
  const fleet = await fleetServer(repo.dir, bundle);
  let server = await fleet.start();
  t.teardown(() => stop(server));
  const token = await fleet.token(2);
  const names = ["web-1", "web-2"];
  const boxes: Box[] = await Promise.all(names.map((hostname) => bootBox(t, { hostname })));
  const reportsOf = async (node: string) =>
    (await fleet.get(`/api/v1/nodes/${node}/reports?limit=500`)) as ReportSummary[];
  const agentRun = async (box: Box) => {
    const r = await box.exec("tend agent run --json");
    return {
      code: r.code,
      report: JSON.parse(r.stdout) as {
        id: string;
        status: string;
        catalog_source: string;
        summary: { drifted: number };
      },
      stderr: r.stderr,
    };
  };
  const fingerprint = (await tendServer(["key", "--config", fleet.config])).stdout.split("\n")[0]!;
  const curl = `curl -fsSL ${fleet.url}/install.sh`;
  // web-1: the documented form, the token in the environment and the server's key pinned.
  const install = `${curl} | TEND_TOKEN=${token} sh -s -- --server ${fleet.url} --server-key ${fingerprint}`;
  // web-2: PRODUCT.md's form, the token on the command line and no pin.
  const plainInstall = `${curl} | sh -s -- --server ${fleet.url} --token ${token}`;
  const wrongKey = `sha256:${"0".repeat(64)}`;

  await t.test("one command bootstraps each bare box to converged", async (t) => {
    const started = Date.now();
    const [pinned, [refused, plain]] = await Promise.all([
      boxes[0]!.exec(install),
      (async () => {
        const box = boxes[1]!;
        await box.run(`printf '%s\\n' '${token}' > /root/token`);
        const wrong = await box.exec(
          `${curl} | sh -s -- --server ${fleet.url} --token-file /root/token --server-key ${wrongKey}`,
        );
        // What the refused attempt left: no agent, no unit, no enrolment, nothing running.
        const left = await box.exec(
          "ls /usr/local/bin/tend /usr/local/lib/tend /etc/systemd/system/tend-agent.service /etc/tend /var/lib/tend 2>/dev/null; systemctl is-active tend-agent.service",
        );
        return [{ ...wrong, left: left.stdout.trim() }, await box.exec(plainInstall)] as const;
      })(),
    ]);
    t.comment(`both boxes bootstrapped in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    for (const [i, r] of [pinned, plain].entries()) {
      t.equal(r.code, 0, `install.sh on ${names[i]}: ${r.stderr.slice(-2000)}`);
      t.match(r.stdout, /done: /);
    }
    t.match(pinned.stdout, `agent bundle sha256 `, "the bundle's signature was checked");
    t.match(pinned.stdout, `signed by ${fingerprint}`);
    t.match(pinned.stdout, "(as --server-key said)", "enrolment pinned the same key");
    t.notMatch(pinned.stderr, /trusted on first use/);
    t.match(plain.stderr, /no --server-key: the agent bundle is trusted on first use/);

    t.not(refused.code, 0, "a wrong --server-key fails the install");
    t.match(
      refused.stderr,
      `FAILED at step "verifying the agent's signature": the server presented signing key ${fingerprint}, not ${wrongKey} as --server-key says`,
    );
    t.notMatch(refused.stdout, /enrolling/, "it stopped before running the agent");
    t.equal(refused.left, "inactive", "the refused install left no agent, unit or state and nothing running");
    // (web-2 was then installed by the plain command, with the same two-use token: the refused
    // attempt did not spend it.)
    for (const [i, box] of boxes.entries()) {
      t.equal(await page(ports[i]!), `<p>${names[i]}: hello</p>\n`);
      t.equal((await box.run("hello")).trim(), "Hello, world!");
      t.equal((await box.exec("systemctl is-active tend-agent.service")).stdout.trim(), "active");
      t.equal((await box.run("stat -c %a /etc/tend/agent.yaml /var/lib/tend")).trim(), "600\n700");
      t.equal((await reportsOf(names[i]!))[0]?.status, "changed");
    }
  });

  await t.test("install.sh refuses plain HTTP to another host before it downloads anything", async (t) => {
    const r = await boxes[0]!.exec(`${curl} | TEND_TOKEN=x sh -s -- --server http://192.0.2.1:7420`);
    t.equal(r.code, 1);
    t.match(
      r.stderr,
      /FAILED at step "checking the server URL": refusing plain HTTP to http:\/\/192\.0\.2\.1:7420/,
    );
    t.match(r.stderr, /--insecure-http/);
  });

  await t.test("install.sh run again changes nothing", async (t) => {
    const box = boxes[0]!;
    const before = await box.run(
      "stat -c %Y /usr/local/lib/tend/tend-agent.js /etc/systemd/system/tend-agent.service",
    );
    const pid = await box.run("systemctl show -p MainPID --value tend-agent.service");
    const r = await box.exec(install);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /already enrolled/);
    t.equal(
      await box.run("stat -c %Y /usr/local/lib/tend/tend-agent.js /etc/systemd/system/tend-agent.service"),
      before,
    );
    t.equal(
      await box.run("systemctl show -p MainPID --value tend-agent.service"),
      pid,
      "the daemon was not restarted",
    );
    t.equal((await reportsOf("web-1"))[0]?.status, "unchanged");
  });

  await t.test("a git commit reaches both boxes as a deploy, at once (the push channel)", async (t) => {
    repo.commit(recipes(ports, "hello again"), "new greeting");
    const hook = (await fleet.post("/api/v1/hooks/git")) as { live: string; valid: boolean };
    t.ok(hook.valid);
    for (const [i, box] of boxes.entries()) {
      // The daemon heard the commit and ran (its schedule is every 30 minutes).
      const latest = await until(`${names[i]}'s report on the new commit`, async () => {
        const [r] = await reportsOf(names[i]!);
        return r?.commit === hook.live ? ((await fleet.get(`/api/v1/reports/${r.id}`)) as object) : undefined;
      });
      t.match(
        latest,
        { status: "changed", trigger: "push", summary: { drifted: 0 } },
        "a new commit is not drift",
      );
      t.equal(await page(ports[i]!), `<p>${names[i]}: hello again</p>\n`);
      const { code } = await agentRun(box);
      t.equal(code, 0, "a run after it has nothing left to do");
    }
  });

  await t.test("drift made by hand is found, reported and repaired", async (t) => {
    const box = boxes[0]!;
    await box.run("echo defaced > /srv/demo/index.html && systemctl stop tend-demo.service");
    const { code, report } = await agentRun(box);
    t.equal(code, 2);
    t.equal(report.summary.drifted, 2);
    const drift = (await fleet.get("/api/v1/drift")) as { node: string; resource: string }[];
    t.same(
      drift
        .filter((d) => d.node === "web-1")
        .map((d) => d.resource)
        .sort(),
      ["file:/srv/demo/index.html", "service:tend-demo"],
    );
    t.equal(await page(ports[0]!), "<p>web-1: hello again</p>\n");
  });

  await t.test("with the server down agents converge from cache; every report arrives once", async (t) => {
    await stop(server);
    const ids = new Map<string, string[]>(names.map((n) => [n, []]));
    for (const [i, box] of boxes.entries()) {
      await box.run("echo defaced > /srv/demo/index.html");
      for (let run = 0; run < 2; run++) {
        const { report } = await agentRun(box);
        t.equal(report.catalog_source, "cache");
        ids.get(names[i]!)!.push(report.id);
      }
      t.equal(await page(ports[i]!), `<p>${names[i]}: hello again</p>\n`, "repaired from the cached catalog");
      t.ok(Number(await box.run("ls /var/lib/tend/spool | grep -c json")) >= 2, "reports wait in the spool");
    }
    server = await fleet.start();
    for (const [i, box] of boxes.entries()) {
      const { report } = await agentRun(box);
      t.equal(report.catalog_source, "server");
      ids.get(names[i]!)!.push(report.id);
      const stored = (await reportsOf(names[i]!)).map((r) => r.id);
      for (const id of ids.get(names[i]!)!)
        t.equal(stored.filter((s) => s === id).length, 1, `report ${id} once`);
      t.equal(new Set(stored).size, stored.length, "no report twice");
      t.equal((await box.exec("ls /var/lib/tend/spool | grep -c json")).stdout.trim(), "0");
    }
  });

  await t.test(
    "the daemon runs on its schedule, and a recipe restarting tend-agent does not cut its run",
    async (t) => {
      const box = boxes[1]!;
      const seen = new Set((await reportsOf("web-2")).map((r) => r.id));
      await box.run(
        `printf 'schedule: "*/5 * * * * *"\\nsplay: 0\\n' >> /etc/tend/agent.yaml && systemctl reload tend-agent.service`,
      );
      await until("a scheduled run's report", async () =>
        (await reportsOf("web-2")).find((r) => !seen.has(r.id)) ? true : undefined,
      );
      t.pass("a scheduled run reported");
      const files = recipes(ports, "hello again");
      files["nodes.yaml"] += "- name: web-2\n  recipes: [restart]\n";
      repo.commit(
        { ...files, ...selfRestart, "nodes.yaml": files["nodes.yaml"]! },
        "restart the agent mid-run",
      );
      await fleet.post("/api/v1/hooks/git");
      const after = await until(
        "the run that restarted tend-agent to finish",
        async () => (await box.exec("cat /var/lib/tend-e2e-after-restart")).stdout || undefined,
      );
      t.equal(after, "the run outlived the restart\n");
      const journal = await box.run("journalctl -u tend-agent.service -o cat --no-pager");
      t.match(journal, /run \S+ status=/, "one log line per run in the journal");
      t.match(journal, /continues in its own scope/);
      await box.run(
        `sed -i '/^schedule:/d; /^splay:/d' /etc/tend/agent.yaml && systemctl reload tend-agent.service`,
      );
    },
  );

  await t.test("--uninstall removes the agent and keeps its state", async (t) => {
    const box = boxes[1]!;
    const r = await box.exec(`curl -fsSL ${fleet.url}/install.sh | sh -s -- --uninstall`);
    t.equal(r.code, 0, r.stderr);
    t.equal(
      (await box.exec("test -e /usr/local/bin/tend || test -e /etc/systemd/system/tend-agent.service")).code,
      1,
    );
    t.equal((await box.exec("test -f /var/lib/tend/identity.json")).code, 0);
  });
});
