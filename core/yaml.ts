/**
 * YAML with source positions: parse once, and turn a JSON path (`["resources", 3, "mode"]`) back
 * into file:line:column when something is wrong.
 *
 * Two parsers, for speed: js-yaml reads the value (several times faster on big recipes, and it
 * records where each list item starts, which is all a valid repository needs: a resource's line).
 * The `yaml` package, which keeps a full syntax tree, is used only for what is rare — a file that
 * does not parse (its messages are better) and locating the exact key of a mistake.
 */
import { load } from "js-yaml";
import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, Parser, parseDocument } from "yaml";
import type { Problem } from "./errors.js";

export type PathSegment = string | number;
export interface Position {
  line: number;
  column: number;
}

export interface ParsedYaml {
  value: unknown;
  /** Where the node at `path` starts; with `key`, where its key starts (for unknown keys). */
  locate(path: PathSegment[], key?: boolean): Position | undefined;
}

export function parseYaml(text: string, file: string): { parsed?: ParsedYaml; problems: Problem[] } {
  // Where every node starts, kept only for the items of sequences (a resource's line). The
  // listener runs for every node of the file, so it allocates little: numbers in per-depth arrays,
  // and one flat [line, column, line, column, ...] array per sequence.
  const lines: number[] = [];
  const columns: number[] = [];
  const children: (number[] | undefined)[] = [];
  let depth = 0;
  const itemPositions = new Map<unknown[], number[]>();
  let value: unknown;
  try {
    value = load(text, {
      json: false,
      listener(event, state) {
        if (event === "open") {
          lines[depth] = state.line + 1;
          columns[depth] = state.position - state.lineStart + 1;
          children[depth] = undefined;
          depth++;
          return;
        }
        depth--;
        if (depth > 0) {
          const siblings = children[depth - 1];
          if (siblings) siblings.push(lines[depth]!, columns[depth]!);
          else children[depth - 1] = [lines[depth]!, columns[depth]!];
        }
        const items = children[depth];
        if (items && Array.isArray(state.result)) itemPositions.set(state.result, items);
      },
    });
  } catch (err) {
    // js-yaml stops at 100 levels of nesting. The slow parser would recurse until the stack
    // overflows, and after that V8 can abort the whole process on its next regular expression
    // ("RegExpCompiler Allocation failed"): a commit of 300,000 "[" would kill the server.
    const e = err as { reason?: string; mark?: { line: number; column: number } };
    if (e.reason?.startsWith("nesting exceeded maxDepth") && e.mark) {
      return {
        problems: [
          {
            code: "TEND_E_YAML",
            message: "YAML syntax: the document nests deeper than 100 levels",
            file,
            line: e.mark.line + 1,
            column: e.mark.column + 1,
          },
        ],
      };
    }
    // The slow parser gives the better message and position, but its time grows with the square
    // of the nesting: 64 KiB of "[" after a mistake js-yaml saw first took it 15 s. Deeply
    // bracketed text keeps js-yaml's own message and place.
    if (e.mark && bracketDepth(text) > 100) {
      return {
        problems: [
          {
            code: "TEND_E_YAML",
            message: `YAML syntax: ${firstLine(e.reason ?? (err as Error).message)}`,
            file,
            line: e.mark.line + 1,
            column: e.mark.column + 1,
          },
        ],
      };
    }
    return parseWithTree(text, file);
  }
  let tree: ParsedYaml | undefined;
  const locate = (path: PathSegment[], key = false): Position | undefined => {
    const last = path[path.length - 1];
    if (!key && typeof last === "number") {
      let parent: unknown = value;
      for (let k = 0; k < path.length - 1; k++)
        parent = (parent as Record<string | number, unknown> | undefined)?.[path[k]!];
      const items = Array.isArray(parent) ? itemPositions.get(parent) : undefined;
      const line = items?.[2 * last];
      if (line !== undefined) return { line, column: items![2 * last + 1]! };
    }
    tree ??= parseWithTree(text, file).parsed;
    return tree?.locate(path, key);
  };
  return { parsed: { value, locate }, problems: [] };
}

/** The deepest run of open "[" / "{" in `text`, counted naively (quotes and comments included). */
function bracketDepth(text: string): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 91 || c === 123) {
      if (++depth > max) max = depth;
    } else if ((c === 93 || c === 125) && depth > 0) depth--;
  }
  return max;
}

/** Where the quoted scalar that runs up to `end` opens, from the syntax tokens. */
function unclosedQuoteAt(text: string, end: number): number | undefined {
  let found: number | undefined;
  const walk = (o: unknown, depth: number): void => {
    if (found !== undefined || !o || typeof o !== "object" || depth > 200) return;
    const t = o as { type?: string; offset?: number; source?: string };
    if (
      (t.type === "double-quoted-scalar" || t.type === "single-quoted-scalar") &&
      typeof t.offset === "number" &&
      typeof t.source === "string" &&
      t.offset + t.source.length >= end
    ) {
      found = t.offset;
      return;
    }
    for (const v of Object.values(o)) walk(v, depth + 1);
  };
  for (const token of new Parser().parse(text)) walk(token, 0);
  return found;
}

/** The `yaml` package's full tree: exact positions for every node and key. */
function parseWithTree(text: string, file: string): { parsed?: ParsedYaml; problems: Problem[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true });
  if (doc.errors.length > 0) {
    return {
      // The first few: a file of 300,000 unclosed "[" has an error for each, and a list that long
      // overflows the stack where it is spread (`problems.push(...list)`).
      problems: doc.errors.slice(0, MAX_ERRORS).map((e) => {
        // An unclosed quote is found at the end of the file; the mistake is where it opened.
        const opened = e.code === "MISSING_CHAR" ? unclosedQuoteAt(text, e.pos[0]) : undefined;
        const pos = lineCounter.linePos(opened ?? e.pos[0]);
        return {
          code: "TEND_E_YAML" as const,
          message: opened
            ? `YAML syntax: this quote is never closed (the string runs to line ${lineCounter.linePos(e.pos[0]).line}); close it or remove it`
            : `YAML syntax: ${firstLine(e.message)}`,
          file,
          line: pos.line,
          column: pos.col,
        };
      }),
    };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // toJS throws for an alias naming no anchor, and for aliases that expand past maxAliasCount
    // (a "billion laughs"): a problem in the file, not an exception.
    return {
      problems: [{ code: "TEND_E_YAML", message: `YAML: ${firstLine((err as Error).message)}`, file }],
    };
  }
  const locate = (path: PathSegment[], key = false): Position | undefined => {
    let node: unknown = doc.contents;
    let keyNode: unknown;
    for (const seg of path) {
      keyNode = undefined;
      if (isMap(node)) {
        const pair = node.items.find(
          (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg),
        );
        if (!pair) break;
        keyNode = pair.key;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === "number") {
        node = node.items[seg];
      } else break;
    }
    const target = (key && keyNode ? keyNode : node) as Node | undefined;
    const offset = target?.range?.[0];
    if (offset === undefined) return undefined;
    const pos = lineCounter.linePos(offset);
    return { line: pos.line, column: pos.col };
  };
  return { parsed: { value, locate }, problems: [] };
}

const MAX_ERRORS = 20;

function firstLine(message: string): string {
  return (message.split("\n")[0] ?? message)
    .replace(/ at line \d+, column \d+:?$/, "")
    .replace(/^Maximum call stack size exceeded$/, "the document nests too deeply");
}
