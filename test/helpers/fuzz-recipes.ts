/**
 * The recipe fuzzer (TRUST C4): hostile or broken commits as the server's git gate sees them.
 *
 * A case is a pure function of its 32-bit seed: a repository from the corpus (recipes/ and the
 * broken fixtures of test/fixtures/broken/), changed by one to four mutations — structure-aware
 * (the YAML value edited and dumped again, with shared nodes that come back as anchors and
 * aliases), hostile YAML text (alias bombs, tags, merge keys, duplicate keys, deep nesting, BOMs,
 * NUL bytes, invalid UTF-8, huge keys and lines), byte-level (flips, splices, truncation),
 * repository-level (files removed, recipes with odd names, symlinks, a recipe.yaml that is a
 * folder) and Liquid templates (deep nesting, recursion, huge loops).
 *
 * `runRecipeCase` runs what the gate runs on a commit — `escapingSymlinks`, `validateRepo` and a
 * compile of a few nodes with sample facts — on a `GitTree` built in memory, and classifies the
 * outcome. Hangs and memory blow-ups cannot be caught in-process: `FuzzRunner` runs cases in a
 * worker thread with a watchdog and a heap limit (see fuzz-worker.ts).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { dump, load } from "js-yaml";
import { stringify } from "yaml";
import { Compiler } from "../../core/compile.js";
import type { Problem } from "../../core/errors.js";
import { isTendError } from "../../core/errors.js";
import { sampleNodes, validateRepo } from "../../core/validate.js";
import { GitTree } from "../../server/git/tree.js";
import { sampleFacts } from "./facts.js";

// ---------------------------------------------------------------------------------------------
// Random numbers: a seeded generator, and a case's seed from the run's seed and the case's index.

export type Rng = () => number;

export function rngFrom(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function caseSeed(runSeed: number, index: number): number {
  let h = (Math.imul(runSeed >>> 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

const int = (rng: Rng, n: number) => Math.floor(rng() * n);
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[int(rng, xs.length)]!;

// ---------------------------------------------------------------------------------------------
// The corpus: small valid and broken repositories.

export interface Entry {
  path: string;
  symlink: boolean;
  data: Buffer;
}
export type Repo = Entry[];

const root = new URL("../../", import.meta.url).pathname;

function readRepo(dir: string, prefix = ""): Repo {
  const out: Repo = [];
  for (const name of readdirSync(join(dir, prefix)).sort()) {
    const rel = prefix ? `${prefix}/${name}` : name;
    if (!prefix && (name === "expect.txt" || name === "node.txt")) continue;
    const st = statSync(join(dir, rel));
    if (st.isDirectory()) out.push(...readRepo(dir, rel));
    else out.push({ path: rel, symlink: false, data: readFileSync(join(dir, rel)) });
  }
  return out;
}

/** A repository whose templates use partials, loops and filters: more for the template mutators. */
const partialsRepo: Repo = [
  { path: "nodes.yaml", text: '- name: "*"\n  recipes: [app]\n  vars: { n: 3, items: [a, b] }\n' },
  {
    path: "app/recipe.yaml",
    text: [
      "vars:",
      "  title: app",
      "  n: 2",
      "  env: { A: '1' }",
      "resources:",
      "  - file: /etc/app.conf",
      "    template: app.conf.liquid",
      '    mode: "0640"',
      "  - exec: /usr/bin/app --reload",
      "    refresh_only: true",
      "    require: [file:/etc/app.conf]",
      "  - user: app",
      "    home: /srv/app",
      "  - group: app",
      "  - service: app",
      "    notify: [exec:/usr/bin/app --reload]",
      "",
    ].join("\n"),
  },
  {
    path: "app/templates/app.conf.liquid",
    text: "{% render 'head.liquid', title: vars.title %}\n{% for i in (1..vars.n) %}{{ i }} {{ vars.items | join: ',' }}\n{% endfor %}{{ facts.os.id | upcase }}\n",
  },
  { path: "app/templates/head.liquid", text: "# {{ title }}\n" },
].map((e) => ({ path: e.path, symlink: false, data: Buffer.from(e.text) }));

let corpusCache: Repo[] | undefined;
export function corpus(): Repo[] {
  if (corpusCache) return corpusCache;
  const repos = [readRepo(join(root, "recipes")), partialsRepo];
  const broken = join(root, "test/fixtures/broken");
  for (const name of readdirSync(broken).sort()) repos.push(readRepo(join(broken, name)));
  corpusCache = repos;
  return repos;
}

