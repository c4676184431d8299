#!/bin/sh
# Install or upgrade mailintake as a systemd service on Debian (run as root):
#
#   sudo sh config/install.sh [--dry-run] [--prefix /opt/mailintake] [--user mailintake]
#                             [--from TAG|FILE.whl] [--root DIR] [--no-systemd]
#
# What it does, in order (--dry-run prints the commands instead of running them):
#   1. creates the system user (no login shell, home = prefix);
#   2. the code: a first install clones this checkout into the prefix (at TAG with --from TAG); an upgrade
#      changes the code only to what the administrator names: --from TAG (fetched from the prefix's origin)
#      or --from FILE.whl (that wheel installed into <prefix>/.venv, no checkout needed). Without --from an
#      existing install keeps its code;
#   3. uv sync --frozen --no-dev --no-editable --compile-bytecode (or uv pip install FILE.whl) with Debian's
#      /usr/bin/python3 (3.11 or newer), else a uv-managed Python under <prefix>/python: never an interpreter
#      under /root or /home, which systemd's ProtectHome=true hides from the service;
#   4. copies the example configuration to <prefix>/config/mailintake.toml (if there is none yet), makes
#      /etc/mailintake.env for the passwords root:<user's group>, mode 640 (the service reads it, cannot change
#      it), and var/ for the data. Code, environment and configuration belong to root; only var/ to the user;
#   5. installs both units (mailintake.service and mailintake-web.service, from the installed package, with
#      the prefix and user filled in) and reloads systemd — when systemd runs here; otherwise (a container,
#      an image build, --root, --no-systemd) it says so and goes on.
# It does not start anything: fill in the configuration and the passwords first (printed at the end).
# --root DIR installs into DIR as if it were / (an image being built): the user is not created there.
# uv is needed at install time only (the units run <prefix>/.venv/bin/mailintake directly).
set -eu

PREFIX=/opt/mailintake
SERVICE_USER=mailintake
DRY_RUN=0
FROM=
ROOT=
NO_SYSTEMD=0
SOURCE=$(cd "$(dirname "$0")/.." && pwd)

while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY_RUN=1 ;;
        --prefix) PREFIX=$2; shift ;;
        --user) SERVICE_USER=$2; shift ;;
        --from) FROM=$2; shift ;;
        --root) ROOT=${2%/}; shift ;;
        --no-systemd) NO_SYSTEMD=1 ;;
        -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

run() {
    if [ "$DRY_RUN" = 1 ]; then
        echo "+ $*"
    else
        "$@"
    fi
}

DEST=$ROOT$PREFIX
ETC=$ROOT/etc
UV=$(command -v uv || true)
if [ -z "$UV" ]; then
    if [ "$DRY_RUN" = 1 ]; then
        UV=/usr/local/bin/uv
    else
        echo "install.sh: uv not found; install it first (apt-get install pipx && pipx install uv, or see https://docs.astral.sh/uv/)" >&2
        exit 2
    fi
fi
if [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then
    echo "install.sh: run as root (sudo sh config/install.sh), or add --dry-run to see the steps" >&2
    exit 2
fi
case "$FROM" in
    *.whl) if [ "$DRY_RUN" = 0 ] && [ ! -f "$FROM" ]; then
               echo "install.sh: wheel $FROM not found; give the path of a mailintake-*.whl file" >&2; exit 2
           fi
           FROM=$(cd "$(dirname "$FROM")" && pwd)/$(basename "$FROM") ;;
esac

# 1. the service user
if ! id "$SERVICE_USER" >/dev/null 2>&1; then
    if [ -n "$ROOT" ]; then
        echo "install.sh: user $SERVICE_USER does not exist here; create it in the target system" \
             "(useradd --system --home-dir $PREFIX --shell /usr/sbin/nologin $SERVICE_USER)" >&2
        exit 2
    fi
    run useradd --system --home-dir "$PREFIX" --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER"
fi
GROUP=$(id -gn "$SERVICE_USER" 2>/dev/null || echo "$SERVICE_USER")

# 2. + 3. the code and its environment
PYTHON=3.11
PREFERENCE=only-managed
if /usr/bin/python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    PYTHON=/usr/bin/python3
    PREFERENCE=only-system
