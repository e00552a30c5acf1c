// The compiler on good repositories: classification and vars precedence, includes, ordering and
// implicit edges, duplicates that merge, content by sha256, and byte-identical output.
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import t from "tap";
import { fsRepo } from "../../agent/repo-fs.js";
import { canonicalJson } from "../../core/canonical.js";
import { Compiler, compile } from "../../core/compile.js";
import { sha256 } from "../../core/hash.js";
import { isValid } from "../../core/schema.js";
import type { Catalog } from "../../core/types.js";
import { sampleFacts } from "../helpers/facts.js";

function repo(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "tend-compile-"));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

function build(dir: string, node: string, facts = sampleFacts()): Catalog {
  const { catalog, problems } = compile(fsRepo(dir), node, facts);
  if (!catalog) throw new Error(problems.map((p) => p.message).join("\n"));
  return catalog;
}

const text = (c: Catalog, id: string) => {
  const sha = c.resources.find((r) => r.id === id)?.params.content_sha256 as string;
  return c.files[sha]?.text;
};

t.test("vars: recipe defaults < matching rules in order; non-matching rules add nothing", async (t) => {
  const dir = repo({
    "nodes.yaml": `
- name: "*"
  recipes: [app]
- name: "web-*"
  vars: { port: 8080, tier: web }
- facts: { os.id: debian, cpus: 2 }
  vars: { distro: debian }
- facts: { os.id: alpine }
  vars: { distro: alpine }
- name: web-1
  vars: { port: 9090 }
`,
    "app/recipe.yaml": `
vars: { port: 80, tier: none, distro: unknown, nested: { a: 1, b: 2 } }
resources:
  - file: /etc/app.conf
    template: app.conf.liquid
`,
    "app/templates/app.conf.liquid":
      "{{ node }} {{ vars.port }} {{ vars.tier }} {{ vars.distro }} {{ vars.nested.a }}{{ vars.nested.b }}\n",
  });
  t.equal(text(build(dir, "web-1"), "file:/etc/app.conf"), "web-1 9090 web debian 12\n");
  t.equal(text(build(dir, "web-2"), "file:/etc/app.conf"), "web-2 8080 web debian 12\n");
  t.equal(text(build(dir, "db-1"), "file:/etc/app.conf"), "db-1 80 none debian 12\n");
  const alpine = sampleFacts({ os: { id: "alpine", version_id: "3.19", family: "alpine" } });
  t.equal(text(build(dir, "db-1", alpine), "file:/etc/app.conf"), "db-1 80 none alpine 12\n");
});

t.test("facts in templates are data: template syntax inside a fact is output verbatim", async (t) => {
  const dir = repo({
    "nodes.yaml": '- name: "*"\n  recipes: [a]\n',
    "a/recipe.yaml": "resources:\n  - file: /etc/x\n    template: x.liquid\n",
    "a/templates/x.liquid": "{{ facts.hostname }}\n",
  });
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the point is a literal ${x} in a fact
  const evil = "{{ 7 | times: 6 }}{% raw %}${x}$(id)`id`<%= 1 %>";
  t.equal(text(build(dir, "n1", sampleFacts({ hostname: evil })), "file:/etc/x"), `${evil}\n`);
});

t.test("a template used by several resources renders the same for each; counters do not leak", async (t) => {
  const dir = repo({
    "nodes.yaml": '- name: "*"\n  recipes: [a]\n',
    "a/recipe.yaml":
      "resources:\n  - file: /etc/x\n    template: x.liquid\n  - file: /etc/y\n    template: x.liquid\n  - file: /etc/z\n    template: z.liquid\n",
    "a/templates/x.liquid": "{% increment n %} {{ node }}\n",
    "a/templates/z.liquid": "{% increment n %}\n",
  });
  const c = build(dir, "n1");
  t.equal(text(c, "file:/etc/x"), "0 n1\n");
  t.equal(text(c, "file:/etc/y"), "0 n1\n");
  t.equal(text(c, "file:/etc/z"), "0\n", "another template starts from its own zero");
  t.equal(Object.keys(c.files).length, 2);
});