// ---------------------------------------------------------------------------------------------
// Interesting values and hostile text.

const longString = (rng: Rng) => "x".repeat(pick(rng, [256, 4096, 4096, 70_000]));

function deepValue(rng: Rng): unknown {
  // Shallow enough for any stack: generating a case must not depend on the thread (deeper
  // nesting comes as text, from YAML_SNIPPETS).
  const depth = pick(rng, [64, 200]);
  let v: unknown = "leaf";
  for (let i = 0; i < depth; i++) v = rng() < 0.5 ? [v] : { k: v };
  return v;
}

/** A value shared by reference many times: js-yaml's dump writes it once with an anchor. */
function sharedValue(rng: Rng): unknown {
  let v: unknown = ["x", "x", "x"];
  // Dumped without references (or as JSON) it is written out whole: 3 × 8^levels items, so few
  // levels (alias bombs proper come as YAML text, from YAML_SNIPPETS).
  const levels = 1 + int(rng, 4);
  for (let i = 0; i < levels; i++) v = [v, v, v, v, v, v, v, v];
  return v;
}

const WEIRD_KEYS = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "<<",
  "0",
  "1e3",
  "",
  " ",
  "file",
  "exec",
  "package",
  "user",
  "group",
  "service",
  "require",
  "notify",
  "include",
  "vars",
  "resources",
  "content",
  "source",
  "template",
  "target",
  "mode",
  "ensure",
  "shell",
  "command",
  "env",
  "a\0b",
  "\ufeffkey",
  "k\u2028l",
  "\ud800",
];

// biome-ignore format: a table
const WEIRD_STRINGS = [
  "", " ", "\0", "\ufeff", "\ud800", "\udfff", "\u2028", "é", "💥", "\x1b[31m", "\r\n",
  "0644", "644", "0999", "-1", "1e309", "NaN", "~", "null", "yes", "no", "on", "true",
  "/", "//", "/etc/passwd", "../../etc/passwd", "..", ".", "a/../../b", "/tmp/../..", "C:\\x",
  "files/../../../etc/shadow", "templates/x.liquid", "motd.liquid", "index.html.liquid", "head.liquid",
  "file:/etc/motd", "package:", "service:ssh", "exec:", "user:root", "x:y",
  "base", "webserver", "app", "constructor", "__proto__", "toString", "a", "missing",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: template syntax is the point
  "{{ vars }}", "{% raw %}", "${HOME}", "$(id)", "`id`", "; touch /tmp/pwned #", "'unterminated", "\"x",
  "a\\", "*", "**", "{a,b}", "[a-", "web-*", "!web", "?", "[!a]", "{,,,,,,,,,,,,,,,,,,}",
  "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
];

export function junk(rng: Rng, depth = 0): unknown {
  const r = int(rng, 20);
  switch (r) {
    case 0:
      return null;
    case 1:
      return rng() < 0.5;
    case 2:
      return pick(rng, [0, -1, 1, 0o644, 644, 2 ** 53 + 1, 1e308, -0, 0.5, Number.NaN, Infinity]);
    case 3:
      return longString(rng);
    case 4:
      return deepValue(rng);
    case 5:
      return sharedValue(rng);
    case 6:
      return new Date(int(rng, 2 ** 40));
    case 7:
      return depth < 3 ? [junk(rng, depth + 1), junk(rng, depth + 1)] : [];
    case 8:
      return depth < 3 ? { [pick(rng, WEIRD_KEYS)]: junk(rng, depth + 1) } : {};
    case 9:
      return Object.fromEntries(Array.from({ length: pick(rng, [100, 1000]) }, (_, i) => [`k${i}`, i]));
    case 10:
      return Array.from({ length: pick(rng, [100, 2000]) }, (_, i) => `package:p${i}`);
    default:
      return pick(rng, WEIRD_STRINGS);
  }
}

