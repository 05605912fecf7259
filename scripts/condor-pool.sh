#!/bin/sh
# A throw-away HTCondor personal pool on 127.0.0.1 for the HTCondor executor tests.
#
#   scripts/condor-pool.sh install   debootstrap a Debian sid chroot with minicondor (pinned to
#                                    the bindings' version), create the submit user and its venv
#   scripts/condor-pool.sh start     start condor_master in the chroot, wait for a slot and the
#                                    schedd, print the CONDOR_CONFIG path for host clients
#   scripts/condor-pool.sh stop      stop the pool (by the master's recorded pid)
#   scripts/condor-pool.sh status    show the master, the slots and the queue totals
#
# Why a chroot: Debian 12 has no HTCondor, and sid's minicondor needs a newer libc than the
# host's; it installs cleanly into a sid chroot (see ../shared/htcondor-pool.md). The daemons run
# as root inside `unshare -m` with the host's /tmp bound in (FS authentication files and job
# directories are the same paths for host clients and daemons), the host's Python 3.11 bound
# read-only (jobs run the submit user's venv), and the submit user's venv and this checkout bound
# read-only at their own paths.
#
# HTCondor refuses jobs owned by root: jobs are submitted by CONDOR_POOL_USER (same uid on the
# host and in the chroot), from its venv built with /usr/bin/python3.11 with this checkout
# installed in it (editable). `install` re-points that venv at the checkout it is run from.
#
# Environment: CONDOR_POOL_DIR (default /var/lib/uws-condor-pool: chroot, venv, state),
# CONDOR_POOL_USER (uwscondor), CONDOR_POOL_UID (61016, when the user is created),
# CONDOR_POOL_PORT (collector/shared port, 9618), CONDOR_POOL_CPUS (2).
set -eu

POOL_DIR=${CONDOR_POOL_DIR:-/var/lib/uws-condor-pool}
ROOT=$POOL_DIR/root
VENV=$POOL_DIR/venv
RUN=$POOL_DIR/run
USER_NAME=${CONDOR_POOL_USER:-uwscondor}
USER_UID=${CONDOR_POOL_UID:-61016}
PORT=${CONDOR_POOL_PORT:-9618}
CPUS=${CONDOR_POOL_CPUS:-2}
VERSION=25.14.1+dfsg-1
# Besides minicondor: what the jobs of the tests need in the chroot (OCPS jobs clone with git).
EXTRA_PACKAGES="libexpat1 zlib1g git"
STAMP="minicondor=$VERSION $EXTRA_PACKAGES"
PYTHON=/usr/bin/python3.11
CHECKOUT=$(cd "$(dirname "$0")/.." && pwd -P)
CLIENT_CONFIG=$POOL_DIR/condor_config
# The daemons and the tools in the chroot get a clean environment: a CONDOR_CONFIG or
# _CONDOR_* variable of the caller (the bindings set CONDOR_CONFIG when imported) would
# point them at another configuration.
CLEAN_ENV="env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8"

die() {
    echo "condor-pool: $*" >&2
    exit 1
}

say() {
    echo "condor-pool: $*" >&2
}

need_root() {
    [ "$(id -u)" -eq 0 ] || die "must run as root (the daemons run as root in a chroot)"
}