t.test("the date filter names months and days in English whatever the machine's locale", async (t) => {
  const dir = repo({
    "nodes.yaml": '- name: "*"\n  recipes: [a]\n',
    "a/recipe.yaml": "resources:\n  - file: /etc/x\n    template: x.liquid\n",
    "a/templates/x.liquid": '{{ "2024-03-01T12:00:00" | date: "%B %A %b %a" }}\n',
  });
  t.equal(text(build(dir, "n1"), "file:/etc/x"), "March Friday Mar Fri\n");
});

t.test(
  "includes come first, once; resources keep declaration order unless edges say otherwise",
  async (t) => {
    const dir = repo({
      "nodes.yaml": '- name: "*"\n  recipes: [web, base]\n',
      "base/recipe.yaml": "resources:\n  - package: curl\n  - group: admins\n",
      "web/recipe.yaml": `
include: [base]
resources:
  - file: /srv/www/index.html
    content: hi
    owner: www
    group: admins
  - package: nginx
  - user: www
    gid: admins
  - file: /srv/www
    ensure: directory
  - service: nginx
    require: [package:nginx]
  - file: /etc/systemd/system/nginx.service
    content: "[Service]\\n"
`,
    });
    const c = build(dir, "web-1");
    t.same(c.recipes, ["base", "web"]);
    t.same(
      c.resources.map((r) => r.id),
      [
        "package:curl",
        "group:admins",
        "package:nginx",
        "user:www",
        "file:/srv/www",
        "file:/srv/www/index.html",
        "file:/etc/systemd/system/nginx.service",
        "service:nginx",
      ],
    );
    const byId = Object.fromEntries(c.resources.map((r) => [r.id, r]));
    t.same(
      byId["file:/srv/www/index.html"]?.require,
      ["file:/srv/www", "user:www", "group:admins"],
      "parent dir, owner and group",
    );
    t.same(byId["user:www"]?.require, ["group:admins"], "primary group");
    t.same(
      byId["service:nginx"]?.require,
      ["package:nginx", "file:/etc/systemd/system/nginx.service"],
      "unit file",
    );
  },
);

t.test("notify orders the notifier first even when declared after", async (t) => {
  const dir = repo({
    "nodes.yaml": '- name: "*"\n  recipes: [a]\n',
    "a/recipe.yaml": `
resources:
  - service: app
  - file: /etc/app.conf
    content: x
    notify: [service:app]
`,
  });
  const c = build(dir, "n");
  t.same(
    c.resources.map((r) => r.id),
    ["file:/etc/app.conf", "service:app"],
  );
  t.same(c.resources[0]?.notify, ["service:app"]);
});

t.test("identical declarations in two recipes merge; their edges are united", async (t) => {
  const dir = repo({
    "nodes.yaml": '- name: "*"\n  recipes: [a, b]\n',
    "a/recipe.yaml": "resources:\n  - package: curl\n  - package: git\n    require: [package:curl]\n",
    "b/recipe.yaml": "resources:\n  - package: wget\n  - package: git\n    require: [package:wget]\n",
  });
  const c = build(dir, "n");
  const git = c.resources.filter((r) => r.id === "package:git");
  t.equal(git.length, 1);
  t.same(git[0]?.require, ["package:curl", "package:wget"]);
  t.same(
    c.resources.map((r) => r.id),
    ["package:curl", "package:wget", "package:git"],
  );
});

t.test(
  "a recipe's watch: false marks its resources (any declaring recipe wins); others carry no key",
  async (t) => {
    const files = {
      "nodes.yaml": '- name: "*"\n  recipes: [a, b]\n',
      "a/recipe.yaml": "resources:\n  - package: curl\n  - package: git\n",
      "b/recipe.yaml": "watch: false\nresources:\n  - package: wget\n  - package: git\n",
    };
    const c = build(repo(files), "n");
    t.same(Object.fromEntries(c.resources.map((r) => [r.id, r.watch ?? "watched"])), {
      "package:curl": "watched",
      "package:git": false,
      "package:wget": false,
    });
    t.notOk("watch" in c.resources.find((r) => r.id === "package:curl")!, "no key at all when not opted out");
    t.ok(isValid("catalog", c), "the catalog schema takes it");
    const without = build(
      repo({ ...files, "b/recipe.yaml": "resources:\n  - package: wget\n  - package: git\n" }),
      "n",
    );
    t.equal(
      c.resources.find((r) => r.id === "package:git")?.digest,
      without.resources.find((r) => r.id === "package:git")?.digest,
      "watch is not desired state: the digest is the same",
    );
    t.notMatch(JSON.stringify(without), /"watch"/, "a catalog of recipes without watch has no watch key");
  },
);

