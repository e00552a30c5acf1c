// A test run that gets killed with a box up: boots one, reports it, then waits to be SIGKILLed.
// Run by sweep.test.ts as a child process; not a test itself.
import { Box } from "./box.js";

// A test runner that picks this file up by mistake (`tap test/boxes/`) must not hang on it.
if (process.env.TEND_LEAK_FIXTURE !== "1") process.exit(0);
const box = await Box.boot({ hostname: "leaked-1" });
process.stdout.write(`up ${box.dir}\n`);
setInterval(() => {}, 60_000);
