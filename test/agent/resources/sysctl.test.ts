/**
 * The sysctl kind. Live writes happen only where they harm nothing: this file runs its writing
 * cases again in a private network namespace (net.* parameters are the namespace's own) with a tmpfs
 * over /etc/sysctl.d (`unshare --net --mount`), and refuses to write unless both are private. The
 * read-only path is a box: systemd-nspawn mounts /proc/sys read-only, so a differing value is a clear
 * error in the plan and nothing is written (boxes share the host's network: nothing may be).
 */
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import t from "tap";
import { normalValue, persistPath, sysctl } from "../../../agent/resources/sysctl.js";
import { procPath } from "../../../agent/sys/sysctl.js";
import { noBoxes } from "../../boxes/lib/index.js";
import { bootTendBox, boxKind, tendIn } from "../../helpers/box-kind.js";
import { tend } from "../../helpers/cli.js";
import { context, type KindCase, resource, runCases } from "../../helpers/kind-harness.js";

const INNER = process.env.TEND_SYSCTL_PRIVATE_NS === "1";
const root = mkdtempSync("/var/tmp/tend-sysctl-");
const stateDir = join(root, "state");
mkdirSync(stateDir);
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const param = (name: string, value: string | number) =>
  resource("sysctl", name, { ensure: "present", value });
const live = (name: string) => readFileSync(procPath(name), "utf8").trim();

if (INNER) await privateNamespace();
else await outside();

