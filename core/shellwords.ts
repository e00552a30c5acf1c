/**
 * Splits a command line into argv the way a POSIX shell splits words (quotes and backslashes),
 * without running a shell: no variables, globs, pipes or redirections. A command that relies on
 * those needs `shell: true`, and saying so beats silently passing `|` to a program as an argument.
 */
export type SplitResult = { argv: string[] } | { error: string };

const OPERATORS = new Set(["|", "||", "&", "&&", ";", ">", ">>", "<", "<<", "2>", "2>&1", "&>"]);

export function splitCommand(line: string): SplitResult {
  const argv: string[] = [];
  let word = "";
  let inWord = false;
  let quote: '"' | "'" | null = null;
  let quotedWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote === "'") {
      if (c === "'") quote = null;
      else word += c;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === "\\" && i + 1 < line.length && '"\\$`'.includes(line[i + 1]!)) word += line[++i];
      else if (c === "$" || c === "`") return { error: `uses "${c}" (a variable or command substitution)` };
      else word += c;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
      quotedWord = true;
    } else if (c === "\\") {
      if (i + 1 < line.length) word += line[++i];
      inWord = true;
    } else if (c === " " || c === "\t" || c === "\n") {
      if (inWord) {
        if (!quotedWord && OPERATORS.has(word)) return { error: `uses the shell operator "${word}"` };
        argv.push(word);
      }
      word = "";
      inWord = false;
      quotedWord = false;
    } else {
      if ("|&;<>()$`*?".includes(c)) {
        const what = "*?".includes(c)
          ? "a glob"
          : c === "$" || c === "`"
            ? "a variable or command substitution"
            : "a shell operator";
        return { error: `uses "${c}" (${what})` };
      }
      word += c;
      inWord = true;
    }
  }
  if (quote) return { error: `has an unterminated ${quote} quote` };
  if (inWord) argv.push(word);
  if (argv.length === 0) return { error: "is empty" };
  return { argv };
}
