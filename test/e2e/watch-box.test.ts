/**
 * Watch mode on a real box: a bare Debian trixie box bootstrapped with install.sh against a real
 * server on the host's loopback, its daemon switched to `watch: true`. A file edited by hand, a
 * service stopped with systemctl, a package removed with apt are each repaired at once, with a
 * report on the server that says `trigger: watch` and shows the drift; a recipe with `watch: false`
 * is left to scheduled runs; a loop rewriting a file every 100 ms ends up contested after exactly
 * N+1 repairs, not in a repair storm.
 */
import t from "tap";
import { bootBox, noBoxes } from "../boxes/lib/index.js";
import { buildBundle, fleetServer } from "../helpers/agent-e2e.js";
import { TestRepo } from "../helpers/server-git.js";
import { stop } from "../helpers/server-process.js";

const recipes: Record<string, string> = {
  "nodes.yaml": '- name: "*"\n  recipes: [watched, left]\n',
  "watched/recipe.yaml": [
    "resources:",
    "  - package: hello",
    "  - file: /etc/watched.conf",
    '    content: "wanted\\n"',
    "  - file: /etc/fought.conf",
    '    content: "tend\'s\\n"',
    "  - file: /etc/systemd/system/tend-watch.service",
    '    content: "[Service]\\nExecStart=/bin/sleep infinity\\n[Install]\\nWantedBy=multi-user.target\\n"',
    "  - service: tend-watch",
    "    ensure: running",
    "",
  ].join("\n"),
  "left/recipe.yaml": 'watch: false\nresources:\n  - file: /etc/unwatched.conf\n    content: "wanted\\n"\n',
};

interface Summary {
  id: string;
}
interface ResourceOutcome {
  id: string;
  status: string;
  drifted: boolean;
  contested?: boolean;
}
interface FullReport {
  id: string;
  trigger?: string;
  contested?: string[];
  resources: ResourceOutcome[];
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 120_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

t.test(
  "the daemon repairs what it watches at once, and gives up on a fight",
  { skip: noBoxes },
  async (t) => {
    const repo = new TestRepo();
    t.teardown(() => repo.cleanup());
    repo.commit(recipes, "watched and left alone");
    const fleet = await fleetServer(repo.dir, buildBundle());
    const server = await fleet.start();
    t.teardown(() => stop(server));
    const box = await bootBox(t, { hostname: "watch-1" });
    const token = await fleet.token(1);
    await box.run(`curl -fsSL ${fleet.url}/install.sh | sh -s -- --server ${fleet.url} --token ${token}`);
    // No scheduled run during the test: every repair below is the watcher's.
    await box.run(
      "printf 'schedule: \"0 0 1 1 *\"\\nwatch: true\\n' >> /etc/tend/agent.yaml && tend agent run >/dev/null; systemctl restart tend-agent",
    );
    await until("the daemon to watch", async () =>
      (await box.run("journalctl -u tend-agent --no-pager -o cat")).includes("watch: 5 resource(s)"),
    );

    const seen = new Set((await fleet.get("/api/v1/nodes/watch-1/reports?limit=500")) as Summary[]).size;
    t.ok(seen >= 2, "the install's run and the run by hand reported");
    /** Full watch reports that changed `id`, oldest first. */
    const watchReports = async (id: string): Promise<FullReport[]> => {
      const list = (await fleet.get("/api/v1/nodes/watch-1/reports?limit=500")) as Summary[];
      const full = await Promise.all(
        list.map((r) => fleet.get(`/api/v1/reports/${r.id}`) as Promise<FullReport>),
      );
      return full
        .filter(
          (r) => r.trigger === "watch" && r.resources.some((x) => x.id === id && x.status === "changed"),
        )
        .reverse();
    };
    const repairedBy = async (id: string) => {
      const [report] = await until(`a watch report for ${id}`, async () => {
        const r = await watchReports(id);
        return r.length > 0 ? r : undefined;
      });
      return report!.resources.find((x) => x.id === id)!;
    };

    await t.test("a file edited by hand (a new file renamed over it) is repaired", async (t) => {
      await box.run("sed -i s/wanted/edited/ /etc/unwatched.conf /etc/watched.conf");
      await until(
        "/etc/watched.conf repaired",
        async () => (await box.readFile("/etc/watched.conf")) === "wanted\n",
      );
      const r = await repairedBy("file:/etc/watched.conf");
      t.equal(r.drifted, true, "reported as drift");
      t.equal(
        await box.readFile("/etc/unwatched.conf"),
        "edited\n",
        "a recipe with watch: false is left to scheduled runs",
      );
    });

    await t.test("a service stopped with systemctl is started again", async (t) => {
      await box.run("systemctl stop tend-watch");
      await until(
        "tend-watch running again",
        async () => (await box.exec("systemctl is-active tend-watch")).stdout.trim() === "active",
      );
      const r = await repairedBy("service:tend-watch");
      t.equal(r.drifted, true);
    });

    await t.test("a package removed with apt is installed again", async (t) => {
      await box.run("apt-get remove -y -q hello >/dev/null 2>&1");
      await until(
        "hello installed again",
        async () =>
          (await box.exec("dpkg -s hello | grep ^Status:")).stdout.trim() === "Status: install ok installed",
      );
      const r = await repairedBy("package:hello");
      t.equal(r.drifted, true);
    });

    await t.test("a loop rewriting a file every 100 ms ends up contested, not in a storm", async (t) => {
      await box.run(
        "systemd-run --unit=fighter --quiet sh -c 'while :; do echo other > /etc/fought.conf; sleep 0.1; done'",
      );
      const contested = await until("file:/etc/fought.conf contested", async () => {
        const r = (await watchReports("file:/etc/fought.conf")).find((x) => x.contested?.length);
        return r;
      });
      t.same(contested.contested, ["file:/etc/fought.conf"], "the report lists the contested resource");
      t.equal(contested.resources.find((x) => x.id === "file:/etc/fought.conf")?.contested, true);
      // Another watched change after it: the daemon is still repairing everything else.
      await box.run("sed -i s/wanted/again/ /etc/watched.conf");
      await until(
        "/etc/watched.conf repaired",
        async () => (await box.readFile("/etc/watched.conf")) === "wanted\n",
      );
      await box.run("systemctl stop fighter");
      const repairs = await watchReports("file:/etc/fought.conf");
      t.equal(repairs.length, 6, "5 repairs allowed in 10 minutes, the 6th makes it contested, then none");
      t.equal(await box.readFile("/etc/fought.conf"), "other\n", "left alone");
    });
  },
);