async function outside(): Promise<void> {
  t.test("names map to /proc/sys paths; values compare as the kernel prints them", async (t) => {
    t.equal(procPath("net.ipv4.ip_forward"), "/proc/sys/net/ipv4/ip_forward");
    t.equal(procPath("net.ipv4.conf.eth0/100.forwarding"), "/proc/sys/net/ipv4/conf/eth0.100/forwarding");
    t.equal(
      persistPath("net.ipv4.conf.eth0/100.forwarding"),
      "/etc/sysctl.d/99-tend-net.ipv4.conf.eth0_100.forwarding.conf",
    );
    t.equal(normalValue("4096\t87380\t6291456"), normalValue(" 4096 87380  6291456 "));
    t.equal(normalValue("01"), normalValue(1));
    t.not(normalValue("1"), normalValue("10"));
  });

  t.test("a bad parameter name is refused at validate time", async (t) => {
    const dir = join(root, "recipes");
    mkdirSync(join(dir, "base"), { recursive: true });
    writeFileSync(join(dir, "nodes.yaml"), '- name: "*"\n  recipes: [base]\n');
    writeFileSync(join(dir, "base", "recipe.yaml"), "resources:\n  - sysctl: net ipv4\n    value: 1\n");
    const bad = tend(["validate", dir]);
    t.equal(bad.code, 1);
    t.match(bad.stderr, /base\/recipe\.yaml:2:\d+: .*a parameter name such as "net\.ipv4\.ip_forward"/);
    writeFileSync(join(dir, "base", "recipe.yaml"), "resources:\n  - sysctl: vm.swappiness\n");
    t.match(tend(["validate", dir]).stderr, /ensure: present needs value/);
  });

  t.test("live writes, in a private network and mount namespace", async (t) => {
    const me = readlinkSync("/proc/self/ns/net");
    t.spawn(
      "unshare",
      ["--net", "--mount", "--", process.execPath, ...process.execArgv, import.meta.filename],
      { env: { ...process.env, TEND_SYSCTL_PRIVATE_NS: "1", TEND_SYSCTL_PARENT_NS: me } },
      "the writing cases",
    );
  });

  t.test("in a box, where /proc/sys is read-only", { skip: noBoxes }, async (t) => {
    const box = await bootTendBox(t, "sysctl-1", [stateDir]);
    const now = (await box.run(["cat", procPath("net.ipv4.ip_forward")])).trim();
    const other = now === "1" ? "0" : "1";
    const kind = boxKind(box, sysctl);
    await t.rejects(
      kind.check(param("net.ipv4.ip_forward", other), context({ stateDir })),
      {
        code: "TEND_E_SYSCTL_READONLY",
        message:
          /sysctl:net\.ipv4\.ip_forward: net\.ipv4\.ip_forward is read-only on this box \(EROFS: \/proc\/sys is mounted read-only/,
      },
      "a differing value is an error already in the plan, naming the parameter and why",
    );
    const conf = join(box.root, persistPath("net.ipv4.ip_forward"));
    await runCases(
      t,
      kind,
      [
        {
          name: "a value already in force is only persisted",
          resource: param("net.ipv4.ip_forward", now),
          expect: [{ property: "persisted", from: "absent", to: "present" }],
          watch: [conf],
          after: (t) => t.match(readFileSync(conf, "utf8"), `\nnet.ipv4.ip_forward = ${now}\n`),
        },
      ],
      () => ({ stateDir }),
    );
    await box.writeFile("/root/r/nodes.yaml", '- name: "*"\n  recipes: [k]\n');
    await box.writeFile(
      "/root/r/k/recipe.yaml",
      `resources:\n  - sysctl: net.ipv4.ip_forward\n    value: ${other}\n`,
    );
    const applied = await tendIn(box, ["apply", "/root/r", "--node", "sysctl-1"]);
    t.equal(applied.code, 4, "the run fails that resource");
    t.match(applied.stdout, /TEND_E_SYSCTL_READONLY/);
    t.equal((await box.run(["cat", procPath("net.ipv4.ip_forward")])).trim(), now, "and writes nothing");
  });
}

async function privateNamespace(): Promise<void> {
  // Never write a parameter of the host: only in namespaces of our own.
  const parentNet = process.env.TEND_SYSCTL_PARENT_NS;
  if (!parentNet || readlinkSync("/proc/self/ns/net") === parentNet)
    throw new Error("not in a private netns");
  const mounted = spawnSync("mount", ["-t", "tmpfs", "tendtest-sysctl", "/etc/sysctl.d"]);
  if (mounted.status !== 0) throw new Error(`cannot mount a tmpfs on /etc/sysctl.d: ${mounted.stderr}`);
  const conf = persistPath("net.ipv4.ip_forward");
  const cases: KindCase[] = [
    {
      name: "a value is set live and persisted",
      resource: param("net.ipv4.ip_forward", 1),
      expect: [
        { property: "value", from: "0", to: "1" },
        { property: "persisted", from: "absent", to: "present" },
      ],
      diff: /\+net\.ipv4\.ip_forward = 1/,
      watch: [conf],
      after: (t) => {
        t.equal(live("net.ipv4.ip_forward"), "1");
        t.equal(
          readFileSync(conf, "utf8"),
          "# Managed by tend (sysctl:net.ipv4.ip_forward): changes made here are undone on its next run.\nnet.ipv4.ip_forward = 1\n",
        );
      },
    },
    {
      name: "a live value changed behind tend's back is drift, set again",
      given: () => writeFileSync(procPath("net.ipv4.ip_forward"), "0"),
      resource: param("net.ipv4.ip_forward", 1),
      expect: [{ property: "value", from: "0", to: "1" }],
      watch: [conf],
    },
    {
      name: "a persisted file edited by hand is drift, written again",
      given: () => writeFileSync(conf, "net.ipv4.ip_forward = 0\n"),
      resource: param("net.ipv4.ip_forward", 1),
      expect: [{ property: "persisted" }],
      diff: /-net\.ipv4\.ip_forward = 0\n\+# Managed by tend/,
      watch: [conf],
    },
    {
      name: "a persisted file removed by hand is written again",
      given: () => rmSync(conf),
      resource: param("net.ipv4.ip_forward", 1),
      expect: [{ property: "persisted", from: "absent", to: "present" }],
      watch: [conf],
    },
    {
      name: "several values compare whitespace-insensitively",
      resource: param("net.ipv4.tcp_rmem", "4096 65536 4194304"),
      expect: [{ property: "value", to: "4096 65536 4194304" }, { property: "persisted" }],
      after: (t) => t.equal(live("net.ipv4.tcp_rmem"), "4096\t65536\t4194304"),
    },
    {
      name: "absent removes the persisted file and leaves the live value",
      resource: resource("sysctl", "net.ipv4.tcp_rmem", { ensure: "absent" }),
      expect: [{ property: "persisted", from: "present", to: "absent" }],
      after: (t) => {
        t.notOk(existsSync(persistPath("net.ipv4.tcp_rmem")));
        t.equal(live("net.ipv4.tcp_rmem"), "4096\t65536\t4194304");
      },
    },
  ];
  await runCases(t, sysctl, cases, () => ({ stateDir }));

  t.test("the persisted file is one sysctl itself loads", async (t) => {
    writeFileSync(procPath("net.ipv4.ip_forward"), "0");
    const loaded = spawnSync("sysctl", ["-p", conf], { encoding: "utf8" });
    t.equal(loaded.status, 0, loaded.stderr);
    t.equal(live("net.ipv4.ip_forward"), "1");
  });

  t.test("the kernel's refusals are coded errors naming the parameter", async (t) => {
    const ctx = context({ stateDir });
    const bad = param("net.ipv4.ip_forward", "banana");
    const { changes } = await sysctl.check(bad, ctx);
    t.match(changes, [{ property: "value", to: "banana" }]);
    await t.rejects(sysctl.apply(bad, changes, ctx), {
      code: "TEND_E_SYSCTL_VALUE",
      message: /refused "banana" for net\.ipv4\.ip_forward \(EINVAL\)/,
    });
    t.match(readFileSync(conf, "utf8"), / = 1\n$/, "a refused value is not persisted");
    await t.rejects(sysctl.check(param("net.ipv4.tendtest_nothing", 1), ctx), {
      code: "TEND_E_SYSCTL_UNKNOWN",
      message: /no parameter net\.ipv4\.tendtest_nothing/,
    });
  });

  t.test("a link in the persisted file's place is refused, not followed", async (t) => {
    writeFileSync("/etc/sysctl.d/elsewhere.conf", "net.ipv4.ip_forward = 1\n");
    rmSync(conf);
    symlinkSync("/etc/sysctl.d/elsewhere.conf", conf);
    const r = param("net.ipv4.ip_forward", 1);
    const run = {};
    const prefetched = await sysctl.prefetch!([r], context({ stateDir, run, noop: true }));
    await t.rejects(sysctl.check(r, context({ stateDir, run, noop: true, prefetched })), {
      code: "TEND_E_FILE_SYMLINK",
    });
  });
}
