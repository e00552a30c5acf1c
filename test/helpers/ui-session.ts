/** Signing in to the dashboard through `inject()`: the login form's CSRF cookie, then the post. */
import type { TestServer } from "./server-app.js";

export const formHeaders = { "content-type": "application/x-www-form-urlencoded" };

export const cookiesOf = (res: { headers: Record<string, unknown> }) =>
  [res.headers["set-cookie"] ?? []].flat().map(String);

export const cookieValue = (cookies: string[], name: string) =>
  cookies
    .find((c) => c.startsWith(`${name}=`))
    ?.split(";")[0]
    ?.slice(name.length + 1);

export const csrfIn = (body: string) => /name="_csrf" value="([^"]+)"/.exec(body)?.[1] ?? "";

export interface UiLogin {
  status: number;
  body: string;
  /** `tend_session=…`, or undefined when refused. */
  cookie: string | undefined;
  /** The session's CSRF token (read from a page), when signed in. */
  csrf: string;
}

/** Signs in with `{user, password}` or `{token}`. */
export async function uiLogin(
  s: TestServer,
  form: { user?: string; password?: string; token?: string },
  headers: Record<string, string> = {},
): Promise<UiLogin> {
  const page = await s.app.inject({ url: "/ui/login", headers });
  const loginCookie = cookieValue(cookiesOf(page), "tend_login");
  const res = await s.app.inject({
    method: "POST",
    url: "/ui/login",
    headers: { ...formHeaders, ...headers, cookie: `tend_login=${loginCookie}` },
    payload: new URLSearchParams({ _csrf: csrfIn(page.body), ...form }).toString(),
  });
  const session = cookieValue(cookiesOf(res), "tend_session");
  if (!session) return { status: res.statusCode, body: res.body, cookie: undefined, csrf: "" };
  const cookie = `tend_session=${session}`;
  const fleet = await s.app.inject({ url: "/ui/drift", headers: { cookie } });
  return { status: res.statusCode, body: res.body, cookie, csrf: csrfIn(fleet.body) };
}
