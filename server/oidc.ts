/**
 * Dashboard sign-in with an OpenID Connect provider (`oidc:` in server.yaml): the authorization
 * code flow with PKCE, state and nonce, through openid-client (discovery, the token exchange and
 * the ID token's signature, issuer, audience, expiry and nonce checks are its work); claims the ID
 * token lacks are read from the provider's userinfo endpoint (its subject must match). Nothing is kept
 * on the server between the two legs: the state, nonce and PKCE verifier ride in a short-lived
 * HttpOnly cookie, so the callback may reach any server of a fleet. A person's role comes from a
 * claim of the ID token (`role_claim`, mapped by `roles`); someone granted no role is refused.
 */
import { readFileSync } from "node:fs";
import * as client from "openid-client";
import type { OidcConfig } from "./config.js";
import { type Role, roles } from "./roles.js";

/** What the browser carries between the redirect and the callback (in the `tend_oidc` cookie). */
export interface OidcPending {
  state: string;
  nonce: string;
  verifier: string;
}

/** Who the provider signed in, and the role tend grants them (null: none). */
export interface OidcIdentity {
  name: string;
  role: Role | null;
  /** The role claim's values as the provider sent them (for the refusal's message). */
  granted: string[];
}

export class OidcClient {
  private discovered: Promise<client.Configuration> | null = null;

  constructor(readonly config: OidcConfig) {}

  /** The provider's configuration, discovered once (again after a failure). */
  private configuration(): Promise<client.Configuration> {
    if (!this.discovered) {
      const secret = readFileSync(this.config.clientSecretFile, "utf8").trim();
      const insecure = this.config.issuer.startsWith("http://"); // loopback only (config.ts)
      this.discovered = client
        .discovery(
          new URL(this.config.issuer),
          this.config.clientId,
          secret,
          undefined,
          insecure ? { execute: [client.allowInsecureRequests] } : undefined,
        )
        .catch((err: unknown) => {
          this.discovered = null;
          throw new Error(
            `the identity provider at ${this.config.issuer} could not be reached or read (${(err as Error).message})`,
          );
        });
    }
    return this.discovered;
  }

  /** Where to send the browser, and what to keep for the callback. */
  async start(redirectUri: string): Promise<{ url: URL; pending: OidcPending }> {
    const config = await this.configuration();
    const pending: OidcPending = {
      state: client.randomState(),
      nonce: client.randomNonce(),
      verifier: client.randomPKCECodeVerifier(),
    };
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: this.config.scopes.join(" "),
      code_challenge: await client.calculatePKCECodeChallenge(pending.verifier),
      code_challenge_method: "S256",
      state: pending.state,
      nonce: pending.nonce,
    });
    return { url, pending };
  }

  /** The callback: the code exchanged and the ID token checked; who it names and their role. */
  async finish(currentUrl: URL, pending: OidcPending): Promise<OidcIdentity> {
    const config = await this.configuration();
    const tokens = await client.authorizationCodeGrant(config, currentUrl, {
      pkceCodeVerifier: pending.verifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
      idTokenExpected: true,
    });
    const idClaims = (tokens.claims() ?? {}) as Record<string, unknown>;
    // Many providers put profile and group claims in the userinfo answer rather than the ID token
    // (OIDC Core 5.4, with an access token): asked for them, its subject checked against the token's.
    let info: Record<string, unknown> = {};
    if (config.serverMetadata().userinfo_endpoint && typeof idClaims.sub === "string") {
      info = (await client.fetchUserInfo(config, tokens.access_token, idClaims.sub)) as Record<
        string,
        unknown
      >;
    }
    return identityOf({ ...info, ...idClaims }, this.config);
  }
}

/** The name and role the claims give under `config`'s mapping. */
export function identityOf(claims: Record<string, unknown>, config: OidcConfig): OidcIdentity {
  const named = [config.nameClaim, "preferred_username", "email", "sub"]
    .filter((c): c is string => Boolean(c))
    .map((c) => claims[c])
    .find((v) => typeof v === "string" && v.length > 0) as string | undefined;
  const raw = claims[config.roleClaim];
  const granted = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw])
    .filter((v): v is string => typeof v === "string")
    .slice(0, 200);
  let role: Role | null = null;
  for (const r of roles) {
    const values = config.roles[r] ?? [];
    if (values.includes("*") || values.some((v) => granted.includes(v))) role = r; // roles ascend
  }
  return { name: (named ?? String(claims.sub ?? "unknown")).slice(0, 200), role, granted };
}