/** Hostile YAML fragments, as lines to insert (indented to where they go). */
const YAML_SNIPPETS: ((rng: Rng) => string)[] = [
  // Billion laughs: each level nine aliases of the one before.
  (rng) => {
    const levels = 3 + int(rng, 7);
    const lines = ["bomb0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"];
    for (let i = 1; i <= levels; i++)
      lines.push(
        `bomb${i}: &l${i} [${Array(9)
          .fill(`*l${i - 1}`)
          .join(", ")}]`,
      );
    return lines.join("\n");
  },
  (rng) => `listen_port: &p ${pick(rng, ["[*p]", "80", "{a: 1}"])}\nother: *p`,
  () => "x: !!js/function 'function () { return process.exit(1) }'",
  () => "x: !!js/undefined ''",
  () => "x: !!js/regexp /a+$/",
  () => "x: !!python/object/apply:os.system ['id']",
  () => "x: !ruby/object:Gem::Installer\n  i: x",
  () => "x: !!binary aGVsbG8=",
  () => "x: !!set {a, b}",
  () => "x: !!omap [a: 1, b: 2]",
  () => "x: !!pairs [a: 1, a: 2]",
  () => "x: !!timestamp 2001-12-14t21:59:43.10-05:00",
  () => "x: !!float .nan",
  () => "x: !!int 0x7fffffffffffffffff",
  () => "x: !custom {a: 1}",
  () => "x: !<tag:yaml.org,2002:str> y",
  () => "base: &b {ensure: present}\nmerged:\n  <<: *b\n  <<: [*b, *b]",
  () => "<<: {file: /etc/x, content: x}",
  () => "<<: *undefined_anchor",
  () => "dup: 1\ndup: 2",
  () => "resources: []\nresources: [{package: x}]",
  () => "? [complex, key]\n: value",
  () => "? {a: 1}\n: value",
  () => "1: one\n2.5: two\n0x10: three\nnull: four\ntrue: five",
  (rng) => `${"k".repeat(pick(rng, [1025, 70_000]))}: v`,
  (rng) => `x: ${"[".repeat(pick(rng, [100, 1000, 10_000, 300_000]))}`,
  (rng) => {
    const n = pick(rng, [100, 1000, 5000]);
    return `x: ${"[".repeat(n)}1${"]".repeat(n)}`;
  },
  (rng) => {
    const n = pick(rng, [50, 300]);
    return Array.from({ length: n }, (_, i) => `${"  ".repeat(i)}k${i}:`).join("\n");
  },
  (rng) => `x: ${"y".repeat(pick(rng, [10_000, 500_000]))}`,
  (rng) => `x: "${"\\u0000".repeat(pick(rng, [1, 1000]))}"`,
  () => "x: '\0'",
  () => "%YAML 1.1\n---\nx: 1",
  () => "%TAG ! tag:evil.example,2000:\n---\nx: !f 1",
  () => "---\na: 1\n---\nb: 2",
  () => "...\n",
  () => "x: |\n  literal\n y: bad",
  () => "x: >-\n\tTab",
  () => "\tx: tab-indented",
  () => "x: *",
  () => "&a x: 1",
  () => "x: &a\ny: *a",
  () => "x: @reserved",
  () => "x: `reserved`",
  () => "- item at the wrong level",
  () => "x: {a: 1, a: 2}",
  () => "x: [a, b",
  () => "x: 'unterminated",
  () => 'x: "\\xZZ"',
  () => "x: 2001-12-14",
  () => "x: 0644",
  () => "x: 0o644",
  () => "x: ~",
  () => "x: =",
  () => "include: [1, 0x10, 1e3, true, null]",
  () => "include: [constructor, __proto__, toString, hasOwnProperty]",
  () => "recipes: [constructor, __proto__, toString]",
  () => "vars: {__proto__: {polluted: 1}, constructor: {prototype: {polluted: 1}}}",
  () => "facts: {__proto__.x: 1, constructor.name: Object, os.id: debian, hostname.length: 5}",
  (rng) => `name: "${pick(rng, WEIRD_STRINGS)}"`,
  (rng) => `name: "${"{a,b}".repeat(pick(rng, [10, 40, 2000]))}"`,
  (rng) => `name: "${"*".repeat(pick(rng, [1000, 70_000]))}"`,
  (rng) => `name: "${"[a-z]".repeat(pick(rng, [100, 20_000]))}"`,
  (rng) => `name: "${"?".repeat(pick(rng, [300, 70_000]))}"`,
  () => "name: '+(a|b)*(c)@(d)!(e)'",
  () => "name: '((((((((((a))))))))))*'",
  () => "template: '../../../../etc/passwd'",
  () => "source: '/etc/shadow'",
  () => "source: 'files/\\0x'",
  () => "template: 'head.liquid/'",
  () => "template: 'templates'",
  () => "mode: 0644",
  () => "mode: '7777'",
  () => "command: ['']",
  () => "command: []",
  () => "shell: true\ncommand: 'echo $(id)'",
  () => 'unless: "\'"',
  () => "require: [file:/etc/motd, file:/etc/motd, 'file:']",
  () => "notify: [service:ssh]",
  () => "env: {A: {b: 1}}",
];