fi
case "$FROM" in
    *.whl)
        if [ ! -x "$DEST/.venv/bin/python" ]; then
            run env UV_PYTHON_INSTALL_DIR="$DEST/python" "$UV" venv -q --python "$PYTHON" \
                --python-preference "$PREFERENCE" "$DEST/.venv"
        fi
        run "$UV" pip install -q --python "$DEST/.venv/bin/python" --compile-bytecode \
            --reinstall-package mailintake "$FROM"
        ;;
    *)
        if [ -z "$FROM" ] && [ ! -d "$DEST/.git" ] && [ -x "$DEST/.venv/bin/mailintake" ]; then
            echo "install.sh: $PREFIX is installed already (from a wheel); its code stays as it is (to upgrade," \
                 "name a wheel: --from mailintake-1.2-py3-none-any.whl)"
        elif [ -d "$DEST/.git" ]; then
            if [ -n "$FROM" ]; then
                run git -C "$DEST" fetch --tags origin
                run git -C "$DEST" checkout --detach "$FROM"
            else
                echo "install.sh: $PREFIX is installed already; its code stays as it is (to upgrade, name a" \
                     "tag or a wheel: --from v1.2 or --from mailintake-1.2-py3-none-any.whl)"
            fi
        else
            run git clone "$SOURCE" "$DEST"
            if [ -n "$FROM" ]; then
                run git -C "$DEST" checkout --detach "$FROM"
            fi
        fi
        if [ -d "$DEST/.git" ] || [ "$DRY_RUN" = 1 ]; then
            run env UV_PYTHON_INSTALL_DIR="$DEST/python" UV_PROJECT_ENVIRONMENT="$DEST/.venv" \
                "$UV" sync --project "$DEST" --frozen --no-dev --no-editable --compile-bytecode \
                --python "$PYTHON" --python-preference "$PREFERENCE"
        fi
        ;;
esac

# the shipped files of the installed package: the example configuration and the units
if [ "$DRY_RUN" = 1 ]; then
    SHIPPED=$SOURCE/config
else
    SHIPPED=$("$DEST/.venv/bin/python" -c 'import mailintake.config.shipped as r; print(r.shipped_dir())')
fi

# 4. configuration, passwords, data
run install -d -m 755 -o root -g root "$DEST/config"
if [ ! -e "$DEST/config/mailintake.toml" ]; then
    run install -m 640 -o root -g "$GROUP" "$SHIPPED/mailintake.example.toml" "$DEST/config/mailintake.toml"
fi
if [ ! -e "$ETC/mailintake.env" ]; then
    run install -d -m 755 "$ETC"
    run install -m 640 -o root -g "$GROUP" /dev/null "$ETC/mailintake.env"
else  # an older install made it the service user's: the service must not be able to rewrite its secrets
    run chown "root:$GROUP" "$ETC/mailintake.env"
    run chmod 640 "$ETC/mailintake.env"
fi
run install -d -m 750 -o "$SERVICE_USER" -g "$GROUP" "$DEST/var"

# 5. the units
run install -d -m 755 "$ETC/systemd/system"
for UNIT in mailintake.service mailintake-web.service; do
    if [ "$DRY_RUN" = 1 ]; then
        echo "+ sed -e 's|/opt/mailintake|$PREFIX|g' -e 's|=mailintake\$|=$SERVICE_USER|' $SHIPPED/$UNIT > $ETC/systemd/system/$UNIT"
    else
        sed -e "s|/opt/mailintake|$PREFIX|g" -e "s|^User=mailintake\$|User=$SERVICE_USER|" \
            -e "s|^Group=mailintake\$|Group=$GROUP|" "$SHIPPED/$UNIT" > "$ETC/systemd/system/$UNIT"
        chmod 644 "$ETC/systemd/system/$UNIT"
    fi
done
SYSTEMD=0
if [ -z "$ROOT" ] && [ "$NO_SYSTEMD" = 0 ] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    SYSTEMD=1
    run systemctl daemon-reload
else
    echo "install.sh: systemd is not running here; the units are in $ETC/systemd/system for when it does" \
         "(or run the worker under your supervisor: $PREFIX/.venv/bin/mailintake run)"
fi

cat <<NEXT
mailintake is installed in $PREFIX. Next:
  1. edit $PREFIX/config/mailintake.toml (mailbox, smtp, report recipients);
  2. put the passwords (QQ Mail: the 授权码) in /etc/mailintake.env (root:$GROUP, mode 640):
       MAILINTAKE_MAILBOX__PASSWORD=...
       MAILINTAKE_SMTP__PASSWORD=...
       MAILINTAKE_WEB__SECRET_KEY=...   (for the console)
  3. check: sudo -u $SERVICE_USER sh -c 'set -a; . /etc/mailintake.env; MAILINTAKE_CONFIG=$PREFIX/config/mailintake.toml $PREFIX/.venv/bin/mailintake check-config'
NEXT
if [ "$SYSTEMD" = 1 ]; then
    echo "  4. start: systemctl enable --now mailintake mailintake-web && journalctl -u mailintake -f"
else
    echo "  4. start: systemctl enable --now mailintake mailintake-web (once systemd runs), or under another" \
         "supervisor as $SERVICE_USER: $PREFIX/.venv/bin/mailintake run"
fi
