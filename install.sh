#!/bin/sh
# tend bootstrap: turns a bare box into an enrolled, converging tend node.
#
#   curl -fsSL https://SERVER:7420/install.sh | TEND_TOKEN=TOKEN sh -s -- --server https://SERVER:7420 \
#     [--server-key sha256:FINGERPRINT] [--node NAME]
#   sh install.sh --uninstall [--purge]
#
# Installs Node.js from the distribution when missing (apt; dnf and apk paths are written but
# untested), downloads the agent bundle from the server and checks its sha256 and, with
# --server-key, its signature by the pinned server key before running it, installs `tend` on the
# PATH, enrolls (writing /etc/tend/agent.yaml, 0600), installs, enables and starts
# tend-agent.service, and performs a first run. Exits non-zero naming the step that failed.
# Running it again changes nothing. --uninstall removes what it added but keeps the node's state
# (/var/lib/tend: credential, cached catalog, spool, backups) unless --purge is given.
# The token comes from TEND_TOKEN, --token-file FILE or --token TOKEN, and reaches
# `tend agent enroll` in its environment, never on a command line.
set -eu

SERVER=""
TOKEN=""
TOKEN_FILE=""
SERVER_KEY=""
INSECURE_HTTP=0
NODE=""
UNINSTALL=0
PURGE=0
STEP="arguments"

LIB_DIR=/usr/local/lib/tend
BIN=/usr/local/bin/tend
CONF_DIR=/etc/tend
CONF="$CONF_DIR/agent.yaml"
STATE_DIR=/var/lib/tend
UNIT=/etc/systemd/system/tend-agent.service
NODE_MIN=20

say() { printf 'tend-install: %s\n' "$*"; }
warn() { printf 'tend-install: warning: %s\n' "$*" >&2; }
step() { STEP="$1"; say "$1"; }
fail() {
  printf 'tend-install: FAILED at step "%s": %s\n' "$STEP" "$*" >&2
  exit 1
}

usage() {
  cat <<'USAGE'
usage: TEND_TOKEN=TOKEN install.sh --server URL [--server-key FINGERPRINT|PEM-FILE] [--insecure-http]
                                   [--node NAME]
       install.sh --server URL (--token-file FILE | --token TOKEN) [...]
       install.sh --uninstall [--purge]

--server-key     the server's signing key as `tend server key` prints it (sha256:<64 hex>), or a
                 file holding its PEM: the agent bundle must be signed by it before it runs, and
                 enrolment pins no other key
--insecure-http  allow a plain http:// URL to a host other than this one (the token, credential
                 and catalogs travel unencrypted; pin the key with --server-key)
--token-file     read the enrolment token from FILE; TEND_TOKEN (or TEND_ENROLL_TOKEN) in the
                 environment also works, and keeps it out of the process list, as --token does not
USAGE
}

while [ $# -gt 0 ]; do
  case "$1" in
    --server) [ $# -ge 2 ] || fail "--server needs a URL"; SERVER="$2"; shift 2 ;;
    --server=*) SERVER="${1#*=}"; shift ;;
    --token) [ $# -ge 2 ] || fail "--token needs a value"; TOKEN="$2"; shift 2 ;;
    --token=*) TOKEN="${1#*=}"; shift ;;
    --token-file) [ $# -ge 2 ] || fail "--token-file needs a file"; TOKEN_FILE="$2"; shift 2 ;;
    --token-file=*) TOKEN_FILE="${1#*=}"; shift ;;
    --server-key) [ $# -ge 2 ] || fail "--server-key needs a fingerprint or PEM file"; SERVER_KEY="$2"; shift 2 ;;
    --server-key=*) SERVER_KEY="${1#*=}"; shift ;;
    --insecure-http) INSECURE_HTTP=1; shift ;;
    --node) [ $# -ge 2 ] || fail "--node needs a name"; NODE="$2"; shift 2 ;;
    --node=*) NODE="${1#*=}"; shift ;;
    --uninstall) UNINSTALL=1; shift ;;
    --purge) PURGE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; fail "unknown argument: $1" ;;
  esac
done