/** Hostile Liquid, for templates. */
const LIQUID_SNIPPETS: ((rng: Rng) => string)[] = [
  (rng) => {
    const n = pick(rng, [100, 2000, 20_000]);
    return `${"{% if true %}".repeat(n)}x${"{% endif %}".repeat(n)}`;
  },
  (rng) => `${"{% if true %}".repeat(pick(rng, [10, 5000]))}`,
  () => "{% for i in (1..100000000) %}{{ i }}{% endfor %}",
  () => "{% for i in (1..10000) %}{% for j in (1..10000) %}x{% endfor %}{% endfor %}",
  () => "{% for i in (1..1000000) %}{% endfor %}",
  () => "{% render 'app.conf.liquid' %}",
  () => "{% render 'head.liquid' %}{% render 'head.liquid' %}",
  () => "{% include 'motd.liquid' %}",
  () => "{% layout 'motd.liquid' %}",
  () => "{% render '../../nodes.yaml' %}",
  () => "{% render '/etc/passwd' %}",
  () => "{% render vars.title %}",
  () => "{{ vars }}{{ facts }}{{ node }}",
  () => "{{ vars | json }}",
  () => "{{ vars.bomb0 | join: ',' }}",
  () => "{% assign s = 'x' %}{% for i in (1..30) %}{% assign s = s | append: s %}{% endfor %}{{ s | size }}",
  () => "{{ 'x' | append: 'x' | append: 'x' }}{{ '' | split: '' | size }}",
  () => "{{ vars.title | replace: '', 'yyyyyyyy' }}",
  () => "{{ 'a' | prepend: vars }}",
  () => "{{ facts.os.id | date: '%Y' }}",
  () => "{{ 1 | divided_by: 0 }}{{ 1 | modulo: 0 }}",
  () => "{{ 9999999999999999999 | times: 9999999999999999999 }}",
  () => "{{ undefined_thing }}",
  () => "{{ vars.nope.deeper }}",
  () => "{{ x | no_such_filter }}",
  () => "{% no_such_tag %}",
  () => "{% raw %}unclosed",
  () => "{% comment %}unclosed",
  () => "{{ unclosed",
  () => "{% liquid\n assign x = 1\n echo x\n %}",
  () => "{% increment c %}{% decrement c %}{% cycle 'a','b' %}",
  () => "{% tablerow i in (1..100000) %}{{ i }}{% endtablerow %}",
  () => "{% capture c %}{% for i in (1..1000) %}{{ vars }}{% endfor %}{% endcapture %}{{ c | size }}",
  () => "{{ vars['__proto__'] }}{{ vars.constructor }}{{ facts.constructor.name }}",
  () => "{{ 'x' | truncate: -1 }}{{ 'x' | slice: 99999999999, -3 }}",
  () => "{% case x %}{% when 1 %}{% else %}{% endcase %}",
  () => "{%- -%}{{- -}}",
  () => "\0\ufffd\ud800",
];

// ---------------------------------------------------------------------------------------------
// Mutations.

const isYaml = (p: string) => /\.ya?ml$/.test(p);
const isTemplate = (p: string) => p.includes("/templates/");

function randomFile(rng: Rng, repo: Repo, want?: (p: string) => boolean): Entry | undefined {
  const files = repo.filter((e) => !e.symlink && (!want || want(e.path)));
  return files.length ? pick(rng, files) : undefined;
}

/** Walk to a random node of a parsed YAML value; returns its parent and key. */
function randomSpot(
  rng: Rng,
  value: unknown,
): { parent: Record<string | number, unknown>; key: string | number } | undefined {
  let parent: Record<string | number, unknown> | undefined;
  let key: string | number | undefined;
  let cur = value;
  for (let d = 0; d < 8; d++) {
    if (cur === null || typeof cur !== "object" || cur instanceof Date) break;
    const keys: (string | number)[] = Array.isArray(cur) ? cur.map((_, i) => i) : Object.keys(cur);
    if (!keys.length) break;
    parent = cur as Record<string | number, unknown>;
    key = pick(rng, keys);
    cur = parent[key];
    if (rng() < 0.3) break;
  }
  return parent && key !== undefined ? { parent, key } : undefined;
}

