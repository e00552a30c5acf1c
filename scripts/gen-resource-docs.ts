/**
 * Writes docs/resources.md from the resource kinds' schemas. `--check` exits 1 when the committed
 * copy is out of date (test/agent/resources/reference.test.ts does the same).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { kinds } from "../agent/resources/index.js";
import { renderReference } from "../agent/resources/reference.js";

export const resourcesDocPath = fileURLToPath(new URL("../docs/resources.md", import.meta.url));

export const INTRO = `
Each resource in a recipe names one kind (\`package: nginx\`, \`file: /etc/motd\`, ...). The compiler
normalises what the recipe says into the parameters below, which is what the agent's kinds receive
in the catalog; a parameter not listed is not part of that kind. Every resource also takes
\`require\` and \`notify\` (lists of ids \`TYPE:NAME\`). The recipe syntax is in
[recipe-reference.md](recipe-reference.md); how a kind is built is in
[writing-a-kind.md](writing-a-kind.md).

Behaviour worth knowing, beyond the tables:

- **file** writes atomically (a 0600 temp file in the same directory, fsync, owner and mode set,
  rename, directory fsync) and keeps replaced or removed content in \`STATE_DIR/backups\`
  (\`tend backup list [PATH]\`, \`tend backup restore PATH [--at ID]\`). A symlink where a file or
  directory should be is refused unless \`follow_symlink: true\`; tend replaces neither a directory
  with a file nor the reverse, and removes only empty directories. A file replaced keeps its owner
  and mode unless the resource names them. The check is one \`lstat\`; content is read only when
  the sizes match, and compared byte for byte. Text changes are shown as a unified diff.
- **package** reads every package of the catalog with one \`dpkg-query\`. Installs never prompt
  (\`DEBIAN_FRONTEND=noninteractive\`, \`--force-confold\`); package resources next to each other in
  the run order go in one \`apt-get install\` when the engine hands the kind's \`prefetch\` the whole
  run order (see writing-a-kind.md). It waits for
  the dpkg lock up to 120 s (\`TEND_DPKG_LOCK_TIMEOUT\` seconds overrides), then fails naming the
  holder's pid; it never deletes lock files. An interrupted dpkg (\`dpkg --audit\`) fails the install
  with what dpkg reports; tend does not run \`dpkg --configure -a\` on its own. \`absent\` removes
  (keeps conffiles).
- **service** runs \`systemctl daemon-reload\` before a start or restart when the unit needs it (a
  file resource wrote a unit file in this run, or \`NeedDaemonReload=yes\`): once per run in the usual
  case. A started unit must stay active for 3 s, or the resource fails with the unit's last journal
  lines. A notification restarts a unit that should run (or runs, when \`ensure\` is unset).
- **user** and **group** read /etc/passwd and /etc/group and change them with
  useradd/usermod/userdel and groupadd/groupmod/groupdel. \`groups\` is a minimum: other memberships
  are left alone. \`system\` applies only when creating.
- **exec** runs argv without a shell unless the recipe said \`shell: true\`. Guards (\`creates\`,
  \`unless\`, \`onlyif\`) decide whether it runs; \`unless\`/\`onlyif\` run in plans too (read-only probes
  by contract). A command runs at most once per run (a notification after it ran does not run it
  again); \`refresh_only\` runs only when notified. On timeout the whole process group gets SIGTERM,
  then SIGKILL 10 s later. The report keeps the last 8 KiB of output.
`;

export function resourcesDoc(): string {
  const order = ["package", "file", "service", "user", "group", "exec"] as const;
  return renderReference(
    order.map((t) => kinds[t]),
    INTRO,
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = resourcesDoc();
  if (process.argv.includes("--check")) {
    const now = readFileSync(resourcesDocPath, "utf8");
    if (now !== text) {
      process.stderr.write("docs/resources.md is out of date: run npm run gen\n");
      process.exit(1);
    }
  } else {
    writeFileSync(resourcesDocPath, text);
    process.stdout.write(`wrote ${resourcesDocPath}\n`);
  }
}
