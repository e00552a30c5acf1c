/**
 * The git kind against real repositories: a bare repository in a temp dir is the remote, commits
 * are made and pushed by the test. Clone, no-op, a moved branch, a tag, a sha, local modifications
 * (a failure without force, discarded with it), untracked files left alone, an owner, and that a
 * no-op of a sha or a fetched tag never touches the network (the remote is moved away).
 */
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import t from "tap";
import { runCatalog } from "../../../agent/engine/index.js";
import { fsRepo } from "../../../agent/repo-fs.js";
import { gitKind } from "../../../agent/resources/git.js";
import { kinds } from "../../../agent/resources/index.js";
import { Accounts } from "../../../agent/sys/accounts.js";
import { compile } from "../../../core/compile.js";
import { catalog, resource as catalogResource, testFacts } from "../../helpers/catalog.js";
import { sampleFacts } from "../../helpers/facts.js";
import { context, type KindCase, resource, runCases } from "../../helpers/kind-harness.js";

const root = mkdtempSync(join(tmpdir(), "tend-git-"));
chmodSync(root, 0o755); // the test user clones from here too
const stateDir = join(root, "state");
const remote = join(root, "remote.git");
const work = join(root, "work");
const co = (name: string) => join(root, "co", name);
mkdirSync(join(root, "co"));
const USER = "tendtestgit";
const cleanup = () => {
  spawnSync("userdel", ["-r", USER], { stdio: "ignore" });
  spawnSync("groupdel", [USER], { stdio: "ignore" });
};
cleanup();
t.teardown(() => {
  cleanup();
  rmSync(root, { recursive: true, force: true });
});

function g(cwd: string, ...args: string[]): string {
  const r = spawnSync("git", args, {
    cwd,
    encoding: "utf8",
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "t",
      GIT_AUTHOR_EMAIL: "t@t",
      GIT_COMMITTER_NAME: "t",
      GIT_COMMITTER_EMAIL: "t@t",
    },
  });
  if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
  return r.stdout.trim();
}

/** Commit `text` as app.txt on `branch` of the remote; the new commit's sha. */
function commit(text: string, branch = "main"): string {
  g(work, "checkout", "-q", "-B", branch);
  writeFileSync(join(work, "app.txt"), text);
  g(work, "add", "app.txt");
  g(work, "commit", "-q", "-m", text);
  g(work, "push", "-q", "-f", "origin", `HEAD:refs/heads/${branch}`);
  return g(work, "rev-parse", "HEAD");
}

g(root, "init", "-q", "--bare", "-b", "main", remote);
g(root, "init", "-q", "-b", "main", work);
g(work, "remote", "add", "origin", remote);
mkdirSync(join(work, "bin"));
writeFileSync(join(work, "bin", "run"), "#!/bin/sh\n", { mode: 0o755 });
g(work, "add", "bin/run");
const v1 = commit("version 1\n");
g(work, "tag", "-a", "-m", "release 1", "v1");
g(work, "push", "-q", "origin", "v1");

const head = (path: string) => g(path, "rev-parse", "HEAD");
const app = (path: string) => readFileSync(join(path, "app.txt"), "utf8");
const git = (name: string, params: Record<string, string | boolean>) =>
  resource("git", co(name), { repository: remote, revision: "main", ...params });
/** Run `fn` with the remote out of reach: whatever it does touches no network. */
async function offline<T>(fn: () => Promise<T>): Promise<T> {
  renameSync(remote, `${remote}.away`);
  try {
    return await fn();
  } finally {
    renameSync(`${remote}.away`, remote);
  }
}
const base = () => ({ stateDir });