# The token: --token, else --token-file, else the environment. Then it leaves the environment, so
# no other child (apt, curl, the first run) inherits it; only `tend agent enroll` is given it.
if [ -n "$TOKEN" ] && [ -n "$TOKEN_FILE" ]; then fail "give --token or --token-file, not both"; fi
if [ -n "$TOKEN_FILE" ]; then
  [ -r "$TOKEN_FILE" ] || fail "cannot read --token-file $TOKEN_FILE"
  TOKEN="$(tr -d ' \t\r\n' <"$TOKEN_FILE")"
  [ -n "$TOKEN" ] || fail "--token-file $TOKEN_FILE is empty"
fi
[ -n "$TOKEN" ] || TOKEN="${TEND_TOKEN:-${TEND_ENROLL_TOKEN:-}}"
unset TEND_TOKEN TEND_ENROLL_TOKEN

step "checking privileges"
[ "$(id -u)" = 0 ] || fail "run as root (sudo sh -s -- ...)"

has() { command -v "$1" >/dev/null 2>&1; }
have_systemd() { [ -d /run/systemd/system ] && has systemctl; }

if [ "$UNINSTALL" = 1 ]; then
  step "stopping tend-agent.service"
  if have_systemd && [ -f "$UNIT" ]; then
    systemctl disable --now tend-agent.service >/dev/null 2>&1 || true
  fi
  step "removing the agent"
  rm -f "$UNIT" "$BIN"
  rm -rf "$LIB_DIR"
  have_systemd && systemctl daemon-reload || true
  rm -f "$CONF"
  rmdir "$CONF_DIR" 2>/dev/null || true
  if [ "$PURGE" = 1 ]; then
    step "purging state"
    rm -rf "$STATE_DIR"
  else
    say "kept $STATE_DIR (credential, cached catalog, spool, backups); --purge removes it"
  fi
  say "Node.js was left installed"
  say "uninstalled"
  exit 0
fi

[ -n "$SERVER" ] || { usage >&2; fail "--server URL is required"; }
[ -n "$TOKEN" ] || [ -f "$STATE_DIR/identity.json" ] || {
  usage >&2
  fail "an enrolment token is required: TEND_TOKEN=TOKEN, --token-file FILE or --token TOKEN"
}
SERVER="${SERVER%/}"

# Whether a URL's host is this box (localhost, 127.0.0.0/8, [::1]), as `tend agent enroll` decides.
is_loopback() {
  hp="${1#*://}"; hp="${hp%%/*}"; hp="${hp##*@}"
  hp="$(printf '%s' "$hp" | tr 'A-Z' 'a-z')"
  case "$hp" in
    "[::1]"|"[::1]:"*) return 0 ;;
    "["*) return 1 ;;
  esac
  h="${hp%%:*}"
  [ "$h" = localhost ] && return 0
  printf '%s\n' "$h" | grep -Eq '^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$'
}

# The same refusal `tend agent enroll` makes, made here before anything is downloaded: the bundle
# comes over the same connection and runs as root before enrolment could refuse it.
step "checking the server URL"
case "$SERVER" in
  https://*) ;;
  http://*)
    if ! is_loopback "$SERVER"; then
      [ "$INSECURE_HTTP" = 1 ] || fail "refusing plain HTTP to $SERVER: whoever is on the path could hand this box their own agent and signing key, which run as root here, and read the token. Use an https:// URL, or pin the server's key with --server-key (\`tend server key\` on the server prints it) and accept plain HTTP with --insecure-http"
      warn "plain HTTP to $SERVER (--insecure-http): the token, the credential and the catalogs travel unencrypted"
    fi
    ;;
  *) fail "--server takes a URL such as https://tend.example.com:7420, not \"$SERVER\"" ;;
esac

fetch() { # URL FILE
  if has curl; then curl -fsSL --retry 3 --connect-timeout 10 -o "$2" "$1"
  elif has wget; then wget -q -T 30 -O "$2" "$1"
  else return 127
  fi
}

node_major() { node -e 'process.stdout.write(process.versions.node.split(".")[0])' 2>/dev/null || echo 0; }

step "detecting the package manager"
if has apt-get; then PM=apt
elif has dnf; then PM=dnf   # untested here
elif has apk; then PM=apk   # untested here
else fail "no apt-get, dnf or apk: install Node.js >= $NODE_MIN yourself, then run again"
fi
say "package manager: $PM"

