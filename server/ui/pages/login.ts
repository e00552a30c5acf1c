/** The login form: an admin token (from `tend server token create --admin`) opens a session. */
import { type Html, html } from "../html.js";

export function loginPage(csrf: string, problem: string | null): Html {
  return html`<section class="login">
<h1>Sign in</h1>
<p class="muted">Paste an admin token (<code>tend server token create --admin</code>).</p>
${problem ? html`<p class="error" role="alert">${problem}</p>` : ""}
<form method="post" action="/ui/login">
<input type="hidden" name="_csrf" value="${csrf}">
<label>admin token <input type="password" name="token" autocomplete="current-password" required autofocus></label>
<button type="submit">Sign in</button>
</form>
</section>`;
}
