/** The source entry of `tend` (tests and development run it with tsx; bin/tend.js runs the build). */
import { run } from "./tend.js";

process.exitCode = await run(process.argv.slice(2));