let v2 = "";
const cases: KindCase[] = [
  {
    name: "clones a branch into a new directory, its HEAD detached at the branch's commit",
    resource: git("app", {}),
    expect: [{ property: "revision", from: "absent", to: v1 }],
    watch: [co("app"), join(root, "co")],
    after: (t) => {
      t.equal(app(co("app")), "version 1\n");
      t.equal(head(co("app")), v1);
      t.equal(readFileSync(join(co("app"), ".git", "HEAD"), "utf8").trim(), v1, "detached");
      t.equal(statSync(join(co("app"), "bin", "run")).mode & 0o111, 0o111, "the executable bit is kept");
    },
  },
  {
    name: "a branch that moved on the remote is fetched and checked out",
    given: () => {
      v2 = commit("version 2\n");
    },
    resource: git("app", {}),
    // A getter: v2 exists once `given` has run.
    get expect() {
      return [{ property: "revision", from: v1, to: v2 }];
    },
    watch: [join(co("app"), "app.txt"), join(co("app"), ".git", "HEAD")],
    after: (t) => {
      t.equal(head(co("app")), v2);
      t.equal(app(co("app")), "version 2\n");
    },
  },
  {
    name: "a tag is checked out at the commit it names",
    resource: git("tagged", { revision: "v1" }),
    expect: [{ property: "revision", from: "absent", to: v1 }],
    after: (t) => t.equal(app(co("tagged")), "version 1\n"),
  },
  {
    name: "a commit sha is checked out as such",
    resource: git("pinned", { revision: v1 }),
    expect: [{ property: "revision", from: "absent", to: v1 }],
    after: (t) => t.equal(head(co("pinned")), v1),
  },
  {
    name: "a checkout at a tag (here on a new path)...",
    resource: git("moving", { revision: "v1" }),
    expect: [{ property: "revision", from: "absent", to: v1 }],
  },
  {
    name: "...moved to a branch goes there",
    resource: git("moving", { revision: "main" }),
    get expect() {
      return [{ property: "revision", from: v1, to: v2 }];
    },
    after: (t) => t.equal(app(co("moving")), "version 2\n"),
  },
  {
    name: "with force, a local modification is drift: shown as a diff and discarded",
    given: () => writeFileSync(join(co("pinned"), "app.txt"), "hand edit\n"),
    resource: git("pinned", { revision: v1, force: true }),
    expect: [{ property: "modified", from: ["app.txt"], to: [] }],
    diff: /-version 1\n\+hand edit/,
    watch: [join(co("pinned"), "app.txt"), join(co("pinned"), ".git", "index")],
    after: (t) => t.equal(app(co("pinned")), "version 1\n"),
  },
  {
    name: "with force, a deleted tracked file is restored",
    given: () => rmSync(join(co("pinned"), "bin", "run")),
    resource: git("pinned", { revision: v1, force: true }),
    expect: [{ property: "modified", from: ["bin/run"], to: [] }],
    after: (t) => t.ok(existsSync(join(co("pinned"), "bin", "run"))),
  },
  {
    name: "untracked files and a touched file (same content) are not drift",
    given: () => {
      writeFileSync(join(co("pinned"), "build.log"), "output\n");
      utimesSync(join(co("pinned"), "app.txt"), new Date(2001, 1, 1), new Date(2001, 1, 1));
    },
    resource: git("pinned", { revision: v1 }),
    expect: [],
    after: (t) => t.ok(existsSync(join(co("pinned"), "build.log")), "the untracked file stays"),
  },
  {
    name: "a checkout of another repository is pointed at the wanted one",
    given: () => {
      g(root, "clone", "-q", "--bare", remote, join(root, "mirror.git"));
      g(co("pinned"), "remote", "set-url", "origin", join(root, "mirror.git"));
    },
    resource: git("pinned", { revision: v1 }),
    expect: [{ property: "repository", from: join(root, "mirror.git"), to: remote }],
  },
];

t.test("git kind", async (t) => {
  await runCases(t, gitKind, cases, base);
});

t.test("a no-op check of a sha or a fetched tag never touches the network", async (t) => {
  const ctx = context({ stateDir, noop: true });
  const trace = join(root, "trace-offline");
  process.env.GIT_TRACE = trace;
  try {
    for (const r of [git("pinned", { revision: v1 }), git("tagged", { revision: "v1" })]) {
      const found = await offline(() => gitKind.check(r, ctx));
      t.same(found.changes, [], `${r.id} at ${r.params.revision} is in sync, offline`);
    }
  } finally {
    delete process.env.GIT_TRACE;
  }
  t.notOk(existsSync(trace), "and no git process ran: HEAD, refs and the index were read from .git");
  await t.rejects(
    offline(() => gitKind.check(git("app", {}), ctx)),
    /ls-remote/,
    "a branch asks the remote (the control: offline, it fails)",
  );
});

t.test("one ls-remote per repository and run, however many checkouts follow a branch", async (t) => {
  const trace = join(root, "trace");
  process.env.GIT_TRACE = trace;
  t.teardown(() => {
    delete process.env.GIT_TRACE;
  });
  const rs = [git("app", {}), git("app2", {})];
  const pctx = context({ stateDir, noop: true });
  const prefetched = await gitKind.prefetch!(rs, pctx);
  const ctx = context({ stateDir, noop: true, prefetched });
  for (const r of rs) await gitKind.check(r, ctx);
  const lines = readFileSync(trace, "utf8").split("\n");
  t.equal(lines.filter((l) => /built-in: git ls-remote/.test(l)).length, 1);
});

