/** The fleet search language's parser: trees for good searches, located errors with hints for bad ones. */
import t, { type Test } from "tap";
import { parseSearch, SearchError } from "../../../server/search/parse.js";

const lit = (text: string, quoted = false) => ({ text, quoted });

t.test("the issue's examples parse into terms", async (t) => {
  t.same(parseSearch("os.version_id = 12"), { t: "fact", path: "os.version_id", op: "=", value: lit("12") });
  t.same(parseSearch("package:nginx failed"), {
    t: "resource",
    kind: "package",
    title: "nginx",
    glob: false,
    state: "failed",
  });
  t.same(parseSearch("file:/etc/nginx/nginx.conf drifted"), {
    t: "resource",
    kind: "file",
    title: "/etc/nginx/nginx.conf",
    glob: false,
    state: "drifted",
  });
  t.same(parseSearch("commit != live"), { t: "field", field: "commit", op: "!=", value: lit("live") });
  t.same(parseSearch("stale"), { t: "flag", flag: "stale" });
  t.same(parseSearch("FAILING"), { t: "flag", flag: "failing" });
});

t.test("not binds tighter than and, and tighter than or; parentheses group", async (t) => {
  const a = { t: "flag", flag: "stale" };
  const b = { t: "flag", flag: "failing" };
  const c = { t: "flag", flag: "drifted" };
  t.same(parseSearch("stale or failing and drifted"), { t: "or", a, b: { t: "and", a: b, b: c } });
  t.same(parseSearch("(stale or failing) and not drifted"), {
    t: "and",
    a: { t: "or", a, b },
    b: { t: "not", a: c },
  });
  t.same(parseSearch("not not stale"), { t: "not", a: { t: "not", a } });
});

t.test("values: quoted text stays text, globs, every operator, resources with spaces", async (t) => {
  t.same(parseSearch('os.version_id = "12"'), {
    t: "fact",
    path: "os.version_id",
    op: "=",
    value: lit("12", true),
  });
  t.same(parseSearch("os.name ~ 'Debian GNU*'"), {
    t: "fact",
    path: "os.name",
    op: "~",
    value: lit("Debian GNU*", true),
  });
  for (const op of ["=", "!=", "<", ">", "<=", ">=", "~", "!~"])
    t.equal((parseSearch(`memory_mb${op}512`) as { op: string }).op, op, op);
  t.same(parseSearch('"file:/srv/my site/index.html" changed'), {
    t: "resource",
    kind: "file",
    title: "/srv/my site/index.html",
    glob: false,
    state: "changed",
  });
  t.equal((parseSearch("package:lib* failed") as { glob: boolean }).glob, true);
  t.same(parseSearch("name ~ web-*"), { t: "field", field: "name", op: "~", value: lit("web-*") });
  t.same(parseSearch("commit = 0a1b2c3"), { t: "field", field: "commit", op: "=", value: lit("0a1b2c3") });
  t.same(parseSearch("status = none"), { t: "field", field: "status", op: "=", value: lit("none") });
});

/** The error's column (1-based) and that its message holds `words`. */
function fails(t: Test, q: string, column: number, words: RegExp) {
  try {
    parseSearch(q);
    t.fail(`${q} parsed`);
  } catch (err) {
    t.type(err, SearchError, q);
    const e = err as SearchError;
    t.equal(e.code, "TEND_E_SEARCH", q);
    t.equal(e.position + 1, column, `${q}: column`);
    t.match(e.message, words, `${q}: message`);
    t.match(e.message, `at column ${column}`, `${q}: message names the column`);
    t.notMatch(e.message, /\n\s+at /, `${q}: no stack in the message`);
  }
}

t.test("mistakes name the column and how to fix them", async (t) => {
  fails(t, "package:nginx", 14, /expected a state after "package:nginx".*changed, failed, drifted/);
  fails(t, "package:nginx unchanged", 15, /cannot be searched/);
  fails(t, "package:nginx broken", 15, /found "broken"/);
  fails(t, "os.version_id 12", 15, /expected an operator after "os.version_id".*os.version_id = VALUE/);
  fails(t, "os.version_id =", 16, /expected a value after "=" but found the end/);
  fails(t, "stale and", 10, /ends where a term was expected/);
  fails(t, "stale failing", 7, /"failing" follows a complete term.*"and" or "or"/);
  fails(t, "(stale or failing", 18, /expected "\)"/);
  fails(t, "stale)", 6, /unmatched "\)"/);
  fails(t, "os.name = 'Debian", 11, /unclosed quote/);
  fails(t, "memory_mb => 5", 12, /expected a value after "=" but found ">"/);
  fails(t, "commit = main", 10, /"main" is not a commit.*live/);
  fails(t, "commit > live", 8, /commit cannot be compared with >/);
  fails(t, "status = broken", 10, /not a run status/);
  fails(t, "name < b", 6, /name cannot be compared with </);
  fails(t, "and stale", 1, /"and" where a term was expected/);
  fails(t, "", 1, /ends where a term was expected/);
  fails(t, "hello", 6, /expected an operator after "hello"/);
  fails(t, "@home", 1, /"@home" is not a term/);
  fails(t, "os..id = 1", 1, /not a fact path/);
  fails(t, "os.name ~ ''", 11, /empty pattern/);
});

t.test("a search is bounded", async (t) => {
  fails(t, "x".repeat(3000), 1, /too long/);
  fails(t, Array.from({ length: 70 }, () => "stale").join(" or "), 64 * 9 + 1, /too many terms/);
});

t.test("the caret points under the mistake", async (t) => {
  try {
    parseSearch("stale and package:nginx");
  } catch (err) {
    const lines = (err as Error).message.split("\n");
    t.equal(lines[1], "  stale and package:nginx");
    t.equal(lines[2], `  ${" ".repeat(23)}^`);
  }
});
