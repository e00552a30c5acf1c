/**
 * HTML by tagged template with escaping by default: every interpolated value is text unless it is
 * already `Html` (the result of another `html` template). Facts, report strings, diffs and errors
 * come from nodes and are untrusted (TRUST C5): they can only ever appear verbatim.
 */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const entities: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => entities[c] ?? c);
}

type Value = Html | string | number | boolean | null | undefined | Value[];

function render(v: Value): string {
  if (v === null || v === undefined || v === false) return "";
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map(render).join("");
  return escapeHtml(String(v));
}

export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let out = strings[0] ?? "";
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? "");
  return new Html(out);
}

/** Markup the code itself wrote (never data): an SVG path, a constant. */
export function trusted(text: string): Html {
  return new Html(text);
}

/** A URL query string from the given parameters, empty ones left out. */
export function query(params: Record<string, string | number | boolean | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === "" || v === false) continue;
    q.set(k, v === true ? "1" : String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** "3 min ago", "2 h ago", "5 d ago", from an ISO time or epoch ms. */
export function ago(when: string | number | null, now: number): string {
  if (when === null) return "never";
  const t = typeof when === "number" ? when : Date.parse(when);
  if (Number.isNaN(t)) return String(when);
  const s = Math.round((now - t) / 1000);
  if (s < 0) return "in the future";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

/** "45 s", "3 min", "2 h", "5 d": a length of time, at least 0. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86_400)} d`;
}

export const shortSha = (sha: string | null): string => (sha ? sha.slice(0, 8) : "none");
