// Builds dist/: the `tend` CLI (code-split so a run loads only what its command needs) and, when
// present, the self-contained agent bundle. Runs on `npm ci` (prepare) and `npm run build`.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { build } from "esbuild";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
const outdir = process.argv[2] ?? "dist";
const banner = {
  js: 'import { createRequire as __tendCreateRequire } from "node:module"; const require = __tendCreateRequire(import.meta.url);',
};

await build({
  entryPoints: { tend: "cli/tend.ts" },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: false,
  minifySyntax: true,
  legalComments: "none",
  banner,
  define: { TEND_VERSION: JSON.stringify(pkg.version) },
  external: ["better-sqlite3", "pg-native", "playwright-core", "fsevents"],
  logLevel: "warning",
  chunkNames: "chunks/[name]-[hash]",
});

// The agent bundle: one file with everything `tend agent`, `tend apply`, `tend facts` need, no
// native modules, runnable by a distribution's Node.js >= 20. The server serves it to new boxes
// (GET /agent/tend-agent.js); the server's own code is left out.
const noServer = {
  name: "no-server",
  setup(b) {
    b.onResolve({ filter: /server\/main\.js$/ }, () => ({ path: "server", namespace: "no-server" }));
    b.onLoad({ filter: /.*/, namespace: "no-server" }, () => ({
      contents:
        'export async function main() { throw Object.assign(new Error("this is the agent bundle, which has no server: run `tend server` from a checkout or the npm package"), { code: "TEND_E_USAGE" }); }',
      loader: "js",
    }));
  },
};
const agent = await build({
  entryPoints: { "tend-agent": "cli/main.ts" },
  outdir,
  bundle: true,
  splitting: false,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: false,
  minify: true,
  legalComments: "none",
  banner: { js: `#!/usr/bin/env node\n${banner.js}` },
  define: { TEND_VERSION: JSON.stringify(pkg.version) },
  plugins: [noServer],
  logLevel: "warning",
  write: false,
});
// esbuild leaves non-ASCII characters in regular expression literals (a dependency's accent
// folding), and one such character makes V8 hold the whole 1.1 MB source as a two-byte string in
// every process that loads it: 1.1 MB more for the idle daemon. \uXXXX means the same in a regular
// expression, a string, a template or an identifier, so the file is escaped to ASCII.
for (const file of agent.outputFiles) {
  const ascii = file.text.replace(
    /[^\0-\x7f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  mkdirSync(dirname(file.path), { recursive: true });
  writeFileSync(file.path, ascii);
}
