/**
 * The login form: an account's name and password (`tend server user add`), or an admin token
 * (`tend server token create --admin`) for those who have no account.
 */
import { type Html, html } from "../html.js";

/**
 * `tokenOpen`: the last attempt used a token, so its field is shown open. `oidcLabel`: the OIDC
 * provider's name, when one is configured (its button comes first).
 */
export function loginPage(
  csrf: string,
  problem: string | null,
  tokenOpen = false,
  oidcLabel: string | null = null,
): Html {
  return html`<section class="login">
<h1>Sign in</h1>
${problem ? html`<p class="error" role="alert">${problem}</p>` : ""}
${oidcLabel ? html`<p><a class="button" href="/ui/login/oidc">Sign in with ${oidcLabel}</a></p><p class="muted">or with an account of this server:</p>` : ""}
<form method="post" action="/ui/login">
<input type="hidden" name="_csrf" value="${csrf}">
<label>user <input type="text" name="user" autocomplete="username" autocapitalize="none" spellcheck="false" maxlength="63" autofocus></label>
<label>password <input type="password" name="password" autocomplete="current-password" maxlength="1024"></label>
<details${tokenOpen ? html` open` : ""}><summary>or use an admin token</summary>
<p class="muted">For those without an account: a token from <code>tend server token create --admin</code>.</p>
<label>admin token <input type="password" name="token" autocomplete="off"></label>
</details>
<button type="submit">Sign in</button>
</form>
</section>`;
}