t.test("normalisation: defaults, modes, link by target, exec argv", async (t) => {
  const dir = repo({
    "nodes.yaml": '- name: "*"\n  recipes: [a]\n',
    "a/recipe.yaml": `
resources:
  - package: curl
  - file: /etc/x
    mode: "644"
  - file: /usr/local/bin/x
    target: /opt/x/bin/x
  - exec: /usr/bin/printf '%s\\n' "a b" c
    creates: /tmp/done
  - exec: build
    command: [make, -C, /src]
    unless: test -e /src/out
  - exec: pipes
    command: "echo hi | tee /tmp/x"
    shell: true
  - group: admins
  - user: www
    require: [group:admins]
    gid: admins
    ensure: present
`,
  });
  const c = build(dir, "n");
  const p = Object.fromEntries(c.resources.map((r) => [r.id, r.params]));
  t.same(p["package:curl"], { ensure: "installed" });
  t.same(p["file:/etc/x"], { ensure: "file", mode: "0644" });
  t.same(p["file:/usr/local/bin/x"], { ensure: "link", target: "/opt/x/bin/x" });
  t.same(p[`exec:/usr/bin/printf '%s\\n' "a b" c`], {
    argv: ["/usr/bin/printf", "%s\\n", "a b", "c"],
    timeout: 300,
    creates: "/tmp/done",
  });
  t.same(p["exec:build"], { argv: ["make", "-C", "/src"], timeout: 300, unless: ["test", "-e", "/src/out"] });
  t.same(p["exec:pipes"], { argv: ["/bin/sh", "-c", "echo hi | tee /tmp/x"], timeout: 300, shell: true });
  t.equal(JSON.stringify(p["group:admins"]), '{"ensure":"present"}');
  t.equal(JSON.stringify(p["user:www"]), '{"ensure":"present","gid":"admins"}', "no kind key, no edges");
});

t.test("text content is hashed and sized as its UTF-8 bytes, a lone surrogate as U+FFFD", async (t) => {
  const texts = ["héllo wörld\n", "emoji 🙂 and tab\t", "lone \ud800 surrogate", ""];
  const dir = repo({
    "nodes.yaml": '- name: "*"\n  recipes: [a]\n',
    "a/recipe.yaml": `resources:\n${texts.map((x, i) => `  - file: /etc/t${i}\n    content: ${JSON.stringify(x)}\n`).join("")}`,
  });
  const c = build(dir, "n");
  texts.forEach((x, i) => {
    const bytes = Buffer.from(x, "utf8");
    const sha = c.resources[i]?.params.content_sha256 as string;
    t.equal(sha, sha256(bytes), JSON.stringify(x));
    t.same(c.files[sha], { size: bytes.length, text: bytes.toString("utf8") });
  });
  t.equal(text(c, "file:/etc/t2"), "lone \ufffd surrogate");
});

t.test("content is addressed by sha256; binary sources travel as base64", async (t) => {
  const dir = repo({
    "nodes.yaml": '- name: "*"\n  recipes: [a]\n',
    "a/recipe.yaml":
      "resources:\n  - file: /etc/a\n    content: hello\n  - file: /etc/b\n    source: files/b.bin\n  - file: /etc/c\n    content: hello\n",
  });
  const bin = Buffer.from([0, 255, 1, 254]);
  mkdirSync(join(dir, "a", "files"));
  writeFileSync(join(dir, "a", "files", "b.bin"), bin);
  const c = build(dir, "n");
  t.equal(c.resources[0]?.params.content_sha256, sha256("hello"));
  t.equal(c.resources[2]?.params.content_sha256, sha256("hello"), "same content, same blob");
  t.same(c.files[sha256("hello")], { size: 5, text: "hello" });
  t.same(c.files[sha256(bin)], { size: 4, base64: bin.toString("base64") });
});

