/**
 * A real signed apt repository for tests: an OpenPGP key made by gpg, a tiny .deb built with
 * dpkg-deb, its index made by apt-ftparchive, a Release file signed as InRelease, all served over
 * HTTP on 127.0.0.1 (a random port; test boxes share the host's network). The server counts the
 * requests it answers, so a test can prove that a run fetched nothing.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join, normalize } from "node:path";

export interface GpgKey {
  home: string;
  fingerprint: string;
  armored: string;
  binary: Buffer;
}

/** A fresh signing key in its own GnuPG home. */
export function makeKey(dir: string, name: string, type = "ed25519"): GpgKey {
  const home = join(dir, `gnupg-${name}`);
  mkdirSync(home, { mode: 0o700 });
  const gpg = (...args: string[]) =>
    execFileSync("gpg", ["--homedir", home, "--batch", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  gpg("--passphrase", "", "--quick-gen-key", `${name} <${name}@tend.test>`, type, "sign", "never");
  const colons = gpg("--with-colons", "--fingerprint").toString();
  const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(colons)?.[1];
  if (!fingerprint) throw new Error(`gpg made no key:\n${colons}`);
  return { home, fingerprint, armored: gpg("--armor", "--export").toString(), binary: gpg("--export") };
}

export interface AptRepo {
  url: string;
  key: GpgKey;
  arch: string;
  /** Requests answered so far; with `path`, only those for that path (e.g. "/dists/stable/InRelease"). */
  requests: (path?: string) => number;
  close(): Promise<void>;
}

/**
 * Builds the repository (suite `stable`, component `main`, one package) under `dir` and serves it.
 * The package holds /usr/share/NAME/hello.txt and any `files` (absolute paths, with their modes).
 */
export async function serveAptRepo(
  dir: string,
  pkg: { name: string; version: string; files?: Record<string, { content: string; mode?: number }> },
): Promise<AptRepo> {
  const root = join(dir, "repo");
  const key = makeKey(dir, "tendtest-repo");
  const arch = execFileSync("dpkg", ["--print-architecture"]).toString().trim();
  const build = mkdtempSync(join(dir, "deb-"));
  mkdirSync(join(build, "DEBIAN"));
  mkdirSync(join(build, "usr/share", pkg.name), { recursive: true });
  writeFileSync(join(build, "usr/share", pkg.name, "hello.txt"), `hello from ${pkg.name}\n`);
  for (const [path, file] of Object.entries(pkg.files ?? {})) {
    mkdirSync(join(build, dirname(path)), { recursive: true });
    writeFileSync(join(build, path), file.content, { mode: file.mode ?? 0o644 });
  }
  writeFileSync(
    join(build, "DEBIAN/control"),
    `Package: ${pkg.name}\nVersion: ${pkg.version}\nArchitecture: all\nMaintainer: tend tests <tests@tend.test>\nDescription: a package of tend's tests\n`,
  );
  const pool = join(root, "pool/main");
  mkdirSync(pool, { recursive: true });
  execFileSync(
    "dpkg-deb",
    ["--root-owner-group", "--build", build, join(pool, `${pkg.name}_${pkg.version}_all.deb`)],
    {
      stdio: "ignore",
    },
  );
  rmSync(build, { recursive: true });
  const dist = join(root, "dists/stable");
  mkdirSync(join(dist, `main/binary-${arch}`), { recursive: true });
  const packages = execFileSync("apt-ftparchive", ["packages", "pool"], { cwd: root });
  writeFileSync(join(dist, `main/binary-${arch}/Packages`), packages);
  const release = execFileSync(
    "apt-ftparchive",
    [
      ...["-o", "APT::FTPArchive::Release::Suite=stable", "-o", "APT::FTPArchive::Release::Codename=stable"],
      ...[
        "-o",
        "APT::FTPArchive::Release::Components=main",
        "-o",
        `APT::FTPArchive::Release::Architectures=${arch}`,
      ],
      "release",
      ".",
    ],
    { cwd: dist },
  );
  writeFileSync(join(dir, "Release"), release);
  renameSync(join(dir, "Release"), join(dist, "Release"));
  execFileSync(
    "gpg",
    ["--homedir", key.home, "--batch", "--clearsign", "-o", join(dist, "InRelease"), join(dist, "Release")],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );

  const seen: string[] = [];
  const server: Server = createServer((req, res) => {
    const asked = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    seen.push(asked);
    const path = normalize(join(root, asked));
    if (!path.startsWith(root) || !statSync(path, { throwIfNoEntry: false })?.isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/octet-stream" }).end(readFileSync(path));
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    key,
    arch,
    requests: (path) => (path === undefined ? seen.length : seen.filter((p) => p === path).length),
    close: () => new Promise((ok) => server.close(() => ok())),
  };
}
