/**
 * The two pages every console action goes through: a confirmation (what will happen, to what, a
 * button that posts the same form again with `confirm=yes`, and a way back), and the outcome.
 */
import { type Html, html } from "../html.js";

export interface Confirmation {
  title: string;
  /** What will happen, in a sentence or two. */
  body: Html;
  action: string;
  fields: Record<string, string | undefined>;
  button: string;
  danger?: boolean;
  back: string;
  csrf: string;
  /** Choices the form carries (inputs), shown above its button. */
  inputs?: Html;
}

export function confirmPage(c: Confirmation): Html {
  const hidden = Object.entries(c.fields).filter(([, v]) => v !== undefined && v !== "");
  return html`<section class="confirm">
<h1>${c.title}</h1>
${c.body}
<form method="post" action="${c.action}" class="confirm">
<input type="hidden" name="_csrf" value="${c.csrf}">
<input type="hidden" name="confirm" value="yes">${hidden.map(([k, v]) => html`<input type="hidden" name="${k}" value="${v ?? ""}">`)}
${c.inputs ?? ""}
<button type="submit"${c.danger ? html` class="danger"` : ""}>${c.button}</button>
<a href="${c.back}">Cancel</a>
</form>
</section>`;
}

export function resultPage(title: string, body: Html, back: { href: string; label: string }): Html {
  return html`<section class="result">
<h1>${title}</h1>
${body}
<p><a href="${back.href}">${back.label}</a></p>
</section>`;
}

/** A secret shown once, with the line that uses it, each selectable whole. */
export function secretBlock(label: string, secret: string, install: string | null): Html {
  return html`<p class="warn">Copy it now: it is shown once, and only its hash is kept.</p>
<dl class="meta secret"><dt>${label}</dt><dd><code class="secret">${secret}</code></dd>
${install ? html`<dt>install on a new box</dt><dd><pre class="install">${install}</pre></dd>` : ""}</dl>`;
}
