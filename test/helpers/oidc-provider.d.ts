// The little of oidc-provider (a real OpenID Provider, a dev dependency) the OIDC tests use; the
// package ships no types of its own.
declare module "oidc-provider" {
  import type { Server } from "node:http";
  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    listen(port: number, host: string): Server;
  }
}