function mutateValue(rng: Rng, value: unknown): unknown {
  if (value === null || typeof value !== "object")
    return rng() < 0.5 ? junk(rng) : { resources: [junk(rng)] };
  const spot = randomSpot(rng, value);
  if (!spot) return value;
  const { parent, key } = spot;
  const r = int(rng, 8);
  if (r === 0) {
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else delete parent[key];
  } else if (r <= 2) parent[key] = junk(rng);
  else if (r === 3 && !Array.isArray(parent)) parent[pick(rng, WEIRD_KEYS)] = junk(rng);
  else if (r === 4 && Array.isArray(parent)) {
    // The same node twice (dumped as an anchor and an alias), or many times.
    const n = pick(rng, [2, 50, 500]);
    for (let i = 0; i < n; i++) parent.push(parent[Number(key)]);
  } else if (r === 5) {
    // Another part of the file moved here: a string where a list was, a resource as a var...
    const other = randomSpot(rng, value);
    // A copy: the part may be an ancestor of this spot, and a cycle cannot be dumped.
    // (A loaded `&a [*a]` is itself a cycle: JSON.stringify throws, and the spot stays.)
    try {
      if (other) parent[key] = JSON.parse(JSON.stringify(other.parent[other.key]) ?? "null");
    } catch {}
  } else if (r === 6) {
    const v = parent[key];
    parent[key] =
      typeof v === "string"
        ? rng() < 0.5
          ? Number(v.length)
          : [v]
        : typeof v === "number"
          ? String(v)
          : v === null
            ? {}
            : JSON.stringify(v);
  } else parent[key] = pick(rng, WEIRD_STRINGS);
  return value;
}

function dumpValue(rng: Rng, value: unknown): string {
  const how = int(rng, 4);
  try {
    if (how === 0) return stringify(value, { aliasDuplicateObjects: true, lineWidth: 0 });
    if (how === 1) return JSON.stringify(value) ?? "null";
    return dump(value, { skipInvalid: true, lineWidth: -1, noRefs: how === 3 });
  } catch {
    try {
      return dump(value, { skipInvalid: true, noRefs: true });
    } catch {
      return "{}";
    }
  }
}

function insertLines(rng: Rng, text: string, snippet: string): string {
  const lines = text.split("\n");
  const at = int(rng, lines.length + 1);
  const near = lines[Math.min(at, lines.length - 1)] ?? "";
  const indent = rng() < 0.7 ? (/^[ -]*/.exec(near)?.[0] ?? "").replace(/-/g, " ") : "";
  const add = snippet.split("\n").map((l) => indent + l);
  if (rng() < 0.3 && at < lines.length) lines.splice(at, 1, ...add);
  else lines.splice(at, 0, ...add);
  return lines.join("\n");
}

/** Replace the value after a random `key:` with a hostile scalar or flow node. */
function replaceScalar(rng: Rng, text: string): string {
  const lines = text.split("\n");
  const candidates = lines.map((l, i) => (/:\s*\S/.test(l) ? i : -1)).filter((i) => i >= 0);
  if (!candidates.length) return text;
  const i = pick(rng, candidates);
  const line = lines[i]!;
  const colon = line.indexOf(":");
  const v = pick(rng, [
    ...WEIRD_STRINGS.map((s) => JSON.stringify(s)),
    "*l9",
    "&a [*a]",
    "!!binary AAAA",
    "!!js/function 'f'",
    "[*]",
    "{",
    "[]",
    "{}",
    "null",
    "0644",
    "-",
    "|",
    "'' ''",
    "@",
  ]);
  lines[i] = `${line.slice(0, colon + 1)} ${v}`;
  return lines.join("\n");
}

function byteMutate(rng: Rng, data: Buffer, donor: Buffer): Buffer {
  const b = Buffer.from(data);
  const pos = () => int(rng, b.length + 1);
  switch (int(rng, 9)) {
    case 0: {
      if (!b.length) return Buffer.from([0]);
      for (let i = 0; i < 1 + int(rng, 8); i++) {
        const p = int(rng, b.length);
        b[p] = b[p]! ^ (1 << int(rng, 8));
      }
      return b;
    }
    case 1: {
      const bytes = pick(rng, [
        [0],
        [0xff],
        [0xfe, 0xff],
        [0xef, 0xbb, 0xbf],
        [0xc3],
        [0xed, 0xa0, 0x80],
        [0xf4, 0x90, 0x80, 0x80],
        [0x0d],
        [0x09],
        [0x85],
        [0xe2, 0x80, 0xa8],
        [0x1b],
      ]);
      const p = pos();
      return Buffer.concat([b.subarray(0, p), Buffer.from(bytes), b.subarray(p)]);
    }
    case 2: {
      const p = pos();
      return Buffer.concat([b.subarray(0, p), b.subarray(p + 1 + int(rng, 64))]);
    }
    case 3:
      return b.subarray(0, pos());
    case 4: {
      const p = pos();
      const q = Math.min(b.length, p + int(rng, 200));
      const times = pick(rng, [2, 10, 100]);
      return Buffer.concat([b.subarray(0, q), ...Array(times).fill(b.subarray(p, q)), b.subarray(q)]);
    }
    case 5: {
      const p = pos();
      const s = int(rng, donor.length + 1);
      return Buffer.concat([b.subarray(0, p), donor.subarray(s, s + int(rng, 300)), b.subarray(p)]);
    }
    case 6:
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), b]);
    case 7:
      return Buffer.from(b.toString("latin1").replace(/\n/g, "\r\n"), "latin1");
    default: {
      const p = pos();
      const n = pick(rng, [16, 4096, 65_536]);
      return Buffer.concat([
        b.subarray(0, p),
        Buffer.alloc(n, pick(rng, [0, 0x20, 0x2d, 0x7b, 0x5b, 0x26, 0x2a])),
        b.subarray(p),
      ]);
    }
  }
}