t.test("the example repository compiles for several nodes, valid against the catalog schema", async (t) => {
  const dir = new URL("../../recipes", import.meta.url).pathname;
  for (const node of ["web-1", "web-2", "db-1"]) {
    const c = build(dir, node, sampleFacts({ hostname: node, fqdn: `${node}.example.com` }));
    t.ok(isValid("catalog", c), `${node}: schema-valid catalog`);
    t.equal(c.node, node);
    const ids = c.resources.map((r) => r.id);
    t.ok(ids.includes("file:/etc/motd"), `${node} has the motd`);
    t.equal(ids.includes("service:nginx"), node.startsWith("web-"), `${node}: nginx only on web nodes`);
    for (const r of c.resources)
      t.equal(r.digest, sha256(canonicalJson({ type: r.type, name: r.name, params: r.params })));
  }
  const site = (node: string) =>
    text(build(dir, node, sampleFacts({ hostname: node })), "file:/etc/nginx/conf.d/tend-site.conf");
  t.match(site("web-1"), /listen 9090 default_server;/, "per-node vars win");
  t.match(site("web-2"), /listen 8080 default_server;/, "glob rule vars");
});

t.test(
  "the example app server: appserver-* nodes only, its URLs from vars, overridable per node",
  async (t) => {
    const dir = new URL("../../recipes", import.meta.url).pathname;
    for (const node of ["web-1", "app-1", "db-1"])
      t.notOk(
        build(dir, node, sampleFacts({ hostname: node })).recipes.includes("appserver"),
        `${node} is not an app server`,
      );
    const c = build(dir, "appserver-1", sampleFacts({ hostname: "appserver-1" }));
    t.ok(isValid("catalog", c));
    t.same(c.recipes, ["base", "appserver"]);
    const params = (id: string) => c.resources.find((r) => r.id === id)?.params;
    t.match(params("git:/srv/app"), {
      repository: "https://git.example.com/app.git",
      revision: "main",
      owner: "deploy",
    });
    t.match(params("apt_repository:app-tools"), { uris: "https://apt.example.com/debian" });
    t.match(params("apt_repository:debian"), { uris: "http://deb.debian.org/debian" });
    t.same(
      c.checks?.map((k) => [k.id, k.url]),
      [
        ["the app answers", "http://127.0.0.1:3000/healthz"],
        ["nginx proxies to the app", "http://127.0.0.1/healthz"],
      ],
    );
    t.match(text(c, "file:/etc/nginx/conf.d/app.conf"), /proxy_pass http:\/\/127\.0\.0\.1:3000;/);
    t.notOk(
      c.resources.some((r) => r.type === "exec"),
      "no exec: every part of the server is a kind of its own",
    );
    // A site points it at its own repositories with a rule in nodes.yaml.
    const site = mkdtempSync(join(tmpdir(), "tend-appserver-site-"));
    t.teardown(() => rmSync(site, { recursive: true, force: true }));
    cpSync(dir, site, { recursive: true });
    appendFileSync(
      join(site, "nodes.yaml"),
      '\n- name: appserver-2\n  vars: { app_repo: "git@git.internal:ops/app.git", app_revision: v2.1.0, app_port: 8081 }\n',
    );
    const two = build(site, "appserver-2", sampleFacts({ hostname: "appserver-2" }));
    t.match(two.resources.find((r) => r.id === "git:/srv/app")?.params, {
      repository: "git@git.internal:ops/app.git",
      revision: "v2.1.0",
    });
    t.match(text(two, "systemd_unit:app.service"), /^Environment=PORT=8081$/m);
  },
);