# The Debian mirror the host's own apt sources name (never written into the repository).
host_mirror() {
    sources=/etc/apt/sources.list.d/debian.sources
    if [ -f "$sources" ]; then
        mirror=$(awk '$1 == "URIs:" { print $2; exit }' "$sources")
    else
        mirror=$(awk '$1 == "deb" && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
    fi
    [ -n "$mirror" ] || die "cannot read the Debian mirror from $sources"
    echo "$mirror"
}

# --- install -------------------------------------------------------------------------

# Replace the mirror's URL by a placeholder in our logs.
scrub_logs() {
    for log in "$POOL_DIR/debootstrap.log" "$POOL_DIR/apt.log"; do
        [ -f "$log" ] && sed -i "s|$1|<mirror>|g" "$log"
    done
    return 0
}

install_chroot() {
    if [ -f "$ROOT/.uws-minicondor" ] && [ "$(cat "$ROOT/.uws-minicondor")" = "$STAMP" ]; then
        say "chroot with minicondor $VERSION already installed in $ROOT"
        return 0
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! command -v debootstrap >/dev/null; then
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
    fi
    mirror=$(host_mirror)
    if [ ! -x "$ROOT/usr/bin/apt-get" ]; then
        rm -rf "$ROOT.partial"
        mkdir -p "$POOL_DIR"
        say "debootstrap sid into $ROOT (about 30 s)"
        debootstrap --variant=minbase --include=ca-certificates sid "$ROOT.partial" "$mirror" \
            >"$POOL_DIR/debootstrap.log" 2>&1 \
            || { scrub_logs "$mirror"; tail -n 20 "$POOL_DIR/debootstrap.log" >&2; die "debootstrap failed"; }
        mv "$ROOT.partial" "$ROOT"
    fi
    # The mirror's sid Release file may be past its Valid-Until date; no service starts in
    # postinst. The sources list exists only while apt runs (no mirror host left in a file).
    echo 'Acquire::Check-Valid-Until "false";' >"$ROOT/etc/apt/apt.conf.d/99uws-no-valid-until"
    printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
    chmod 755 "$ROOT/usr/sbin/policy-rc.d"
    echo "deb $mirror sid main" >"$ROOT/etc/apt/sources.list"
    rc=0
    # shellcheck disable=SC2086  # CLEAN_ENV is a command line
    $CLEAN_ENV DEBIAN_FRONTEND=noninteractive unshare -m --propagation private sh -c '
        set -e
        mount -t proc proc "$1/proc"
        chroot "$1" apt-get update -q
        # shellcheck disable=SC2086  # word splitting of the package list is intended
        chroot "$1" apt-get install -y -q --no-install-recommends \
            "minicondor=$2" "condor=$2" $3
    ' sh "$ROOT" "$VERSION" "$EXTRA_PACKAGES" >"$POOL_DIR/apt.log" 2>&1 || rc=$?
    # No file keeps the mirror's name: the sources list, apt's lists and caches, our logs.
    rm -f "$ROOT/etc/apt/sources.list" "$ROOT"/var/cache/apt/*.bin
    rm -rf "$ROOT"/var/lib/apt/lists/*
    scrub_logs "$mirror"
    if [ "$rc" -ne 0 ]; then
        tail -n 20 "$POOL_DIR/apt.log" >&2
        die "apt-get install minicondor=$VERSION failed in the chroot"
    fi
    echo "$STAMP" >"$ROOT/.uws-minicondor"
    say "minicondor $VERSION installed in $ROOT"
}

install_user() {
    if ! id -u "$USER_NAME" >/dev/null 2>&1; then
        getent group "$USER_NAME" >/dev/null || groupadd -g "$USER_UID" "$USER_NAME"
        useradd -u "$USER_UID" -g "$USER_NAME" -d "$POOL_DIR/home" -M \
            -s /usr/sbin/nologin "$USER_NAME"
    fi
    install -d -o "$USER_NAME" -g "$USER_NAME" -m 0755 "$POOL_DIR/home"
    # The same uid and gid in the chroot: the starter runs jobs, the shadow writes their files.
    grep -q "^$USER_NAME:" "$ROOT/etc/passwd" || getent passwd "$USER_NAME" >>"$ROOT/etc/passwd"
    grep -q "^$(id -gn "$USER_NAME"):" "$ROOT/etc/group" \
        || getent group "$(id -g "$USER_NAME")" >>"$ROOT/etc/group"
}

# Make every directory above the checkout traversable, and the checkout readable, by the user.
open_checkout() {
    dir=$CHECKOUT
    while [ "$dir" != / ]; do
        if ! runuser -u "$USER_NAME" -- test -x "$dir"; then
            say "letting $USER_NAME traverse $dir (o+x)"
            chmod o+x "$dir"
        fi
        dir=$(dirname "$dir")
    done
    runuser -u "$USER_NAME" -- test -r "$CHECKOUT/setup.cfg" \
        || die "$USER_NAME cannot read $CHECKOUT/setup.cfg"
}

# The submit user's venv (owned by root, readable by all), with this checkout installed.
install_venv() {
    [ -x "$PYTHON" ] || die "$PYTHON not found (apt-get install python3.11-venv)"
    stamp="$CHECKOUT $(cat "$CHECKOUT/setup.cfg" "$CHECKOUT/pyproject.toml" | cksum)"
    if [ -x "$VENV/bin/uws-server" ] && [ "$(cat "$VENV/.uws-checkout" 2>/dev/null)" = "$stamp" ]; then
        say "venv $VENV already has $CHECKOUT installed"
        return 0
    fi
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    say "installing $CHECKOUT into $VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check -e "$CHECKOUT[htcondor]" \
        >"$POOL_DIR/pip.log" 2>&1 || { tail -n 20 "$POOL_DIR/pip.log" >&2; die "pip install failed"; }
    chmod -R a+rX "$VENV"
    echo "$stamp" >"$VENV/.uws-checkout"
}

cmd_install() {
    need_root
    umask 022
    mkdir -p "$POOL_DIR" "$RUN"
    chmod 755 "$POOL_DIR"
    install_chroot
    install_user
    open_checkout
    install_venv
}

# --- start / stop / status -------------------------------------------------------------

master_alive() {
    [ -s "$RUN/master.pid" ] && kill -0 "$(cat "$RUN/master.pid")" 2>/dev/null
}

# Run an HTCondor command inside the pool's mount namespace and chroot.
in_pool() {
    # shellcheck disable=SC2086  # CLEAN_ENV is a command line
    $CLEAN_ENV nsenter --target "$(cat "$RUN/master.pid")" --mount -- chroot "$ROOT" "$@"
}

write_config() {
    install -m 0644 "$CHECKOUT/condor/personal-pool.config" \
        "$ROOT/etc/condor/config.d/90-uws-personal-pool.config"
    cat >"$ROOT/etc/condor/config.d/95-uws-test-pool.config" <<EOF
# Generated by scripts/condor-pool.sh for the uws-server tests, on top of 90-uws-personal-pool.
CONDOR_HOST = 127.0.0.1
NETWORK_INTERFACE = 127.0.0.1
BIND_ALL_INTERFACES = False
ENABLE_IPV6 = False
COLLECTOR_PORT = $PORT
SHARED_PORT_PORT = $PORT
NUM_CPUS = $CPUS
# The duration test waits for periodic_remove: evaluate it often.
PERIODIC_EXPR_INTERVAL = 5
# One host, a few jobs at a time: negotiate and start jobs at once (the suite's run time).
NEGOTIATOR_INTERVAL = 1
NEGOTIATOR_CYCLE_DELAY = 1
SCHEDD_INTERVAL = 1
JOB_START_DELAY = 0
JOB_START_COUNT = 10
# HTCondor 24+ gives jobs a private /tmp and /var/tmp; the test venv and job directories live
# under the host's /tmp (see condor/README.md, "Scratch mounts").
MOUNT_UNDER_SCRATCH =
EOF
    # Host clients (the bindings in a venv): where the collector is; FS authentication works
    # because /tmp is the same directory for them and for the daemons.
    cat >"$CLIENT_CONFIG" <<EOF
# Generated by scripts/condor-pool.sh: client configuration of the test pool, for host processes.
CONDOR_HOST = 127.0.0.1:$PORT
COLLECTOR_HOST = 127.0.0.1:$PORT
NETWORK_INTERFACE = 127.0.0.1
ENABLE_IPV6 = False
SEC_CLIENT_AUTHENTICATION_METHODS = FS, IDTOKENS
SCHEDD_ADDRESS_FILE = $ROOT/var/lib/condor/spool/.schedd_address
SEC_TOKEN_DIRECTORY = $POOL_DIR/tokens.d
EOF
    chmod 644 "$CLIENT_CONFIG"
}

cmd_start() {
    need_root
    [ -f "$ROOT/.uws-minicondor" ] || die "not installed (run: $0 install)"
    if master_alive; then
        if [ "$(cat "$RUN/checkout" 2>/dev/null)" = "$CHECKOUT" ] \
            && in_pool condor_q -totals >/dev/null 2>&1; then
            say "pool already running (master pid $(cat "$RUN/master.pid"))"
            echo "$CLIENT_CONFIG"
            return 0
        fi
        say "restarting the pool (another checkout, or not answering)"
        cmd_stop
    fi
    mkdir -p "$RUN"
    write_config
    rm -f "$ROOT/var/lib/condor/spool/.schedd_address"
    # Mount points of what is bound in: python, the venv and the checkout at their own paths.
    mkdir -p "$ROOT/usr/lib/python3.11" "$ROOT$VENV" "$ROOT$CHECKOUT"
    [ -e "$ROOT$PYTHON" ] || touch "$ROOT$PYTHON"
    : >"$RUN/master.log"
    # shellcheck disable=SC2016  # expanded by the inner shell
    # shellcheck disable=SC2086  # CLEAN_ENV is a command line
    $CLEAN_ENV setsid unshare -m --propagation private sh -c '
        set -e
        root=$1 venv=$2 checkout=$3 python=$4
        mount --bind "$root" "$root"
        mount -t proc proc "$root/proc"
        mount --rbind /dev "$root/dev"
        mount --bind /tmp "$root/tmp"
        for path in "$python" /usr/lib/python3.11 "$venv" "$checkout"; do
            case "$path" in /tmp/*) continue ;; esac
            mount --bind "$path" "$root$path"
            mount -o remount,bind,ro "$root$path"
        done
        exec chroot "$root" /usr/sbin/condor_master -f
    ' sh "$ROOT" "$VENV" "$CHECKOUT" "$PYTHON" >>"$RUN/master.log" 2>&1 </dev/null &
    echo $! >"$RUN/master.pid"
    echo "$CHECKOUT" >"$RUN/checkout"
    deadline=$(($(date +%s) + 60))
    while :; do
        master_alive || { tail -n 20 "$RUN/master.log" >&2; die "condor_master exited (see $RUN/master.log and $ROOT/var/log/condor)"; }
        if [ -n "$(in_pool condor_status -af Name 2>/dev/null)" ] \
            && in_pool condor_q -totals >/dev/null 2>&1; then
            break
        fi
        [ "$(date +%s)" -lt "$deadline" ] \
            || die "no slot or no schedd after 60 s (see $ROOT/var/log/condor)"
        sleep 0.5
    done
    # An IDTOKEN of the submit user, for root processes that submit on its behalf (tests).
    install -d -m 0700 "$POOL_DIR/tokens.d"
    in_pool condor_token_create -identity "$USER_NAME@$(in_pool condor_config_val UID_DOMAIN)" \
        >"$POOL_DIR/tokens.d/$USER_NAME" 2>/dev/null || say "cannot create an IDTOKEN"
    chmod 600 "$POOL_DIR/tokens.d/$USER_NAME"
    say "pool up (master pid $(cat "$RUN/master.pid"))"
    echo "$CLIENT_CONFIG"
}

# Processes whose root directory is the chroot (the daemons and their jobs).
pool_pids() {
    for proc in /proc/[0-9]*; do
        [ "$(readlink "$proc/root" 2>/dev/null)" = "$ROOT" ] && echo "${proc#/proc/}"
    done
    return 0
}

cmd_stop() {
    need_root
    if master_alive; then
        pid=$(cat "$RUN/master.pid")
        kill -QUIT "$pid" 2>/dev/null || true # fast shutdown: the daemons and their jobs
        i=0
        while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 150 ]; do
            i=$((i + 1))
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    for pid in $(pool_pids); do
        kill -KILL "$pid" 2>/dev/null || true
    done
    rm -f "$RUN/master.pid"
}

cmd_status() {
    if ! master_alive; then
        echo "condor_master: stopped"
        return 1
    fi
    echo "condor_master: running (pid $(cat "$RUN/master.pid")); CONDOR_CONFIG=$CLIENT_CONFIG"
    in_pool condor_status -af Name State Cpus Memory && in_pool condor_q -totals
}

[ $# -eq 1 ] || die "usage: $0 install | start | stop | status"
case "$1" in
    install | start | stop | status) "cmd_$1" ;;
    *) die "unknown command: $1" ;;
esac