const RECIPE_NAMES = [
  "constructor",
  "__proto__",
  "toString",
  "0",
  "123",
  "a b",
  "é",
  "-x",
  "x-",
  "UPPER",
  "templates",
  "recipe.yaml",
  "a\nb",
  "a\\b",
  "💥",
  "x".repeat(300),
];

function repoMutate(rng: Rng, repo: Repo): Repo {
  const r = int(rng, 10);
  const recipes = [
    ...new Set(repo.filter((e) => e.path.endsWith("/recipe.yaml")).map((e) => e.path.split("/")[0]!)),
  ];
  if (r === 0 && repo.length > 1) {
    const victim = pick(rng, repo);
    return repo.filter((e) => e !== victim);
  }
  if (r === 1) {
    const name = pick(rng, RECIPE_NAMES);
    const src = randomFile(rng, repo, (p) => p.endsWith("recipe.yaml"));
    return [
      ...repo,
      { path: `${name}/recipe.yaml`, symlink: false, data: src?.data ?? Buffer.from("resources: []\n") },
    ];
  }
  if (r === 2) {
    // A symlink: out of the repository, into it, to itself, or where a file should be.
    const target = pick(rng, ["/etc/passwd", "../../../etc", "..", ".", "base", "base/recipe.yaml", "x", ""]);
    const at = pick(rng, [
      "base/files",
      "base/files/sshd-hardening.conf",
      "base/templates",
      "base/templates/motd.liquid",
      "base/recipe.yaml",
      "nodes.yaml",
      "webserver",
      "app/templates/head.liquid",
      "loop/recipe.yaml",
    ]);
    return [
      ...repo.filter((e) => e.path !== at && !e.path.startsWith(`${at}/`)),
      { path: at, symlink: true, data: Buffer.from(target) },
    ];
  }
  if (r === 3 && recipes.length) {
    // recipe.yaml or nodes.yaml as a folder.
    const name = rng() < 0.5 ? `${pick(rng, recipes)}/recipe.yaml` : "nodes.yaml";
    return [
      ...repo.filter((e) => e.path !== name),
      { path: `${name}/x`, symlink: false, data: Buffer.from("x") },
    ];
  }
  if (r === 4 && recipes.length) {
    const name = pick(rng, recipes);
    const to = pick(rng, RECIPE_NAMES);
    return repo.map((e) =>
      e.path.startsWith(`${name}/`) ? { ...e, path: to + e.path.slice(name.length) } : e,
    );
  }
  if (r === 5) {
    // Many recipes including each other, or a long chain.
    const n = pick(rng, [50, 500]);
    const out = [...repo];
    for (let i = 0; i < n; i++)
      out.push({
        path: `r${i}/recipe.yaml`,
        symlink: false,
        data: Buffer.from(
          `include: [r${(i + 1) % (rng() < 0.5 ? n : n + 1)}]\nresources:\n  - package: p${i}\n`,
        ),
      });
    out.push({ path: "nodes.yaml", symlink: false, data: Buffer.from(`- name: "*"\n  recipes: [r0]\n`) });
    return dedupe(out);
  }
  if (r === 6) {
    // Many resources in one recipe, each requiring the one before (a long chain), or all one.
    const n = pick(rng, [200, 3000]);
    const lines = ["resources:"];
    for (let i = 0; i < n; i++)
      lines.push(`  - package: p${i}`, `    require: [package:p${rng() < 0.9 ? Math.max(0, i - 1) : n - 1}]`);
    return dedupe([
      ...repo,
      { path: "big/recipe.yaml", symlink: false, data: Buffer.from(lines.join("\n")) },
      { path: "nodes.yaml", symlink: false, data: Buffer.from('- name: "*"\n  recipes: [big]\n') },
    ]);
  }
  if (r === 7) {
    const t = randomFile(rng, repo, isTemplate);
    const name = pick(rng, ["x.liquid", "deep/er/x.liquid", "é.liquid", "a b.liquid", ".liquid", "x"]);
    const dir = t ? t.path.slice(0, t.path.indexOf("/templates/") + 11) : "base/templates/";
    return [
      ...repo,
      { path: dir + name, symlink: false, data: Buffer.from(pick(rng, LIQUID_SNIPPETS)(rng)) },
    ];
  }
  if (r === 8) {
    // Binary garbage as a whole file.
    const f = randomFile(rng, repo);
    if (!f) return repo;
    const n = pick(rng, [0, 1, 64, 4096]);
    const data = Buffer.alloc(n);
    for (let i = 0; i < n; i++) data[i] = int(rng, 256);
    return repo.map((e) => (e === f ? { ...e, data } : e));
  }
  // A nodes.yaml written from scratch.
  const rules = Array.from({ length: 1 + int(rng, 4) }, () => ({
    ...(rng() < 0.8 ? { name: pick(rng, WEIRD_STRINGS) } : {}),
    ...(rng() < 0.3
      ? {
          facts: {
            [pick(rng, ["os.id", "__proto__", "constructor.name", "ipv4.0", "os..id", ""])]: pick(rng, [
              "debian",
              1,
              true,
            ]),
          },
        }
      : {}),
    recipes: rng() < 0.8 ? [pick(rng, [...recipes, ...RECIPE_NAMES, "missing"])] : junk(rng),
    ...(rng() < 0.3 ? { vars: junk(rng) } : {}),
  }));
  return dedupe([...repo, { path: "nodes.yaml", symlink: false, data: Buffer.from(dumpValue(rng, rules)) }]);
}

