// Builds dist/: the `tend` CLI (code-split so a run loads only what its command needs) and, when
// present, the self-contained agent bundle. Runs on `npm ci` (prepare) and `npm run build`.
import { readFileSync } from "node:fs";
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
