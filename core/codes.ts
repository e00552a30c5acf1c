/**
 * The catalogue of coded errors. Every code is documented in docs/errors.md; a test keeps the two
 * in sync. Codes are stable: tools and people search for them.
 */
export const codes = {
  TEND_E_YAML: "A YAML file does not parse.",
  TEND_E_SCHEMA: "A value does not match its JSON Schema (wrong type, unknown key, missing field).",
  TEND_E_NO_NODES: "The repository has no nodes.yaml.",
  TEND_E_RECIPE_MISSING: "A recipe named in nodes.yaml or an include does not exist.",
  TEND_E_INCLUDE_CYCLE: "Recipes include each other in a cycle.",
  TEND_E_RESOURCE_KIND:
    "A resource does not name exactly one kind by its key (docs/resources.md lists the kinds).",
  TEND_E_DUPLICATE: "Two recipes declare the same resource or check id with different attributes.",
  TEND_E_UNKNOWN_REF:
    "A require or notify (of a resource or a check) names a resource that no recipe of the node declares.",
  TEND_E_DEPENDENCY_CYCLE: "Resources require each other in a cycle.",
  TEND_E_TEMPLATE_SYNTAX: "A Liquid template does not parse.",
  TEND_E_TEMPLATE_RENDER: "A Liquid template fails to render (an undefined variable or filter).",
  TEND_E_TEMPLATE_MISSING: "A template named by a resource does not exist.",
  TEND_E_SOURCE_MISSING: "A file named by `source:` does not exist.",
  TEND_E_FILE_TOO_LARGE:
    "A recipe file is over the size limit (64 MiB by default); a large artifact belongs in an `archive` resource.",
  TEND_E_PATH_ESCAPE: "A path leaves the repository (`..`, an absolute path, or a symlink out).",
  TEND_E_EXEC_SHELL: "An exec command uses shell syntax without `shell: true`.",
  TEND_E_CHECK:
    "A health check cannot be probed as written: not an http(s) URL, not HOST:PORT, or a command with shell syntax.",
  TEND_E_NODE_NAME: "A node name is not a valid name.",
  TEND_E_VALIDATION: "A repository has errors; each is listed with its file:line.",
  TEND_E_CONFIG: "A configuration file is invalid.",
  TEND_E_USAGE: "A command was called with wrong arguments.",
  TEND_E_LOCKED: "Another tend run holds the lock.",
  TEND_E_CATALOG: "A catalog is missing, invalid or does not verify.",
  TEND_E_NOT_FOUND: "A file or folder named on the command line does not exist.",
  TEND_E_FACTS_FROM:
    "`tend plan --facts-from` could not read the node's facts from the server (unreachable, token refused, no such node or no facts yet, incomplete facts).",
  TEND_E_FILE_SYMLINK:
    "A symlink sits where a file resource wants a file or directory, and follow_symlink is not set.",
  TEND_E_FILE_TYPE:
    "A path holds another kind of object (a directory where a file is wanted, or the reverse).",
  TEND_E_UNKNOWN_OWNER: "A resource names a user or group that does not exist on the box.",
  TEND_E_PACKAGE_NOT_FOUND: "A package resource names a package (or version) that apt does not know.",
  TEND_E_DPKG_LOCKED: "Another process held the dpkg lock for longer than the package lock timeout.",
  TEND_E_DPKG_INTERRUPTED: "dpkg was interrupted earlier (dpkg --audit reports half-installed packages).",
  TEND_E_COMMAND_FAILED: "A system command that a resource kind ran (apt-get, useradd, systemctl...) failed.",
  TEND_E_EXEC_FAILED: "An exec resource's command exited non-zero.",
  TEND_E_EXEC_TIMEOUT: "An exec resource's command ran past its timeout; its process group was killed.",
  TEND_E_GIT_PATH:
    "A git resource's path holds something other than a git checkout (a file, or a directory with files).",
  TEND_E_GIT_REVISION: "A git resource's revision is no branch or tag of its repository.",
  TEND_E_GIT_DIRTY: "A git checkout has local modifications and its resource does not say force: true.",
  TEND_E_ARCHIVE_CHECKSUM:
    "A downloaded archive's sha256 is not the one its resource names; nothing was changed.",
  TEND_E_ARCHIVE_DOWNLOAD:
    "An archive could not be downloaded (unreachable, an HTTP error, a body cut off, too large).",
  TEND_E_ARCHIVE_FORMAT:
    "An archive to extract is neither a tar file (as the box's tar reads them) nor a zip file.",
  TEND_E_ARCHIVE_UNSAFE:
    "An archive holds an entry that would land outside its directory (.., an absolute path, a link out) or a device.",
  TEND_E_ARCHIVE_PATH: "An archive resource's path holds something tend did not put there.",
  TEND_E_SYSTEMD_UNIT:
    "A systemd_unit resource cannot converge as given (no content, enabled on a drop-in, a masked unit's symlink).",
  TEND_E_SERVICE_NOT_FOUND: "A service resource names a systemd unit that does not exist.",
  TEND_E_SERVICE_FAILED:
    "A service did not stay running after it was started (the report carries its last journal lines).",
  TEND_E_LINE_NO_FILE: "A line resource names a file that does not exist (a file resource can create it).",
  TEND_E_LINE_TEXT: "A line resource's text holds a newline: a line is one line.",
  TEND_E_SYSCTL_UNKNOWN: "A sysctl resource names a kernel parameter this kernel does not have.",
  TEND_E_SYSCTL_READONLY:
    "A kernel parameter cannot be written on this box (/proc/sys read-only in a container, or not permitted).",
  TEND_E_SYSCTL_VALUE: "The kernel refused a sysctl resource's value (out of range or malformed).",
  TEND_E_SSH_KEY:
    "An authorized_key resource's key is not a usable public key (its base64 part is not of its type).",
  TEND_E_SSH_NO_HOME: "An authorized_key resource's user has no home directory to hold ~/.ssh.",
  TEND_E_KEY_FINGERPRINT:
    "An OpenPGP key (an apt_repository's signing key) does not match its fingerprint pin, or is not a public key.",
  TEND_E_APT_UPDATE:
    "apt-get update failed for a repository (unreachable, or its signature does not verify).",
  TEND_E_BACKUP_NOT_FOUND: "No backup matches the path (and --at ID) given to tend backup.",
  TEND_E_GIT: "The server could not fetch or read the recipe repository with git.",
  TEND_E_BAD_REQUEST:
    "A request body or parameter is malformed or does not match its JSON Schema (HTTP 400).",
  TEND_E_TOO_LARGE: "A request body is larger than the server accepts (HTTP 413).",
  TEND_E_MEDIA_TYPE:
    "A request body is not `application/json`, or is compressed with something other than gzip or deflate (HTTP 415).",
  TEND_E_UNAUTHORIZED: "A request lacks a valid credential or token for its route (HTTP 401).",
  TEND_E_FORBIDDEN:
    "A credential is valid but not for this (HTTP 403): another node's name, or a token bound to other names.",
  TEND_E_HTTP_NOT_FOUND: "Nothing the caller may see exists at this address (HTTP 404).",
  TEND_E_TOKEN_SPENT: "An enrolment token has no uses left (HTTP 409).",
  TEND_E_NODE_EXISTS: "The node name is already enrolled and the token may not re-enrol it (HTTP 409).",
  TEND_E_REPORT_CONFLICT: "A report id is already used by another node's report (HTTP 409).",
  TEND_E_RATE_LIMITED:
    "Too many enrolment attempts from one address; retry after the Retry-After delay (HTTP 429).",
  TEND_E_UNAVAILABLE:
    "The server is overloaded or its database is unreachable; retry after the Retry-After delay (HTTP 503).",
  TEND_E_NO_COMMIT: "The server has no valid recipe commit to compile from yet (HTTP 503).",
  TEND_E_COMPILE:
    "The node's catalog does not compile from the live commit; the message lists the problems (HTTP 422).",
  TEND_E_INTERNAL: "A bug in the server (HTTP 500); the log has the details.",
  TEND_E_AGENT_UNREACHABLE:
    "The agent could not reach the tend server (refused, reset, timed out); it converges from its cached catalog.",
  TEND_E_AGENT_HTTP:
    "The tend server answered the agent with an error status (the message carries its code).",
  TEND_E_AGENT_ENROLL: "Enrolment failed, or the agent is not enrolled yet (no credential in state_dir).",
  TEND_E_CATALOG_SIGNATURE:
    "A catalog (fresh or cached) does not verify against the server key pinned at enrolment; it is refused.",
  TEND_E_CATALOG_ROLLBACK:
    "The server sent a catalog with a serial lower than the last applied one; it is refused.",
  TEND_E_CATALOG_STALE:
    "The server is unreachable and the cached catalog is older than max_cached_age: nothing is applied.",
  TEND_E_SEARCH:
    "A fleet search (`--where`, `?where=`, the fleet page's search box) does not parse; the message gives the column and how to fix it (HTTP 400).",
  TEND_E_SERVER_REVOKE:
    "`tend server token revoke` or `tend server node revoke` named no known token or node (or an id prefix matching several tokens).",
  TEND_E_USER_EXISTS:
    "`tend server user add` (or `PUT /api/v1/users/NAME`) named a user that exists (HTTP 409).",
  TEND_E_PUSH_UNAVAILABLE:
    "Run now, plan now or deploy needs the push channel, which this server does not have (HTTP 503).",
  TEND_E_BUSY: "Another server is judging a commit; retry the re-check in a moment (HTTP 409).",
  TEND_E_COMMIT_REFUSED: "The git gate refused the commit, so it cannot be deployed (HTTP 409).",
  TEND_E_ROLLOUT_STATE:
    "A rollout cannot do that now: only the live commit is deployed, a node must match, only a halted rollout resumes and only a running or halted one aborts (HTTP 409).",
  TEND_E_DEPLOY:
    "`tend deploy` could not reach the server, or the server refused the request; the message says what it answered.",
  TEND_E_ALERT_SINK:
    "An alert sink refused a test event or did not answer (`tend server alerts test`); the message says what it answered.",
} as const;

export type ErrorCode = keyof typeof codes;
