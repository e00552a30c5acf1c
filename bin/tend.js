#!/usr/bin/env node
// The `tend` command. The TypeScript sources are bundled into dist/ by `npm run build` (which
// `npm ci` runs through the prepare script).
import { existsSync } from "node:fs";

const dist = new URL("../dist/tend.js", import.meta.url);
if (!existsSync(dist)) {
  process.stderr.write(
    "tend: this checkout is not built yet; run `npm run build` (npm ci does it for you)\n",
  );
  process.exit(1);
}
const { run } = await import(dist.href);
process.exitCode = await run(process.argv.slice(2));
