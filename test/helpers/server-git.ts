/** Real git repositories in temp dirs, for the git gate tests. */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

const env = {
  ...process.env,
  GIT_AUTHOR_NAME: "t",
  GIT_AUTHOR_EMAIL: "t@example.com",
  GIT_COMMITTER_NAME: "t",
  GIT_COMMITTER_EMAIL: "t@example.com",
  GIT_CONFIG_NOSYSTEM: "1",
};

export class TestRepo {
  readonly dir = mkdtempSync(join(tmpdir(), "tend-repo-"));

  constructor() {
    this.git("init", "-q", "-b", "main");
  }

  git(...args: string[]): string {
    return execFileSync("git", ["-C", this.dir, ...args], { env, encoding: "utf8" }).trim();
  }

  /** Writes the files (a `symlink:` prefix makes a symlink), commits everything, returns the sha. */
  commit(files: Record<string, string>, message = "change"): string {
    for (const [path, content] of Object.entries(files)) {
      const full = join(this.dir, path);
      mkdirSync(dirname(full), { recursive: true });
      rmSync(full, { force: true });
      if (content.startsWith("symlink:")) symlinkSync(content.slice(8), full);
      else writeFileSync(full, content);
    }
    this.git("add", "-A");
    this.git("commit", "-q", "--allow-empty", "-m", message);
    return this.git("rev-parse", "HEAD");
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export const goodRecipes: Record<string, string> = {
  "nodes.yaml": '- name: "*"\n  recipes: [base]\n- name: "web-*"\n  recipes: [web]\n',
  "base/recipe.yaml": 'description: base\nresources:\n  - file: /etc/motd\n    content: "hello\\n"\n',
  "web/recipe.yaml":
    "description: web\nresources:\n  - package: nginx\n  - file: /srv/big.txt\n    source: files/big.txt\n",
  "web/files/big.txt": `${"x".repeat(5000)}\n`,
};

export function facts(hostname: string): Record<string, unknown> {
  return {
    hostname,
    fqdn: `${hostname}.example.com`,
    os: { id: "debian", version_id: "12", family: "debian" },
    arch: "x86_64",
    kernel: "6.1.0",
    cpus: 2,
    memory_mb: 2048,
    ipv4: ["10.0.0.5"],
  };
}
