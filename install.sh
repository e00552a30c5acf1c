#!/bin/sh
# tend bootstrap: turns a bare box into an enrolled, converging tend node.
#
#   curl -fsSL http://SERVER:7420/install.sh | sh -s -- --server http://SERVER:7420 --token TOKEN [--node NAME]
#   sh install.sh --uninstall [--purge]
#
# Installs Node.js from the distribution when missing (apt; dnf and apk paths are written but
# untested), downloads the agent bundle from the server and checks its sha256, installs `tend` on
# the PATH, enrolls (writing /etc/tend/agent.yaml, 0600), installs, enables and starts
# tend-agent.service, and performs a first run. Exits non-zero naming the step that failed.
# Running it again changes nothing. --uninstall removes what it added but keeps the node's state
# (/var/lib/tend: credential, cached catalog, spool, backups) unless --purge is given.
set -eu

SERVER=""
TOKEN="${TEND_ENROLL_TOKEN:-}"
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
step() { STEP="$1"; say "$1"; }
fail() {
  printf 'tend-install: FAILED at step "%s": %s\n' "$STEP" "$*" >&2
  exit 1
}

usage() {
  cat <<'USAGE'
usage: install.sh --server URL --token TOKEN [--node NAME]
       install.sh --uninstall [--purge]
USAGE
}

while [ $# -gt 0 ]; do
  case "$1" in
    --server) [ $# -ge 2 ] || fail "--server needs a URL"; SERVER="$2"; shift 2 ;;
    --server=*) SERVER="${1#*=}"; shift ;;
    --token) [ $# -ge 2 ] || fail "--token needs a value"; TOKEN="$2"; shift 2 ;;
    --token=*) TOKEN="${1#*=}"; shift ;;
    --node) [ $# -ge 2 ] || fail "--node needs a name"; NODE="$2"; shift 2 ;;
    --node=*) NODE="${1#*=}"; shift ;;
    --uninstall) UNINSTALL=1; shift ;;
    --purge) PURGE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; fail "unknown argument: $1" ;;
  esac
done

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
[ -n "$TOKEN" ] || [ -f "$STATE_DIR/identity.json" ] || { usage >&2; fail "--token TOKEN is required"; }
SERVER="${SERVER%/}"

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