/** The last entry for each path wins (a commit has one of each). */
function dedupe(repo: Repo): Repo {
  const m = new Map<string, Entry>();
  for (const e of repo) m.set(e.path, e);
  return [...m.values()];
}

const MUTATION_NAMES = [
  "yaml-value",
  "yaml-value",
  "yaml-snippet",
  "yaml-snippet",
  "yaml-scalar",
  "bytes",
  "bytes",
  "liquid",
  "repo",
  "repo",
];

function mutateOnce(rng: Rng, repo: Repo, labels: string[]): Repo {
  const kind = int(rng, 10);
  labels.push(MUTATION_NAMES[kind]!);
  if (kind >= 8) return repoMutate(rng, repo);
  const want = kind === 7 ? isTemplate : kind <= 4 ? isYaml : undefined;
  const f = randomFile(rng, repo, want) ?? randomFile(rng, repo);
  if (!f) return repoMutate(rng, repo);
  let data: Buffer;
  const text = f.data.toString("utf8");
  if (kind <= 1) {
    let value: unknown;
    try {
      value = load(text);
    } catch {
      value = undefined;
    }
    data = Buffer.from(dumpValue(rng, mutateValue(rng, value ?? {})));
  } else if (kind <= 3) data = Buffer.from(insertLines(rng, text, pick(rng, YAML_SNIPPETS)(rng)));
  else if (kind === 4) data = Buffer.from(replaceScalar(rng, text));
  else if (kind === 7) data = Buffer.from(insertLines(rng, text, pick(rng, LIQUID_SNIPPETS)(rng)));
  else data = byteMutate(rng, f.data, (randomFile(rng, repo) ?? f).data);
  return repo.map((e) => (e === f ? { ...e, data } : e));
}

export const MAX_FILE = 1 << 20;

/** The repository of case `seed` (deterministic), and the names of the mutations that made it. */
export function generateRepo(seed: number, maxFile = MAX_FILE): Repo & { labels?: string[] } {
  const rng = rngFrom(seed);
  const base = corpus();
  let repo = pick(rng, base).map((e) => ({ ...e }));
  const labels: string[] = [];
  const n = 1 + int(rng, 4);
  for (let i = 0; i < n; i++) {
    try {
      repo = mutateOnce(rng, repo, labels);
    } catch {
      // A mutator that cannot handle its input (a bug in the fuzzer, not in tend): skip it.
      labels.push("skipped");
    }
    // Big files are hostile too, but a few of them would take all of a run's time (the YAML
    // parsers take seconds per 10 MiB): cut at maxFile.
    repo = repo.map((e) => (e.data.length > maxFile ? { ...e, data: e.data.subarray(0, maxFile) } : e));
  }
  return Object.assign(repo, { labels });
}