t.test("determinism: the same inputs give byte-identical catalogs", async (t) => {
  const dir = new URL("../../recipes", import.meta.url).pathname;
  const a = JSON.stringify(build(dir, "web-1"));
  const b = JSON.stringify(build(dir, "web-1"));
  t.equal(a, b);
  const shuffled = sampleFacts();
  const reordered = Object.fromEntries(Object.entries(shuffled).reverse()) as typeof shuffled;
  t.equal(JSON.stringify(build(dir, "web-1", reordered)), a, "fact key order does not matter");
});

t.test(
  "one compiler, two nodes with the same recipes: the same resources and edges, which the catalogs do not share",
  async (t) => {
    const dir = new URL("../../recipes", import.meta.url).pathname;
    const compiler = new Compiler(fsRepo(dir));
    const a = compiler.compile("web-2", sampleFacts({ hostname: "web-2" })).catalog!;
    const b = compiler.compile("web-3", sampleFacts({ hostname: "web-3" })).catalog!;
    t.same(
      a.resources.map((r) => [r.id, r.require]),
      b.resources.map((r) => [r.id, r.require]),
    );
    a.resources[1]!.require.push("file:/elsewhere");
    t.notOk(
      b.resources[1]!.require.includes("file:/elsewhere"),
      "a change to one catalog is not seen in the other",
    );
    t.same(JSON.stringify(a.resources.slice(2)), JSON.stringify(build(dir, "web-2").resources.slice(2)));
  },
);

t.test("node names are validated", async (t) => {
  const dir = new URL("../../recipes", import.meta.url).pathname;
  for (const bad of ["", "Web-1", "a..b", "-x", "x-", "a/b", "a b", "x".repeat(254)]) {
    const { catalog, problems } = compile(fsRepo(dir), bad, sampleFacts());
    t.equal(catalog, undefined, `"${bad.slice(0, 20)}" refused`);
    t.equal(problems[0]?.code, "TEND_E_NODE_NAME");
  }
});

t.test("a template cannot stall the compiler: render time and memory are bounded", async (t) => {
  const dir = repo({
    "nodes.yaml": '- name: "*"\n  recipes: [a]\n',
    "a/recipe.yaml": "resources:\n  - file: /etc/x\n    template: x.liquid\n",
    "a/templates/x.liquid": "{% for i in (1..100000000) %}{{ i }}{% endfor %}\n",
  });
  const { catalog, problems } = compile(fsRepo(dir), "n", sampleFacts());
  t.equal(catalog, undefined);
  t.equal(problems[0]?.code, "TEND_E_TEMPLATE_RENDER");
  t.match(problems[0]?.message, /limit/i);
});

t.test(
  "a slow partial is bounded too, and a commit's slow template is not rerun for every node",
  async (t) => {
    const dir = repo({
      "nodes.yaml": '- name: "*"\n  recipes: [a]\n',
      "a/recipe.yaml": "resources:\n  - file: /etc/x\n    template: x.liquid\n",
      "a/templates/x.liquid": "{% render 'head.liquid' %}\nbody\n",
      "a/templates/head.liquid":
        "{% for i in (1..10000) %}{% for j in (1..10000) %}x{% endfor %}{% endfor %}\n",
    });
    const compiler = new Compiler(fsRepo(dir));
    const first = compiler.compile("web-1", sampleFacts());
    t.equal(first.catalog, undefined);
    t.match(first.problems, [
      {
        code: "TEND_E_TEMPLATE_RENDER",
        file: "a/templates/x.liquid",
        message: /rendering took more than 1 s \(render limit exceeded\)/,
      },
    ]);
    // The same commit for another node: the same located problem, from what the first one learned.
    const second = compiler.compile("web-2", sampleFacts());
    t.match(second.problems, [
      { code: "TEND_E_TEMPLATE_RENDER", message: /render limit exceeded.*node web-2/s },
    ]);
  },
);

t.test("canonical JSON keeps a __proto__ key (signatures cover every key)", async (t) => {
  const value = JSON.parse('{"b":1,"__proto__":{"command":"x"},"a":2}');
  t.equal(canonicalJson(value), '{"__proto__":{"command":"x"},"a":2,"b":1}');
});
