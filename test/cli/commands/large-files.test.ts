// Issue 15's rough edge: a 600 MB `source:` passed validate, then plan died building a string of
// it. Recipe files over the limit (64 MiB by default) are refused before they are read, with the
// resource's place, by validate, plan and apply alike.
import { existsSync, mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { tend } from "../../helpers/cli.js";

/** A repository whose `big` recipe copies files/big.bin (`size` bytes, sparse: no disk used). */
function repoWithFile(t: Test, size: number, how: "source" | "template" = "source"): string {
  const dir = mkdtempSync(join(tmpdir(), "tend-large-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, "big/files"), { recursive: true });
  mkdirSync(join(dir, "big/templates"), { recursive: true });
  writeFileSync(join(dir, "nodes.yaml"), '- name: "*"\n  recipes: [big]\n');
  const attr = how === "source" ? "source: files/big.bin" : "template: big.liquid";
  writeFileSync(
    join(dir, "big/recipe.yaml"),
    `description: a large file\nresources:\n  - file: /tmp/tend-large-test/motd\n    content: "hi\\n"\n  - file: /tmp/tend-large-test/big.bin\n    ${attr}\n`,
  );
  const path = how === "source" ? join(dir, "big/files/big.bin") : join(dir, "big/templates/big.liquid");
  writeFileSync(path, "");
  truncateSync(path, size);
  return dir;
}

const MB600 = 600 * 1024 * 1024;

t.test("validate refuses a 600 MB source with its place and the way out, without reading it", async (t) => {
  const dir = repoWithFile(t, MB600);
  const r = tend(["validate", dir]);
  t.equal(r.code, 1, r.stderr);
  t.match(
    r.stderr,
    /^big\/recipe\.yaml:6:\d+: resources\[1\]\.source: source "files\/big\.bin" \(big\/files\/big\.bin\) is 600\.0 MiB, over the 64\.0 MiB a recipe file may hold; serve a large artifact with an `archive` resource .*\[TEND_E_FILE_TOO_LARGE\]$/m,
  );
  t.notMatch(r.stderr, /\n\s+at |0x1fffffe8/, "no stack trace, no string overflow");
});

t.test("plan and apply refuse it the same way, and apply changes nothing", async (t) => {
  const dir = repoWithFile(t, MB600);
  for (const cmd of ["plan", "apply"]) {
    const state = mkdtempSync(join(tmpdir(), "tend-large-state-"));
    t.teardown(() => rmSync(state, { recursive: true, force: true }));
    const r = tend([cmd, dir, "--node", "web-1", "--state-dir", state]);
    t.not(r.code, 0, `${cmd} fails`);
    t.match(r.stderr, /big\/recipe\.yaml:6:\d+: .*600\.0 MiB.*\[TEND_E_FILE_TOO_LARGE\]/, cmd);
    t.notMatch(r.stderr, /\n\s+at |0x1fffffe8/, `${cmd}: no stack trace`);
  }
  t.notOk(existsSync("/tmp/tend-large-test"), "apply wrote nothing");
});

t.test("a large template is refused too", async (t) => {
  const dir = repoWithFile(t, 70 * 1024 * 1024, "template");
  const r = tend(["validate", dir]);
  t.equal(r.code, 1);
  t.match(
    r.stderr,
    /template "big\.liquid" \(big\/templates\/big\.liquid\) is 70\.0 MiB.*\[TEND_E_FILE_TOO_LARGE\]/,
  );
});

t.test("the limit is configurable: TEND_MAX_FILE_BYTES", async (t) => {
  const dir = repoWithFile(t, 3000);
  t.equal(tend(["validate", dir]).code, 0, "3000 bytes are fine by default");
  const low = tend(["validate", dir], { env: { TEND_MAX_FILE_BYTES: "2048" } });
  t.equal(low.code, 1);
  t.match(low.stderr, /is 2\.9 KiB, over the 2\.0 KiB a recipe file may hold/);
  t.equal(
    tend(["validate", dir], { env: { TEND_MAX_FILE_BYTES: "3000" } }).code,
    0,
    "a file at the limit passes",
  );
});