// ---------------------------------------------------------------------------------------------
// Running a case and judging its outcome.

export type OutcomeKind =
  | "ok" // the repository compiles
  | "user-error" // located, coded problems only
  | "crash" // an exception that is not a located TendError escaped
  | "leak" // a problem's message carries an internal error (TypeError, a stack...)
  | "unlocated" // a problem without a file
  | "slow" // over the slow threshold, but finished
  | "hang" // over the time budget: the worker was stopped
  | "oom"; // over the heap or RSS budget

export const GOOD_KINDS: ReadonlySet<OutcomeKind> = new Set(["ok", "user-error"]);

export interface Outcome {
  kind: OutcomeKind;
  /** For findings: what happened, first line. */
  detail?: string;
  /** For crashes: the stack. */
  stack?: string;
  problems: number;
  ms: number;
}

const INTERNAL =
  /\bat .*\.(ts|js|mjs|cjs):\d+|\b(TypeError|RangeError|ReferenceError|SyntaxError|InternalError)\b|Cannot read prop|is not a function|is not iterable|Maximum call stack|undefined is not/;

/** What the git gate does with a commit: symlinks, the validator, and compiles for a few nodes. */
export function runRepo(repo: Repo): Problem[] {
  const tree = new GitTree("commit fuzz", repo);
  const compiler = new Compiler(tree);
  const problems: Problem[] = [...tree.escapingSymlinks()];
  const v = validateRepo(tree, compiler);
  problems.push(...v.problems);
  const rules = compiler.loader.loadNodes().data ?? [];
  const nodes = new Set(["web-1", "db-1", ...sampleNodes(rules).slice(0, 3)]);
  for (const node of nodes)
    problems.push(
      ...compiler.compile(node, sampleFacts({ hostname: node }), { commit: "0".repeat(40) }).problems,
    );
  return problems;
}

export function judge(problems: Problem[], ms: number, slowMs: number): Outcome {
  for (const p of problems) {
    if (typeof p.message !== "string" || !/^TEND_E_[A-Z_]+$/.test(String(p.code)) || INTERNAL.test(p.message))
      return {
        kind: "leak",
        detail: `${p.code}: ${String(p.message).slice(0, 300)}`,
        problems: problems.length,
        ms,
      };
  }
  for (const p of problems) {
    // A node-name problem is about the node, not a file; every other problem names its file.
    if (!p.file && p.code !== "TEND_E_NODE_NAME")
      return {
        kind: "unlocated",
        detail: `${p.code}: ${p.message.slice(0, 300)}`,
        problems: problems.length,
        ms,
      };
  }
  if (ms > slowMs) return { kind: "slow", detail: `${Math.round(ms)} ms`, problems: problems.length, ms };
  return { kind: problems.length ? "user-error" : "ok", problems: problems.length, ms };
}

export function runRecipeCase(seed: number, slowMs = 2000, maxFile = MAX_FILE): Outcome {
  const repo = generateRepo(seed, maxFile);
  const start = performance.now();
  let problems: Problem[];
  try {
    problems = runRepo(repo);
  } catch (err) {
    const ms = performance.now() - start;
    if (isTendError(err) && err.problems.length && err.problems.every((p) => p.file))
      return judge(err.problems, ms, slowMs);
    const e = err as Error;
    return {
      kind: "crash",
      detail: `${e?.name ?? typeof err}: ${String(e?.message ?? err)
        .split("\n")[0]!
        .slice(0, 300)}`,
      stack: String(e?.stack ?? err).slice(0, 4000),
      problems: 0,
      ms,
    };
  }
  return judge(problems, performance.now() - start, slowMs);
}

/** A short signature of a finding, to group many cases with the same cause. */
export function signature(
  kind: OutcomeKind,
  o: { detail?: string; stack?: string; labels?: string[] },
): string {
  if (kind === "slow" || kind === "hang" || kind === "oom")
    return `${kind} [${[...new Set(o.labels ?? [])].sort().join(",")}]`;
  const frame = /\n\s+at [^\n]*?([\w.-]+\.(?:ts|js|mjs|cjs)):\d+/.exec(o.stack ?? "")?.[1] ?? "";
  const text = (o.detail ?? "")
    .replace(/\d+/g, "N")
    .replace(/"[^"]*"/g, '"…"')
    .slice(0, 90);
  return `${kind}: ${text}${frame ? ` @${frame}` : ""}`;
}