step "installing Node.js"
if ! has node; then
  case "$PM" in
    apt)
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -q >/dev/null || fail "apt-get update failed"
      apt-get install -y -q --no-install-recommends nodejs >/dev/null || fail "apt-get install nodejs failed"
      ;;
    dnf) dnf install -y nodejs >/dev/null || fail "dnf install nodejs failed" ;;      # untested
    apk) apk add --no-cache nodejs >/dev/null || fail "apk add nodejs failed" ;;       # untested
  esac
fi
has node || fail "node is not on the PATH after installing it"
MAJOR="$(node_major)"
if [ "$MAJOR" -lt "$NODE_MIN" ]; then
  fail "this distribution's Node.js is $(node --version 2>/dev/null || echo unknown), too old: tend needs Node.js >= $NODE_MIN (install a newer one, e.g. from nodejs.org, and run again)"
fi
NODE_BIN="$(command -v node)"
say "Node.js $(node --version)"

step "downloading the agent"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
fetch "$SERVER/agent/tend-agent.js.sha256" "$TMP/sha256" || fail "cannot download $SERVER/agent/tend-agent.js.sha256"
fetch "$SERVER/agent/tend-agent.js" "$TMP/tend-agent.js" || fail "cannot download $SERVER/agent/tend-agent.js"

step "verifying the agent's sha256"
WANT="$(cut -d' ' -f1 "$TMP/sha256")"
GOT="$(sha256sum "$TMP/tend-agent.js" | cut -d' ' -f1)"
[ -n "$WANT" ] && [ "$WANT" = "$GOT" ] || fail "sha256 mismatch: expected $WANT, got $GOT"

if [ -n "$SERVER_KEY" ]; then
  step "verifying the agent's signature"
  fetch "$SERVER/agent/server-key.pem" "$TMP/server-key.pem" || fail "cannot download $SERVER/agent/server-key.pem"
  fetch "$SERVER/agent/tend-agent.js.sig" "$TMP/sig" || fail "cannot download $SERVER/agent/tend-agent.js.sig"
  # argv: PIN SERVER-KEY.pem BUNDLE SIG. The signature covers `tend-agent.js sha256:<hex>` (the
  # bundle's digest under a name; server/routes/agent-bundle.ts, bundleMessage); the served key
  # is used only when its SPKI sha256 is the pinned fingerprint. test/server/agent-bundle.test.ts
  # runs this script.
  cat >"$TMP/verify.cjs" <<'VERIFY_JS'
"use strict";
const crypto = require("node:crypto");
const fs = require("node:fs");
const [pin, keyFile, bundleFile, sigFile] = process.argv.slice(2);
const die = (message) => {
  process.stderr.write(`${message}\n`);
  process.exit(1);
};
const fingerprint = (key) =>
  `sha256:${crypto.createHash("sha256").update(key.export({ type: "spki", format: "der" })).digest("hex")}`;
let want;
const hex = /^(?:sha256:)?([0-9a-fA-F]{64})$/.exec(pin.trim());
if (hex) want = `sha256:${hex[1].toLowerCase()}`;
else {
  let pem = pin;
  if (!pin.trim().startsWith("-----BEGIN")) {
    try {
      pem = fs.readFileSync(pin, "utf8");
    } catch {
      die(`--server-key takes the server key's fingerprint (sha256: and 64 hex digits, as \`tend server key\` prints it) or a PEM file; "${pin}" is neither`);
    }
  }
  try {
    want = fingerprint(crypto.createPublicKey(pem));
  } catch {
    die(`--server-key: "${pin}" does not hold a public key PEM`);
  }
}
let key;
try {
  key = crypto.createPublicKey(fs.readFileSync(keyFile, "utf8"));
} catch {
  die("the server's /agent/server-key.pem is not a public key");
}
const got = fingerprint(key);
if (got !== want || key.asymmetricKeyType !== "ed25519")
  die(`the server presented signing key ${got}, not ${want} as --server-key says: refused before running anything it sent. Something between this box and the server may be answering in its place, or the URL or fingerprint is wrong (\`tend server key\` on the server prints it)`);
