/**
 * YAML with source positions: parse once, and turn a JSON path (`["resources", 3, "mode"]`) back
 * into file:line:column when something is wrong. Positions are computed only on demand, so a valid
 * file costs no more than a plain parse.
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
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
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true });
  if (doc.errors.length > 0) {
    return {
      problems: doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return {
          code: "TEND_E_YAML" as const,
          message: `YAML syntax: ${firstLine(e.message)}`,
          file,
          line: pos.line,
          column: pos.col,
        };
      }),
    };
  }
  const value = doc.toJS({ maxAliasCount: 100 });
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

function firstLine(message: string): string {
  return (message.split("\n")[0] ?? message).replace(/ at line \d+, column \d+:?$/, "");
}
