/**
 * The `tend` command: dispatches to the module that owns each sub-command, imported lazily so that
 * a run only loads what it needs (start-up cost matters for the no-op run).
 */
import { printError } from "./print-error.js";

type Main = (argv: string[]) => Promise<number>;

const commands: Record<string, { summary: string; load: () => Promise<Main> }> = {
  apply: {
    summary: "converge this box from a recipe folder (masterless)",
    load: async () => (await import("./commands/apply.js")).applyMain,
  },
  plan: {
    summary: "show what apply would change, with diffs",
    load: async () => (await import("./commands/apply.js")).planMain,
  },
  validate: {
    summary: "check a recipe repository; file:line errors",
    load: async () => (await import("./commands/validate.js")).main,
  },
  compile: {
    summary: "print the catalog compiled for a node (JSON)",
    load: async () => (await import("./commands/compile.js")).main,
  },
  facts: {
    summary: "print this box's facts",
    load: async () => (await import("./commands/facts.js")).main,
  },
  backup: {
    summary: "list or restore file backups",
    load: async () => (await import("./commands/backup.js")).main,
  },
  agent: {
    summary: "the pull agent: enroll, run, daemon",
    load: async () => (await import("./commands/agent.js")).main,
  },
  deploy: {
    summary: "roll the live commit out to the fleet: a canary, then waves",
    load: async () => (await import("./commands/deploy.js")).main,
  },
  server: {
    summary: "run the tend server; `server token create` makes tokens",
    load: async () => (await import("../server/main.js")).main,
  },
};

export function usage(): string {
  const lines = [
    "usage: tend COMMAND [options]   (tend COMMAND --help for a command's options)",
    "",
    "commands:",
  ];
  for (const [name, c] of Object.entries(commands)) lines.push(`  ${name.padEnd(10)} ${c.summary}`);
  return lines.join("\n");
}

export async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(`${usage()}\n`);
    return name ? 0 : 1;
  }
  if (name === "--version" || name === "-v") {
    process.stdout.write(`tend ${VERSION}\n`);
    return 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`tend: unknown command "${name}"\n\n${usage()}\n`);
    return 1;
  }
  try {
    return await (await command.load())(rest);
  } catch (err) {
    return printError(err, rest.includes("--debug"));
  }
}

declare const TEND_VERSION: string | undefined;
export const VERSION = typeof TEND_VERSION === "string" ? TEND_VERSION : "0.1.0-dev";
