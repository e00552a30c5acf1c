/**
 * Reading a new password for `tend server user`: from `--password-file FILE`, from standard input
 * when it is not a terminal (a pipe: `… | tend server user add alice --role viewer`), or by asking
 * twice on the terminal without echo. Never from the command line, where `ps` and shell history
 * would keep it.
 */
import { readFileSync } from "node:fs";
import { TendError } from "../../core/errors.js";

/** The first line of `text`, without its line ending. */
const firstLine = (text: string) => text.split(/\r?\n/, 1)[0] ?? "";

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** Asks on the terminal with echo off; resolves on Enter, rejects on Ctrl-C or Ctrl-D. */
function ask(prompt: string): Promise<string> {
  const input = process.stdin;
  process.stderr.write(prompt);
  input.setRawMode(true);
  input.resume();
  return new Promise((resolve, reject) => {
    let typed = "";
    const done = (fn: () => void) => {
      input.setRawMode(false);
      input.pause();
      input.removeListener("data", onData);
      process.stderr.write("\n");
      fn();
    };
    const onData = (data: Buffer) => {
      for (const ch of data.toString("utf8")) {
        if (ch === "\r" || ch === "\n") return done(() => resolve(typed));
        if (ch === "\u0003" || ch === "\u0004")
          return done(() => reject(new TendError("TEND_E_USAGE", "cancelled")));
        if (ch === "\u007f" || ch === "\b") typed = typed.slice(0, -1);
        else typed += ch;
      }
    };
    input.on("data", onData);
  });
}

export async function readNewPassword(file: string | undefined): Promise<string> {
  if (file !== undefined) {
    try {
      return firstLine(readFileSync(file, "utf8"));
    } catch (err) {
      throw new TendError(
        "TEND_E_NOT_FOUND",
        `cannot read the password file ${file}: ${(err as Error).message}`,
      );
    }
  }
  if (!process.stdin.isTTY) return firstLine(await readStdin());
  const first = await ask("new password: ");
  const again = await ask("the same again: ");
  if (first !== again) throw new TendError("TEND_E_USAGE", "the two passwords differ; nothing was changed");
  return first;
}
