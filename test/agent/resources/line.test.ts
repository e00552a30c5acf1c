/**
 * The line kind on real files in a temp directory: insert, replace by `match`, insert `after`,
 * remove, owner/mode kept, diffs (hidden for private files), backups, refusals; and in a recipe:
 * regular expressions checked at validate time, automatic edges, converging with `tend apply`.
 */
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { editLines, type LineParams, line } from "../../../agent/resources/line.js";
import { BackupStore } from "../../../agent/store/file-backups.js";
import { tend } from "../../helpers/cli.js";
import { context, type KindCase, resource, runCases } from "../../helpers/kind-harness.js";

const root = mkdtempSync(join(tmpdir(), "tend-line-"));
const stateDir = join(root, "state");
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const at = (name: string) => join(root, name);
const read = (name: string) => readFileSync(at(name), "utf8");
const given =
  (name: string, text: string, mode = 0o644) =>
  () => {
    writeFileSync(at(name), text);
    chmodSync(at(name), mode);
  };
const lineOf = (title: string, params: Partial<LineParams> & { path: string }) =>
  resource("line", title, { ensure: "present", ...params });

const SSHD = "Port 22\n#PermitRootLogin prohibit-password\nPasswordAuthentication yes\n";

const cases: KindCase[] = [
  {
    name: "a missing line is added at the end, with a newline the file lacked",
    given: given("a.conf", "one\ntwo"),
    resource: lineOf("three", { path: at("a.conf") }),
    expect: [{ property: "line", from: "absent", to: "three" }],
    diff: /-two\n\\ No newline at end of file\n\+two\n\+three/,
    watch: [at("a.conf")],
    after: (t) => t.equal(read("a.conf"), "one\ntwo\nthree\n"),
  },
  {
    name: "the first line matching `match` is replaced; owner and mode are kept",
    given: () => {
      given("sshd_config", SSHD, 0o664)();
      chownSync(at("sshd_config"), 59931, 59932);
    },
    resource: lineOf("sshd: no root login", {
      path: at("sshd_config"),
      text: "PermitRootLogin no",
      match: "^#?PermitRootLogin\\b",
    }),
    expect: [{ property: "line", from: "#PermitRootLogin prohibit-password", to: "PermitRootLogin no" }],
    diff: /-#PermitRootLogin prohibit-password\n\+PermitRootLogin no/,
    watch: [at("sshd_config")],
    after: (t) => {
      t.equal(read("sshd_config"), SSHD.replace("#PermitRootLogin prohibit-password", "PermitRootLogin no"));
      const st = statSync(at("sshd_config"));
      t.same([st.mode & 0o7777, st.uid, st.gid], [0o664, 59931, 59932], "owner and mode as they were");
      const saved = new BackupStore(stateDir).list(at("sshd_config"));
      t.equal(saved.length, 1, "the replaced content is in the backup store");
    },
  },
  {
    name: "a new line goes after the first line matching `after`",
    given: given("hosts.ini", "[web]\nweb-1\n[db]\ndb-1\n"),
    resource: lineOf("web-2", { path: at("hosts.ini"), after: "^\\[web\\]$" }),
    expect: [{ property: "line", from: "absent", to: "web-2" }],
    after: (t) => t.equal(read("hosts.ini"), "[web]\nweb-2\nweb-1\n[db]\ndb-1\n"),
  },
  {
    name: "a line already there is left alone, even when other lines match",
    given: given("b.conf", "x=1\nx=2\n"),
    resource: lineOf("x", { path: at("b.conf"), text: "x=2", match: "^x=" }),
    expect: [],
    watch: [at("b.conf")],
    after: (t) => t.equal(read("b.conf"), "x=1\nx=2\n"),
  },
  {
    name: "absent removes the line and, with `match`, every line matching it",
    given: given("c.conf", "keep\nTrace on\n# Trace off\nTrace on\nend"),
    resource: lineOf("no trace", {
      path: at("c.conf"),
      text: "Trace on",
      match: "^# Trace",
      ensure: "absent",
    }),
    expect: [{ property: "line", from: "present 3 times", to: "absent" }],
    after: (t) => t.equal(read("c.conf"), "keep\nend", "the missing final newline stays missing"),
  },
  {
    name: "absent from a missing file is in sync",
    resource: lineOf("gone", { path: at("missing.conf"), ensure: "absent" }),
    expect: [],
    watch: [at("missing.conf")],
  },
  {
    name: "a file not readable by others gets no diff, and its lines are not named",
    given: given("secret.env", "TOKEN=old\n", 0o600),
    resource: lineOf("token", { path: at("secret.env"), text: "TOKEN=new", match: "^TOKEN=" }),
    expect: [{ property: "line", from: "(hidden)", to: "(hidden)" }],
    diff: /^content hidden \(the file on this box, mode 0600/,
    after: (t) => {
      t.equal(read("secret.env"), "TOKEN=new\n");
      t.equal(statSync(at("secret.env")).mode & 0o777, 0o600);
    },
  },
  {
    name: "the name is the line when no text is given; an empty file gets it",
    given: given("empty", ""),
    resource: lineOf("only line", { path: at("empty") }),
    expect: [{ property: "line", from: "absent", to: "only line" }],
    after: (t) => t.equal(read("empty"), "only line\n"),
  },
  {
    name: "follow_symlink edits the file a symlink points to and keeps the link",
    given: () => {
      given("real.conf", "a\n")();
      symlinkSync(at("real.conf"), at("link.conf"));
    },
    resource: lineOf("b", { path: at("link.conf"), follow_symlink: true }),
    expect: [{ property: "line", from: "absent", to: "b" }],
    after: (t) => {
      t.equal(read("real.conf"), "a\nb\n");
      t.ok(lstatSync(at("link.conf")).isSymbolicLink());
    },
  },
];

await runCases(t, line, cases, () => ({ stateDir }));

t.test("what cannot hold a line is refused with a coded error", async (t) => {
  const ctx = context({ stateDir });
  await t.rejects(line.check(lineOf("x", { path: at("nothing-here") }), ctx), {
    code: "TEND_E_LINE_NO_FILE",
    message: /line:x: .*nothing-here does not exist.*file resource/,
  });
  symlinkSync(at("a.conf"), at("plain-link"));
  await t.rejects(line.check(lineOf("x", { path: at("plain-link") }), ctx), { code: "TEND_E_FILE_SYMLINK" });
  mkdirSync(at("dir"));
  await t.rejects(line.check(lineOf("x", { path: at("dir") }), ctx), { code: "TEND_E_FILE_TYPE" });
  await t.rejects(line.check(lineOf("two\nlines", { path: at("a.conf") }), ctx), {
    code: "TEND_E_LINE_TEXT",
  });
});

t.test("editLines is a pure function of the text", async (t) => {
  const p = (over: Partial<LineParams>): LineParams => ({ path: "/x", ensure: "present", ...over });
  t.equal(editLines("", p({}), "a")?.text, "a\n");
  t.equal(editLines("a\n", p({}), "a"), null);
  t.equal(editLines("k=1\n", p({ match: "^k=", after: "nothing" }), "k=2")?.text, "k=2\n");
  t.equal(editLines("x\n", p({ after: "nothing matches" }), "y")?.text, "x\ny\n");
  t.equal(editLines("a\nb\n", p({ ensure: "absent" }), "c"), null);
});

t.test("in a recipe: regexes are checked at validate time; edges; one apply converges", async (t) => {
  const dir = join(root, "recipes");
  const target = join(root, "recipe-target");
  mkdirSync(join(dir, "base"), { recursive: true });
  writeFileSync(join(dir, "nodes.yaml"), '- name: "*"\n  recipes: [base]\n');
  const recipe = (match: string) =>
    writeFileSync(
      join(dir, "base", "recipe.yaml"),
      [
        "resources:",
        "  - line: limit",
        `    path: ${target}/app.conf`,
        "    text: limit=10",
        `    match: ${JSON.stringify(match)}`,
        `  - file: ${target}/app.conf`,
        `  - file: ${target}`,
        "    ensure: directory",
        "",
      ].join("\n"),
    );
  recipe("^limit=(");
  const bad = tend(["validate", dir]);
  t.equal(bad.code, 1, "a broken regular expression is refused");
  t.match(bad.stderr, /base\/recipe\.yaml:5:\d+: .*match.*regular expression/);

  recipe("^limit=");
  t.equal(tend(["validate", dir]).code, 0);
  const compiled = tend(["compile", dir, "--node", "n1"]);
  const resources = (JSON.parse(compiled.stdout) as { resources: { id: string; require: string[] }[] })
    .resources;
  t.same(
    resources.map((r) => r.id),
    [`file:${target}`, `file:${target}/app.conf`, "line:limit"],
    "the line comes after its file, which comes after its directory",
  );
  t.same(resources[2]?.require, [`file:${target}/app.conf`, `file:${target}`]);
  const state = join(root, "apply-state");
  const first = tend(["apply", dir, "--node", "n1", "--state-dir", state]);
  t.equal(first.code, 2, first.stderr);
  t.equal(readFileSync(join(target, "app.conf"), "utf8"), "limit=10\n");
  writeFileSync(join(target, "app.conf"), "# tuned\nlimit=99\n");
  const drift = tend(["apply", dir, "--node", "n1", "--state-dir", state]);
  t.equal(drift.code, 2, "a changed line is drift, put back");
  t.match(drift.stdout, /line:limit/);
  t.equal(readFileSync(join(target, "app.conf"), "utf8"), "# tuned\nlimit=10\n");
  t.equal(tend(["apply", dir, "--node", "n1", "--state-dir", state]).code, 0, "then nothing changes");
});
