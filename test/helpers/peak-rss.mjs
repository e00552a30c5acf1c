// Preloaded into a `tend` process by tests (node --import): at exit, writes the process's peak
// resident memory (KiB, from getrusage) to the file named by TEND_TEST_PEAK_FILE.
import { writeFileSync } from "node:fs";

process.on("exit", () => {
  const file = process.env.TEND_TEST_PEAK_FILE;
  if (file) writeFileSync(file, String(process.resourceUsage().maxRSS));
});
