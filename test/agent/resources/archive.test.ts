/**
 * The archive kind against a real HTTP server on loopback (and a real CONNECT proxy): a download
 * saved, not fetched again while its sha256 matches (requests counted), a checksum mismatch and a
 * body cut off mid-way that never become live, the proxy from HTTP_PROXY (and NO_PROXY), tar.gz
 * and zip extracted, upgraded and owned, and archives whose entries would escape refused.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import t from "tap";
import { fsRepo } from "../../../agent/repo-fs.js";
import { archive, MARKER } from "../../../agent/resources/archive.js";
import { compile } from "../../../core/compile.js";
import type { Json } from "../../../core/types.js";
import { sampleFacts } from "../../helpers/facts.js";
import { context, type KindCase, resource, runCases } from "../../helpers/kind-harness.js";

const root = mkdtempSync(join(tmpdir(), "tend-archive-"));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const stateDir = join(root, "state");
const out = join(root, "out");
const build = join(root, "build");
mkdirSync(out);
mkdirSync(build);
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const at = (name: string) => join(out, name);
const nobody = 65534;

// The server: each path's bytes, or a handler; every request counted.
const routes = new Map<string, Buffer | ((req: IncomingMessage, res: ServerResponse) => void)>();
const hits = new Map<string, number>();
const server = createServer((req, res) => {
  hits.set(req.url!, (hits.get(req.url!) ?? 0) + 1);
  const route = routes.get(req.url!);
  if (typeof route === "function") return route(req, res);
  if (!route) return res.writeHead(404).end("not here\n");
  res.writeHead(200, { "content-length": route.length }).end(route);
});
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
t.teardown(() => server.close());
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const serve = (path: string, data: Buffer) => {
  routes.set(path, data);
  return { url: `${origin}${path}`, sha256: sha(data) };
};

/** A file tree written under build/NAME, packed by the real tar or by Python's zipfile. */
function tree(name: string, files: Record<string, string>): string {
  const dir = join(build, name);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text, { mode: path.startsWith("top/bin/") ? 0o755 : 0o644 });
  }
  return dir;
}
function tarGz(name: string, files: Record<string, string>): Buffer {
  const dir = tree(name, files);
  const r = spawnSync("tar", ["-czf", "-", "-C", dir, "top"], { maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(String(r.stderr));
  return r.stdout;
}
/** Python's tarfile and zipfile write what GNU tar and zip refuse to: entries that escape. */
function python(script: string): Buffer {
  const file = join(build, `py-${Math.random().toString(16).slice(2)}`);
  const r = spawnSync("python3", ["-c", script, file], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
  return readFileSync(file);
}
const zip = (entries: [string, string, number][]) =>
  python(`import sys, zipfile
z = zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED)
for name, data, mode in ${JSON.stringify(entries)}:
    i = zipfile.ZipInfo(name); i.create_system = 3; i.external_attr = mode << 16
    z.writestr(i, data)
z.close()`);
const evilTar = (kind: string) =>
  python(`import sys, tarfile, io
t = tarfile.open(sys.argv[1], "w:gz")
def add(name, **kw):
    i = tarfile.TarInfo(name)
    for k, v in kw.items(): setattr(i, k, v)
    data = b"pwned\\n" if i.type == tarfile.REGTYPE else b""
    i.size = len(data); t.addfile(i, io.BytesIO(data))
add("ok.txt")
${kind}
t.close()`);

const base = () => ({ stateDir, run: { "archive.retry_delay_ms": 5 } as Record<string, Json> });
const hello = serve("/hello.bin", Buffer.from("hello, archive\n"));
const v1 = serve(
  "/app-1.tar.gz",
  tarGz("v1", { "top/bin/tool": "#!/bin/sh\necho 1\n", "top/README": "one\n", "top/old.txt": "only in 1\n" }),
);
const v2 = serve(
  "/app-2.tar.gz",
  tarGz("v2", { "top/bin/tool": "#!/bin/sh\necho 2\n", "top/README": "two\n" }),
);
const zipped = serve(
  "/app.zip",
  zip([
    ["app/", "", 0o40755],
    ["app/run.sh", "#!/bin/sh\n", 0o100755],
    ["app/data.txt", "zip data\n", 0o100644],
    ["app/link", "data.txt", 0o120777],
  ]),
);

const cases: KindCase[] = [
  {
    name: "downloads a file to its path, once",
    resource: resource("archive", at("hello.bin"), { ...hello, extract: false }),
    expect: [{ property: "sha256", from: "absent", to: hello.sha256 }],
    watch: [at("hello.bin"), out],
    after: (t) => {
      t.equal(readFileSync(at("hello.bin"), "utf8"), "hello, archive\n");
      t.equal(statSync(at("hello.bin")).mode & 0o7777, 0o644);
      t.equal(
        hits.get("/hello.bin"),
        1,
        "one request: the checks hashed the file there, they fetched nothing",
      );
    },
  },
  {
    name: "a mode and owner change is made without downloading again",
    resource: resource("archive", at("hello.bin"), {
      ...hello,
      extract: false,
      mode: "0600",
      owner: "nobody",
    }),
    expect: [
      { property: "mode", from: "0644", to: "0600" },
      { property: "owner", from: "root", to: "nobody" },
    ],
    after: (t) => {
      t.equal(statSync(at("hello.bin")).uid, nobody);
      t.equal(hits.get("/hello.bin"), 1);
    },
  },
  {
    name: "a file changed on the box is drift, downloaded again",
    given: () => writeFileSync(at("hello.bin"), "tampered\n"),
    resource: resource("archive", at("hello.bin"), {
      ...hello,
      extract: false,
      mode: "0600",
      owner: "nobody",
    }),
    expect: [{ property: "sha256", from: sha(Buffer.from("tampered\n")), to: hello.sha256 }],
    after: (t) => {
      t.equal(readFileSync(at("hello.bin"), "utf8"), "hello, archive\n");
      t.equal(statSync(at("hello.bin")).uid, nobody, "the replacement is owned as the resource says");
      t.equal(hits.get("/hello.bin"), 2);
    },
  },
  {
    name: "extracts a tar.gz into a directory, without its top folder",
    resource: resource("archive", at("app"), { ...v1, extract: true, strip_components: 1 }),
    expect: [{ property: "sha256", from: "absent", to: v1.sha256 }],
    watch: [out],
    after: (t) => {
      t.equal(readFileSync(at("app/README"), "utf8"), "one\n");
      t.equal(statSync(at("app/bin/tool")).mode & 0o777, 0o755, "modes kept");
      t.equal(statSync(at("app")).mode & 0o7777, 0o755);
      t.match(JSON.parse(readFileSync(at(`app/${MARKER}`), "utf8")), {
        sha256: v1.sha256,
        strip_components: 1,
      });
      t.equal(hits.get("/app-1.tar.gz"), 1, "one request; the marker answers the checks");
    },
  },
  {
    name: "a new version replaces the whole directory",
    resource: resource("archive", at("app"), { ...v2, extract: true, strip_components: 1, owner: "nobody" }),
    expect: [
      { property: "sha256", from: v1.sha256, to: v2.sha256 },
      { property: "owner", from: "root", to: "nobody" },
    ],
    after: (t) => {
      t.equal(readFileSync(at("app/README"), "utf8"), "two\n");
      t.notOk(existsSync(at("app/old.txt")), "files only the old version had are gone");
      for (const p of ["app", "app/bin", "app/bin/tool", "app/README"])
        t.equal(statSync(at(p)).uid, nobody, `${p} owned`);
      t.same(
        readdirSync(out).filter((n) => n.includes(".tend-")),
        [],
        "no stage or old tree left",
      );
    },
  },
  {
    name: "extracts a zip, its modes and its inner symlink",
    resource: resource("archive", at("zipped"), { ...zipped, extract: true }),
    expect: [{ property: "sha256", from: "absent", to: zipped.sha256 }],
    after: (t) => {
      t.equal(readFileSync(at("zipped/app/data.txt"), "utf8"), "zip data\n");
      t.equal(readFileSync(at("zipped/app/link"), "utf8"), "zip data\n", "the link resolves inside");
      t.equal(statSync(at("zipped/app/run.sh")).mode & 0o777, 0o755);
    },
  },
];

t.test("archive kind", async (t) => runCases(t, archive, cases, base));

/** check → apply as the engine does; the error, when there is one. */
async function converge(params: Record<string, Json>, path: string, run: Record<string, Json> = {}) {
  const r = resource("archive", path, params);
  const ctx = context({ stateDir, run: { ...base().run, ...run } });
  try {
    const { changes } = await archive.check(r, ctx);
    await archive.apply(r, changes, ctx);
    return null;
  } catch (err) {
    return err as { code: string; message: string };
  }
}
const temps = () => readdirSync(out).filter((n) => n.includes(".tend-"));

t.test("a checksum mismatch fails clearly and changes nothing", async (t) => {
  writeFileSync(at("kept.bin"), "the old file\n");
  const err = await converge({ url: hello.url, sha256: "a".repeat(64), extract: false }, at("kept.bin"));
  t.match(err, {
    code: "TEND_E_ARCHIVE_CHECKSUM",
    message: new RegExp(`has sha256 ${hello.sha256}, not a{64}.*nothing was changed`),
  });
  t.equal(readFileSync(at("kept.bin"), "utf8"), "the old file\n");
  t.same(temps(), []);
});

t.test("a body cut off mid-way is retried, then fails; nothing partial becomes live", async (t) => {
  const full = Buffer.alloc(256 * 1024, "x");
  routes.set("/cut.bin", (_req, res) => {
    res.writeHead(200, { "content-length": full.length });
    res.write(full.subarray(0, 100 * 1024), () => res.socket?.destroy());
  });
  writeFileSync(at("cut.bin"), "the old file\n");
  const err = await converge({ url: `${origin}/cut.bin`, sha256: sha(full), extract: false }, at("cut.bin"));
  t.match(err, { code: "TEND_E_ARCHIVE_DOWNLOAD", message: /cut off.*nothing was changed/ });
  t.equal(hits.get("/cut.bin"), 3, "three attempts");
  t.equal(readFileSync(at("cut.bin"), "utf8"), "the old file\n", "the old file stays whole");
  t.same(temps(), [], "no partial temp file left");

  const gone = await converge(
    { url: `${origin}/missing.bin`, sha256: sha(full), extract: false },
    at("missing.bin"),
  );
  t.match(gone, { code: "TEND_E_ARCHIVE_DOWNLOAD", message: /HTTP 404/ });
});

t.test("HTTP_PROXY is used (a CONNECT tunnel on loopback), NO_PROXY bypasses it", async (t) => {
  const tunnels: string[] = [];
  const proxy = createServer();
  proxy.on("connect", (req, socket, head) => {
    tunnels.push(req.url!);
    const [host, port] = req.url!.split(":");
    const upstream = connect(Number(port), host, () => {
      socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(socket).pipe(upstream);
    });
    upstream.on("error", () => socket.destroy());
    socket.on("error", () => upstream.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  t.teardown(() => proxy.close());
  const saved = { HTTP_PROXY: process.env.HTTP_PROXY, NO_PROXY: process.env.NO_PROXY };
  t.teardown(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  process.env.HTTP_PROXY = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  delete process.env.NO_PROXY;

  t.equal(await converge({ ...hello, extract: false }, at("proxied.bin")), null);
  t.equal(readFileSync(at("proxied.bin"), "utf8"), "hello, archive\n");
  t.same(tunnels, [new URL(origin).host], "through the proxy");

  process.env.NO_PROXY = "127.0.0.1";
  t.equal(await converge({ ...hello, extract: false }, at("direct.bin")), null);
  t.equal(tunnels.length, 1, "not through the proxy");
});

t.test("archives whose entries would escape are refused whole", async (t) => {
  const evil = {
    "a ../ entry in a tar": evilTar('add("../evil.txt")'),
    "an absolute entry in a tar": evilTar(`add("${join(root, "abs-evil.txt")}")`),
    "a symlink out of the directory, in a tar": evilTar(
      `add("link", type=tarfile.SYMTYPE, linkname="../../..")`,
    ),
    "a device in a tar": evilTar('add("null", type=tarfile.CHRTYPE, devmajor=1, devminor=3)'),
    "a ../ entry in a zip": zip([["../evil.txt", "pwned\n", 0o100644]]),
    "an absolute symlink in a zip": zip([["link", "/etc", 0o120777]]),
  };
  let n = 0;
  for (const [what, data] of Object.entries(evil)) {
    const path = at(`evil-${n}`);
    const src = serve(`/evil-${n++}`, data);
    const err = await converge({ ...src, extract: true }, path);
    t.match(err, { code: "TEND_E_ARCHIVE_UNSAFE", message: /refused/ }, what);
    t.notOk(existsSync(path), `${what}: nothing became live`);
  }
  t.notOk(existsSync(join(root, "evil.txt")) || existsSync(join(out, "evil.txt")), "nothing written outside");
  t.notOk(existsSync(join(root, "abs-evil.txt")));
  t.same(temps(), [], "no stage left");
});

t.test("a directory tend did not extract is left alone", async (t) => {
  mkdirSync(at("theirs"));
  writeFileSync(at("theirs/data"), "mine\n");
  const err = await converge({ ...v1, extract: true }, at("theirs"));
  t.match(err, { code: "TEND_E_ARCHIVE_PATH", message: /no \.tend-archive/ });
  t.equal(hits.get("/app-1.tar.gz"), 1, "not even downloaded");
});

t.test("url and sha256 are required, strip_components only with extract", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tend-archive-recipe-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "nodes.yaml"), '- name: "*"\n  recipes: [app]\n');
  mkdirSync(join(dir, "app"));
  const problems = (attrs: string) => {
    writeFileSync(
      join(dir, "app", "recipe.yaml"),
      `resources:\n  - file: /opt\n    ensure: directory\n  - archive: /opt/app\n${attrs}`,
    );
    return compile(fsRepo(dir), "n", sampleFacts());
  };
  t.match(problems("    url: https://example.com/a.tgz\n").problems, [{ message: /"sha256" is required/ }]);
  t.match(
    problems(`    url: https://example.com/a.tgz\n    sha256: ${"ab".repeat(32)}\n    strip_components: 1\n`)
      .problems,
    [{ message: /strip_components only applies to extract: true/ }],
  );
  const ok = problems(
    `    url: https://example.com/a.tgz\n    sha256: ${"ab".repeat(32)}\n    extract: true\n`,
  );
  t.same(ok.problems, []);
  t.same(ok.catalog?.resources.find((r) => r.type === "archive")?.require, ["file:/opt"]);
});

t.test("an apply run first removes what a killed run left beside the path", async (t) => {
  const half = at(".hello.bin.tend-0123456789ab.tmp");
  const stage = at(".app.tend-0123456789ab.tmp");
  writeFileSync(half, "half a download");
  mkdirSync(join(stage, "bin"), { recursive: true });
  writeFileSync(join(stage, "bin", "tool"), "half an extraction");
  const rs = [
    resource("archive", at("hello.bin"), { ...hello, extract: false }),
    resource("archive", at("app"), { ...v2, extract: true }),
  ];
  const logs: string[] = [];
  await archive.prefetch!(rs, context({ stateDir, noop: true, logs }));
  t.ok(existsSync(half) && existsSync(stage), "a plan leaves them");
  await archive.prefetch!(rs, context({ stateDir, logs }));
  t.notOk(existsSync(half) || existsSync(stage), "an apply run removes them");
  t.match(logs, [
    /removed .*\.hello\.bin\.tend-0123456789ab\.tmp/,
    /removed .*\.app\.tend-0123456789ab\.tmp/,
  ]);
});

t.test("watch mode watches the saved file or the extracted directory", async (t) => {
  t.same(archive.watch!(resource("archive", at("app"), { ...v1, extract: true })), { paths: [at("app")] });
});