t.test("a local modification without force fails the resource and says how to fix it", async (t) => {
  writeFileSync(join(co("app"), "app.txt"), "oops\n");
  const ctx = context({ stateDir, noop: true });
  await t.rejects(gitKind.check(git("app", {}), ctx), {
    code: "TEND_E_GIT_DIRTY",
    message: /app\.txt.*force: true/,
  });
  t.equal(app(co("app")), "oops\n", "nothing discarded");
  rmSync(co("app"), { recursive: true });
});

t.test("refusals: a directory with other files, a revision the remote lacks", async (t) => {
  mkdirSync(co("other"));
  writeFileSync(join(co("other"), "keep"), "mine\n");
  const ctx = context({ stateDir, noop: true });
  await t.rejects(gitKind.check(git("other", {}), ctx), { code: "TEND_E_GIT_PATH" });
  await t.rejects(gitKind.check(git("none", { revision: "no-such-branch" }), ctx), {
    code: "TEND_E_GIT_REVISION",
    message: /no branch or tag "no-such-branch"/,
  });
});

t.test("an owner gets the whole checkout and git runs as them", async (t) => {
  spawnSync("useradd", ["--create-home", USER]);
  const accounts = new Accounts();
  const uid = accounts.uidOf(USER)!;
  // The user's own repository: git refuses, rightly, to serve a local one that someone else owns.
  const theirs = join(root, "theirs.git");
  g(root, "clone", "-q", "--bare", remote, theirs);
  spawnSync("chown", ["-R", USER, theirs]);
  const owned = (params: Record<string, string>) =>
    resource("git", co("owned"), { repository: theirs, revision: "main", ...params });
  const cases: KindCase[] = [
    {
      name: "a new checkout belongs to its owner",
      resource: owned({ owner: USER }),
      expect: [{ property: "revision", from: "absent" }],
      after: (t) => {
        for (const p of ["", "app.txt", ".git", ".git/index", ".git/HEAD"])
          t.equal(statSync(join(co("owned"), p)).uid, uid, `${p || "the checkout"} is the owner's`);
        const r = spawnSync("git", ["status", "--porcelain"], {
          cwd: co("owned"),
          uid,
          gid: statSync(co("owned")).gid,
        });
        t.equal(r.status, 0, "the owner can use it (no safe.directory complaint)");
      },
    },
    {
      name: "a checkout chowned away is given back",
      given: () => spawnSync("chown", ["-R", "root:root", co("owned")]),
      resource: owned({ owner: USER }),
      expect: [{ property: "owner", from: "root", to: USER }],
      after: (t) => t.equal(statSync(join(co("owned"), "app.txt")).uid, uid),
    },
  ];
  await runCases(t, gitKind, cases, base);
});

t.test("a change notifies through the engine; the next run changes and notifies nothing", async (t) => {
  const marker = join(root, "deployed");
  const cat = catalog([
    catalogResource(
      "git",
      co("deploy"),
      { repository: remote, revision: "main" },
      { notify: ["exec:deploy"] },
    ),
    catalogResource("exec", "deploy", { argv: ["sh", "-c", `echo x >> ${marker}`], refresh_only: true }),
  ]);
  const first = await runCatalog(cat, { kinds, facts: testFacts, stateDir });
  t.same(
    first.resources.map((r) => r.status),
    ["changed", "changed"],
  );
  const second = await runCatalog(cat, { kinds, facts: testFacts, stateDir });
  t.same(
    second.resources.map((r) => r.status),
    ["unchanged", "unchanged"],
  );
  t.equal(readFileSync(marker, "utf8"), "x\n", "the deploy ran once");
});

t.test("automatic edges: after its parent directory, its owner and package git", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tend-git-recipe-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  };
  write("nodes.yaml", '- name: "*"\n  recipes: [app]\n');
  write(
    "app/recipe.yaml",
    `resources:
  - git: /srv/app
    repository: https://example.com/app.git
    owner: deploy
  - file: /srv
    ensure: directory
  - user: deploy
  - package: git
`,
  );
  const { catalog: c, problems } = compile(fsRepo(dir), "n", sampleFacts());
  t.same(problems, []);
  const r = c?.resources.find((x) => x.id === "git:/srv/app");
  t.same(r?.require.sort(), ["file:/srv", "package:git", "user:deploy"]);
  t.same(r?.params, { repository: "https://example.com/app.git", revision: "HEAD", owner: "deploy" });

  write("app/recipe.yaml", "resources:\n  - git: /srv/app\n");
  const bad = compile(fsRepo(dir), "n", sampleFacts());
  t.match(bad.problems, [{ message: /"repository" is required/ }], "repository is required");
});

t.test("watch mode watches the checkout's top and its .git", async (t) => {
  t.same(gitKind.watch!(git("app", {})), { paths: [co("app"), join(co("app"), ".git")] });
});
