// Every class of mistake in a recipe repository gives one located, readable error. The cases are
// data: test/fixtures/broken/CASE/ holds a small repository and expect.txt the error it must give.
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { fsRepo } from "../../agent/repo-fs.js";
import { compile } from "../../core/compile.js";
import { formatProblem } from "../../core/errors.js";
import { validateRepo } from "../../core/validate.js";
import { sampleFacts } from "../helpers/facts.js";

const root = new URL("../fixtures/broken/", import.meta.url).pathname;

for (const name of readdirSync(root).sort()) {
  const dir = join(root, name);
  t.test(`a repository with ${name.replace(/-/g, " ")} gives one located error`, async (t) => {
    const expected = readFileSync(join(dir, "expect.txt"), "utf8").trim();
    const nodeFile = join(dir, "node.txt");
    const problems = existsSync(nodeFile)
      ? compile(fsRepo(dir), readFileSync(nodeFile, "utf8").trim(), sampleFacts()).problems
      : validateRepo(fsRepo(dir)).problems;
    const lines = problems.map(formatProblem);
    t.equal(lines.length, 1, `exactly one error, got:\n${lines.join("\n")}`);
    t.ok(lines[0]?.startsWith(expected), `"${lines[0]}"\nstarts with\n"${expected}"`);
    t.notMatch(lines.join("\n"), /\bat .*\.(ts|js):\d+/, "no stack trace");
  });
}

t.test("a source that is a symlink out of the repository is refused", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tend-symlink-"));
  cpSync(join(root, "source-missing"), dir, { recursive: true });
  symlinkSync("/etc/hostname", join(dir, "base", "files"), "file");
  const lines = validateRepo(fsRepo(dir)).problems.map(formatProblem);
  t.equal(lines.length, 1, lines.join("\n"));
  t.match(
    lines[0],
    /^base\/recipe\.yaml:3:13: resources\[0\]\.source: source "files\/sshd\.conf" goes through a symbolic link \(base\/files\) that leaves the repository/,
  );
});

t.test("a symlinked folder that stays inside the repository is followed", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tend-symlink-in-"));
  cpSync(join(root, "source-missing"), dir, { recursive: true });
  mkdirSync(join(dir, "shared-files"));
  writeFileSync(join(dir, "shared-files", "sshd.conf"), "PermitRootLogin no\n");
  symlinkSync("../shared-files", join(dir, "base", "files"));
  t.same(validateRepo(fsRepo(dir)).problems, []);
});

t.test("every error at once: several broken files give all their errors", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tend-many-"));
  cpSync(join(root, "unknown-key"), dir, { recursive: true });
  cpSync(join(root, "exec-shell", "base"), join(dir, "other"), { recursive: true });
  writeFileSync(join(dir, "nodes.yaml"), '- name: "*"\n  recipes: [base, other]\n');
  const lines = validateRepo(fsRepo(dir)).problems.map(formatProblem);
  t.equal(lines.length, 2, lines.join("\n"));
  t.match(lines.join("\n"), /base\/recipe\.yaml:3:5/);
  t.match(lines.join("\n"), /other\/recipe\.yaml:2:11/);
});