const digest = crypto.createHash("sha256").update(fs.readFileSync(bundleFile)).digest("hex");
const signature = Buffer.from(fs.readFileSync(sigFile, "utf8").trim(), "base64");
let signed = false;
try {
  signed = crypto.verify(null, Buffer.from(`tend-agent.js sha256:${digest}`, "ascii"), key, signature);
} catch {}
if (!signed) die(`the agent bundle (sha256 ${digest}) is not signed by the pinned key ${want}: refused, the agent was not installed`);
process.stdout.write(`agent bundle sha256 ${digest} signed by ${want}\n`);
VERIFY_JS
  OUT="$("$NODE_BIN" "$TMP/verify.cjs" "$SERVER_KEY" "$TMP/server-key.pem" "$TMP/tend-agent.js" "$TMP/sig" 2>&1)" \
    || fail "$OUT"
  say "$OUT"
else
  warn "no --server-key: the agent bundle is trusted on first use (its sha256 comes from the same server); pin the key with --server-key (\`tend server key\` on the server prints it)"
fi

step "installing tend"
CHANGED=0
mkdir -p "$LIB_DIR"
if ! cmp -s "$TMP/tend-agent.js" "$LIB_DIR/tend-agent.js"; then
  install -m 0755 "$TMP/tend-agent.js" "$LIB_DIR/tend-agent.js.new"
  mv -f "$LIB_DIR/tend-agent.js.new" "$LIB_DIR/tend-agent.js"
  CHANGED=1
fi
printf '#!/bin/sh\nexec %s %s "$@"\n' "$NODE_BIN" "$LIB_DIR/tend-agent.js" >"$TMP/tend"
if ! cmp -s "$TMP/tend" "$BIN"; then
  install -m 0755 "$TMP/tend" "$BIN"
fi
"$BIN" --version >/dev/null || fail "the installed agent does not start ($BIN --version)"

step "enrolling"
mkdir -p "$CONF_DIR"
chmod 0755 "$CONF_DIR"
set -- agent enroll --server "$SERVER" --config "$CONF"
[ -n "$NODE" ] && set -- "$@" --node "$NODE"
[ -n "$SERVER_KEY" ] && set -- "$@" --server-key "$SERVER_KEY"
[ "$INSECURE_HTTP" = 1 ] && set -- "$@" --insecure-http
# In the environment of this one command: not on a command line, not inherited by the rest.
TEND_ENROLL_TOKEN="$TOKEN" "$BIN" "$@" || fail "tend agent enroll failed (see above)"
chmod 0600 "$CONF"

step "installing tend-agent.service"
if have_systemd; then
  cat >"$TMP/unit" <<UNITEOF
[Unit]
Description=tend agent: converges this box on a schedule
Documentation=https://github.com/tend/tend/blob/main/docs/agent.md
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
# Node.js flags and glibc settings for the waiting daemon alone; its runs start without them
# (agent/daemon.ts: DAEMON_NODE_FLAGS, DAEMON_ENV; docs/agent.md, "Idle memory").
ExecStart=$NODE_BIN --jitless --no-icu-timezone-data $LIB_DIR/tend-agent.js agent daemon --config $CONF
Environment=MALLOC_TRIM_THRESHOLD_=131072 MALLOC_MMAP_THRESHOLD_=16384
ExecReload=/bin/sh -c "kill -HUP \$MAINPID"
Restart=on-failure
RestartSec=30

[Install]
WantedBy=multi-user.target
UNITEOF
  if ! cmp -s "$TMP/unit" "$UNIT"; then
    install -m 0644 "$TMP/unit" "$UNIT"
    systemctl daemon-reload || fail "systemctl daemon-reload failed"
    CHANGED=1
  fi
  systemctl enable tend-agent.service >/dev/null 2>&1 || fail "systemctl enable tend-agent.service failed"
  if [ "$CHANGED" = 1 ] && systemctl is-active --quiet tend-agent.service; then
    systemctl restart tend-agent.service || fail "systemctl restart tend-agent.service failed"
  else
    systemctl start tend-agent.service || fail "systemctl start tend-agent.service failed"
  fi
else
  say "no systemd here: not installing tend-agent.service (run \`tend agent daemon\` under your init)"
fi

step "first run"
set +e
"$BIN" agent run --config "$CONF"
CODE=$?
set -e
case "$CODE" in
  0|2) ;;
  *) fail "tend agent run exited $CODE (4: resources failed, 6: changes and failures, 1: could not start)" ;;
esac
say "done: $(hostname) is converged and tend-agent.service is running"
