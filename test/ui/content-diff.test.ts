/**
 * Issue 15: a file's content change reads as its diff on the dashboard (or, for a sensitive file,
 * as the note that says why it is hidden; for a binary one, that it is binary), in the changes
 * table where two bare sha256s stood. Real reports from `tend apply` of real files, posted to a real
 * server process, looked at in Debian's Chromium on the node page and the report page.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { goodRecipes, TestRepo } from "../helpers/server-git.js";
import { spawnServer, stop, tendServer } from "../helpers/server-process.js";
import { openBrowser } from "../helpers/ui-browser.js";
import { apply, post, recipeRepo } from "../helpers/ui-fleet.js";

const dir = mkdtempSync(join(tmpdir(), "tend-ui-content-"));
const repo = new TestRepo();
repo.commit(goodRecipes, "good recipes");
const config = join(dir, "server.yaml");
writeFileSync(
  config,
  `listen: 127.0.0.1:0\ndata_dir: ${join(dir, "data")}\nrecipes: { repo: ${repo.dir}, poll: "0" }\nlog_level: warn\n`,
);
const admin = (await tendServer(["token", "create", "--admin", "--config", config])).stdout.trim();
const enrol = (await tendServer(["token", "create", "--uses", "1", "--config", config])).stdout.trim();
const server = await spawnServer(config);
t.teardown(async () => {
  await stop(server);
  repo.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

// Three files converged, then each edited by hand and repaired: a text file, a secret (0600) and a
// binary file.
const managed = join(dir, "managed");
mkdirSync(managed);
const [conf, secret, bin] = [join(managed, "app.conf"), join(managed, "app.env"), join(managed, "logo.bin")];
const recipes = recipeRepo(
  join(dir, "recipes"),
  [
    `  - file: ${conf}`,
    '    content: "workers = 4\\nlisten = 8080\\n"',
    `  - file: ${secret}`,
    '    content: "API_KEY=wanted-secret-value\\n"',
    '    mode: "0600"',
    `  - file: ${bin}`,
    "    source: files/logo.bin",
    "",
  ].join("\n"),
);
mkdirSync(join(recipes, "main", "files"));
writeFileSync(
  join(recipes, "main", "files", "logo.bin"),
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 0xff]),
);
const state = join(dir, "state");
const { credential } = (await (
  await post(`${server.url}/api/v1/enroll`, { token: enrol, node: "files-1" })
).json()) as {
  credential: string;
};
await post(`${server.url}/api/v1/reports`, await apply(recipes, "files-1", state), credential);
writeFileSync(conf, "workers = 64\nlisten = 8080\n");
writeFileSync(secret, "API_KEY=hand-edited-secret\n", { mode: 0o600 });
writeFileSync(bin, Buffer.from([0x89, 0x50, 0x4e, 0x47, 9, 9, 9, 0xff]));
await post(`${server.url}/api/v1/reports`, await apply(recipes, "files-1", state), credential);

const b = await openBrowser();
t.teardown(() => b.close());
const { page } = b;

/** The content row of `path`'s resource in `scope`. */
const row = (scope: ReturnType<typeof page.locator>, path: string) =>
  scope.locator("article.resource", { hasText: path }).locator("table.changes tr.content");

async function checkRows(t: Test, scope: ReturnType<typeof page.locator>) {
  const text = row(scope, conf);
  t.same(
    (await text.locator("pre.diff .del").allTextContents()).map((l) => l.trimEnd()),
    ["-workers = 64"],
    "the text file's row holds its diff: the hand edit removed...",
  );
  t.same(
    (await text.locator("pre.diff .add").allTextContents()).map((l) => l.trimEnd()),
    ["+workers = 4"],
    "...and the wanted line added",
  );
  t.equal(await text.locator("td").first().textContent(), "content");
  t.match(await text.getAttribute("title"), /^sha256:[0-9a-f]{64} → sha256:[0-9a-f]{64}$/, "hashes on hover");
  t.equal(
    await scope.locator("article.resource", { hasText: conf }).locator("pre.diff").count(),
    1,
    "the diff is shown once",
  );
  t.match(
    await row(scope, secret).locator("p.note").textContent(),
    /^content hidden \(mode 0600 is not readable by others; sensitive: false shows it\)$/,
    "the secret's row says why its content is hidden",
  );
  t.equal(await row(scope, bin).locator("p.note").textContent(), "binary content differs");
  const tables = (await scope.locator("table.changes").allInnerTexts()).join("\n");
  t.notMatch(tables, /sha256:/, "no bare sha256 in any changes table");
  const all = await page.content();
  t.notMatch(
    all,
    /wanted-secret-value|hand-edited-secret/,
    "the secret's content appears nowhere in the page, attributes included",
  );
}

t.test("the node page shows file changes as diffs and notes, not hashes", async (t) => {
  await b.loginWithToken(server.url, admin);
  await page.goto(`${server.url}/ui/nodes/files-1`);
  const latest = page.locator("section", { hasText: "Latest report" });
  await checkRows(t, latest);
  await b.shot("content-diff-node");
});

t.test("the report page shows them the same way", async (t) => {
  await b.follow("table.reports tbody tr:first-child a");
  t.match(new URL(page.url()).pathname, /^\/ui\/reports\//);
  await checkRows(t, page.locator("main"));
  await b.shot("content-diff-report");
});

t.test("no page logged a console error or failed a request", async (t) => {
  t.same(b.problems, []);
});
