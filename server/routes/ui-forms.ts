/**
 * What the console's form routes share (ui-actions.ts, ui-run-actions.ts): the form's schema, the
 * roles, the confirmation check, node lists and the digest a confirmed selection carries.
 */
import { createHash } from "node:crypto";
import type { Deps } from "../deps.js";
import { errorReplies, HttpError } from "../http.js";
import { type Html, html } from "../ui/html.js";
import { nodeHref } from "../ui/layout.js";
import { send } from "../ui/respond.js";

export type Form = Record<string, string | undefined>;
const field = { type: "string", maxLength: 300 };
export const schema = {
  body: {
    type: "object",
    additionalProperties: false,
    properties: {
      ...Object.fromEntries(
        ["_csrf", "confirm", "status", "drifted", "stale", "q", "uses", "ttl", "selection"].map((k) => [
          k,
          field,
        ]),
      ),
      // The fleet search (server/search/parse.ts's maxLength).
      where: { type: "string", maxLength: 2000 },
    },
  },
  response: { 200: { type: "string" }, ...errorReplies },
};
export const operator = { auth: "session" as const, role: "operator" as const };
export const admin = { auth: "session" as const, role: "admin" as const };
/** Names listed on a confirmation page before "and N more". */
const listed = 30;

export const nodeList = (names: string[]) =>
  html`<ul class="nodes">${names.slice(0, listed).map((n) => html`<li><a href="${nodeHref(n)}">${n}</a></li>`)}${names.length > listed ? html`<li>and ${names.length - listed} more</li>` : ""}</ul>`;
/** A short digest of a selection: the confirmation carries it, so a changed selection is confirmed again. */
export const selectionDigest = (names: string[]) =>
  createHash("sha256").update(names.join("\n")).digest("hex").slice(0, 24);

export const confirmed = (body: unknown) => (body as Form | undefined)?.confirm === "yes";

export const page = (
  reply: Parameters<typeof send>[0],
  session: Parameters<typeof send>[1]["session"],
  title: string,
  body: Html,
) => send(reply, { title, session }, body);

export async function ensureNode(d: Deps, name: string): Promise<void> {
  if (!(await d.storage.nodeExists(name))) throw new HttpError(404, "TEND_E_HTTP_NOT_FOUND", "No such node.");
}
