/** `tend agent`'s usage and options, shared by its sub-commands (agent.ts dispatches them). */
import type { parseArgs } from "node:util";
import { DEFAULT_CONFIG_FILE } from "../../agent/config.js";

export const USAGE = `usage: tend agent enroll --server URL --token TOKEN [--node NAME] [--server-key FINGERPRINT|PEM-FILE]
                         [--insecure-http] [--config FILE] [--force]
       tend agent run [--noop] [--if-changed] [--json] [--environment BRANCH] [--config FILE]
                      [--trigger watch --resource ID...]
       tend agent daemon [--config FILE]
       tend agent flush [--config FILE]

enroll   trade an enrolment token for this node's credential, pin the server's key, write the
         configuration (default ${DEFAULT_CONFIG_FILE}); the token may also come from TEND_ENROLL_TOKEN;
         --server-key refuses any server key but this one (\`tend server key\` on the server prints it);
         plain http:// is refused for any host but this one unless --insecure-http is given
run      one run: fetch the signed catalog (or use the cached one when the server is away),
         converge, report; --trigger watch --resource ID... converges only those resources (and
         what they notify) from the cached catalog, as the daemon does in watch mode (--resource -:
         the ids are read from standard input, one a line, once it closes);
         --if-changed: only when the server's catalog differs from the cached one (what the
         daemon runs for a "new commit" push signal); --environment asks the server for that
         environment (a branch it follows; default the configuration's environment:), granted
         only when nodes.yaml allows this node it, else the run says why
daemon   run on the configured schedule, with this node's splay, and when the server signals it
         over the push channel
flush    send the reports waiting in the spool (the daemon does this between runs); exit 0 when
         the spool is empty, 3 when reports are left

exit codes (run): 0 nothing changed, 2 changes, 4 failures, 6 both, 1 could not start`;

export const options = {
  server: { type: "string" },
  token: { type: "string" },
  node: { type: "string" },
  config: { type: "string" },
  "state-dir": { type: "string" },
  force: { type: "boolean" },
  "server-key": { type: "string" },
  "insecure-http": { type: "boolean" },
  noop: { type: "boolean" },
  "if-changed": { type: "boolean" },
  json: { type: "boolean" },
  "log-line": { type: "boolean" },
  trigger: { type: "string" },
  environment: { type: "string" },
  resource: { type: "string", multiple: true },
  debug: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

export type Values = ReturnType<
  typeof parseArgs<{ options: typeof options; allowPositionals: true }>
>["values"];
