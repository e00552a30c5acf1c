/**
 * The apt_repository kind against a real signed repository served from 127.0.0.1 (helpers/apt-repo),
 * inside a test box so the host's apt is never touched: the repository is added with its pinned key,
 * apt-get update runs for it alone and once, a package from it installs in the same run; a second
 * run changes and fetches nothing. On the host: pins and key files checked by `tend validate`, and
 * packages ordered after repositories.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { aptRepository, keyPath, render, sourcesPath } from "../../../agent/resources/apt-repository.js";
import { noBoxes } from "../../boxes/lib/index.js";
import { type AptRepo, makeKey, serveAptRepo } from "../../helpers/apt-repo.js";
import { bootTendBox, boxKind, tendIn } from "../../helpers/box-kind.js";
import { tend } from "../../helpers/cli.js";
import { Contents, context, type KindCase, resource, runCases } from "../../helpers/kind-harness.js";

const root = mkdtempSync("/var/tmp/tend-aptrepo-");
const stateDir = join(root, "state");
mkdirSync(stateDir);
const repo: AptRepo = await serveAptRepo(root, { name: "tendtest-hello", version: "1.0" });
const stranger = makeKey(root, "tendtest-stranger");
t.teardown(async () => {
  await repo.close();
  rmSync(root, { recursive: true, force: true });
});

t.test("the sources file is deb822 with the key as Signed-By", async (t) => {
  const r = resource("apt_repository", "vendor", {
    ensure: "present",
    uris: "https://example.com/debian",
    suites: ["bookworm", "bookworm-updates"],
    components: "main",
  });
  t.equal(
    render(r, "/etc/apt/keyrings/vendor.asc"),
    "# Managed by tend (apt_repository:vendor): changes made here are undone on its next run.\nTypes: deb\nURIs: https://example.com/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /etc/apt/keyrings/vendor.asc\n",
  );
});

t.test(
  "in a recipe: pins and key files are checked at validate time; packages come after repositories",
  async (t) => {
    const dir = join(root, "recipes");
    mkdirSync(join(dir, "base", "files"), { recursive: true });
    writeFileSync(join(dir, "nodes.yaml"), '- name: "*"\n  recipes: [base]\n');
    writeFileSync(join(dir, "base", "files", "vendor.gpg"), repo.key.binary);
    const recipe = (key: string, pin: string) =>
      writeFileSync(
        join(dir, "base", "recipe.yaml"),
        [
          "resources:",
          "  - package: tendtest-hello",
          "  - apt_repository: vendor",
          `    uris: ${repo.url}`,
          "    suites: stable",
          "    components: main",
          `    ${key}`,
          `    fingerprint: "${pin}"`,
          "",
        ].join("\n"),
      );
    recipe("key_source: files/vendor.gpg", stranger.fingerprint);
    const wrongPin = tend(["validate", dir]);
    t.equal(wrongPin.code, 1);
    t.match(
      wrongPin.stderr,
      new RegExp(
        `base/recipe\\.yaml:8:\\d+: resources\\[1\\]\\.fingerprint: the key does not match its fingerprint pin: it does not hold ${stranger.fingerprint}; it holds ${repo.key.fingerprint}, which is not pinned \\[TEND_E_KEY_FINGERPRINT\\]`,
      ),
    );
    recipe("key_source: files/missing.gpg", repo.key.fingerprint);
    t.match(tend(["validate", dir]).stderr, /recipe\.yaml:7:\d+: resources\[1\]\.key_source: .*missing\.gpg/);
    recipe(`key: ${JSON.stringify(repo.key.armored)}`, stranger.fingerprint);
    t.match(
      tend(["validate", dir]).stderr,
      /recipe\.yaml:8:\d+: .*TEND_E_KEY_FINGERPRINT/,
      "an inline key too",
    );
    recipe("key_source: files/vendor.gpg", repo.key.fingerprint.replace(/(.{4})/g, "$1 ").trim());
    t.equal(tend(["validate", dir]).code, 0, "the right pin, as gpg prints it, validates");
    const compiled = tend(["compile", dir, "--node", "n1"]);
    const resources = (JSON.parse(compiled.stdout) as { resources: { id: string; require: string[] }[] })
      .resources;
    t.same(
      resources.map((r) => [r.id, r.require]),
      [
        ["apt_repository:vendor", []],
        ["package:tendtest-hello", ["apt_repository:vendor"]],
      ],
    );
  },
);

t.test("in a box", { skip: noBoxes }, async (t) => {
  const box = await bootTendBox(t, "apt-1", [stateDir]);
  const contents = new Contents();
  const keySha = contents.add(repo.key.armored);
  const strangerSha = contents.add(stranger.armored);
  const params = {
    ensure: "present",
    uris: repo.url,
    suites: "stable",
    components: ["main"],
    key_sha256: keySha,
    fingerprint: repo.key.fingerprint,
  };
  const inBox = (path: string) => join(box.root, path);
  const watch = [inBox(sourcesPath("tendtest")), inBox(keyPath("tendtest", "asc"))];
  const vendor = (over: Record<string, unknown> = {}) =>
    resource("apt_repository", "tendtest", { ...params, ...over } as never);
  let fetchedBefore = 0;
  const cases: KindCase[] = [
    {
      name: "a repository is added with its key; apt-get update fetches it",
      given: () => {
        fetchedBefore = repo.requests();
      },
      resource: vendor(),
      expect: [
        { property: "ensure", from: "absent", to: "present" },
        { property: "key", from: "absent", to: repo.key.fingerprint },
      ],
      diff: new RegExp(
        `\\+URIs: ${repo.url}\\n\\+Suites: stable\\n\\+Components: main\\n\\+Signed-By: /etc/apt/keyrings/tendtest.asc`,
      ),
      watch,
      after: async (t) => {
        t.ok(repo.requests() > fetchedBefore, "the repository was fetched");
        t.equal(readFileSync(inBox(keyPath("tendtest", "asc")), "utf8"), repo.key.armored);
        t.match(await box.run("apt-cache policy tendtest-hello"), /Candidate: 1\.0/);
      },
    },
    {
      name: "lists removed behind tend's back are fetched again",
      given: () => box.run("rm -f /var/lib/apt/lists/127.0.0.1*"),
      resource: vendor(),
      expect: [{ property: "index", from: "not fetched", to: "fetched" }],
      watch,
    },
    {
      name: "a sources file edited by hand in place, to the same size, is drift",
      given: () => {
        const path = inBox(sourcesPath("tendtest"));
        writeFileSync(path, readFileSync(path, "utf8").replace("Suites: stable", "Suites: stabla"));
      },
      resource: vendor(),
      expect: [{ property: "sources" }],
      diff: /-Suites: stabla\n\+Suites: stable/,
      watch,
    },
    {
      name: "a key file touched but unchanged is in sync",
      given: () => utimesSync(inBox(keyPath("tendtest", "asc")), new Date(), new Date()),
      resource: vendor(),
      expect: [],
      watch,
    },
    {
      name: "a new key of the other format replaces the old one",
      resource: vendor({ key_sha256: contents.add(repo.key.binary) }),
      expect: [
        { property: "sources" },
        { property: "key", from: "absent", to: repo.key.fingerprint },
        { property: "stale key", from: keyPath("tendtest", "asc"), to: "absent" },
      ],
      diff: /-Signed-By: \/etc\/apt\/keyrings\/tendtest\.asc\n\+Signed-By: \/etc\/apt\/keyrings\/tendtest\.gpg/,
    },
    {
      name: "a key of the other format put back by hand is drift, removed",
      given: () => writeFileSync(inBox(keyPath("tendtest", "asc")), repo.key.armored),
      resource: vendor({ key_sha256: contents.add(repo.key.binary) }),
      expect: [{ property: "stale key", from: keyPath("tendtest", "asc"), to: "absent" }],
    },
  ];
  const kind = boxKind(box, aptRepository, contents);
  await runCases(t, kind, cases, () => ({ stateDir, contents }));

  await t.test("a key that does not match its pin is refused before anything is written", async (t) => {
    const r = vendor({ key_sha256: strangerSha });
    await t.rejects(kind.check(r, context({ stateDir, contents, noop: true })), {
      code: "TEND_E_KEY_FINGERPRINT",
      message: new RegExp(`does not hold ${repo.key.fingerprint}`),
    });
  });

  await t.test(
    "a key that did not sign the repository fails the update with apt's words; the next run retries",
    async (t) => {
      const r = vendor({ key_sha256: strangerSha, fingerprint: stranger.fingerprint });
      const ctx = context({ stateDir, contents });
      const { changes } = await kind.check(r, ctx);
      await t.rejects(kind.apply(r, changes, ctx), {
        code: "TEND_E_APT_UPDATE",
        message:
          /apt_repository:tendtest: apt-get update of \/etc\/apt\/sources.list.d\/tendtest.sources exited 100:[\s\S]*(NO_PUBKEY|not signed|signature|Signature)/,
      });
      t.match(
        (await kind.check(r, ctx)).changes,
        [{ property: "index", from: "not fetched" }],
        "the update is still due",
      );
    },
  );

  await t.test("absent removes the file and the key", async (t) => {
    const r = resource("apt_repository", "tendtest", { ensure: "absent" });
    const ctx = context({ stateDir, contents });
    const { changes } = await kind.check(r, ctx);
    t.same(changes, [{ property: "ensure", from: "present", to: "absent" }]);
    await kind.apply(r, changes, ctx);
    t.same((await kind.check(r, ctx)).changes, []);
    t.match(
      await box.run("apt-cache policy tendtest-hello"),
      /^$|Candidate: \(none\)/,
      "apt forgets its package",
    );
  });

  await t.test("tend apply: the repository, one update, the package from it; then nothing", async (t) => {
    await box.writeFile("/root/r/nodes.yaml", '- name: "*"\n  recipes: [base]\n');
    await box.writeFile("/root/r/base/files/vendor.asc", repo.key.armored);
    await box.writeFile(
      "/root/r/base/recipe.yaml",
      [
        "resources:",
        "  - package: tendtest-hello",
        "  - apt_repository: tendtest",
        `    uris: ${repo.url}`,
        "    suites: stable",
        "    components: main",
        "    key_source: files/vendor.asc",
        `    fingerprint: ${repo.key.fingerprint}`,
        "",
      ].join("\n"),
    );
    const release = "/dists/stable/InRelease";
    const before = repo.requests(release);
    const first = await tendIn(box, ["apply", "/root/r", "--node", "apt-1"]);
    t.equal(first.code, 2, `${first.stdout}${first.stderr}`);
    t.match(first.stdout, /apt_repository:tendtest[\s\S]*package:tendtest-hello/, "the repository first");
    t.equal(repo.requests(release), before + 1, "one apt-get update, of this repository");
    t.equal(await box.run("cat /usr/share/tendtest-hello/hello.txt"), "hello from tendtest-hello\n");
    const fetched = repo.requests();
    const second = await tendIn(box, ["apply", "/root/r", "--node", "apt-1"]);
    t.equal(second.code, 0, `the second apply changes nothing: ${second.stdout}`);
    t.equal(repo.requests(), fetched, "and fetches nothing: no apt-get update");
  });
});
