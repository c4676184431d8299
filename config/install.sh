#!/bin/sh
# Install mailintake as a systemd service on Debian (run as root from a checkout):
#
#   sudo sh config/install.sh [--dry-run] [--prefix /opt/mailintake] [--user mailintake]
#
# What it does, in order (--dry-run prints the commands instead of running them):
#   1. creates the system user (no login shell, home = prefix);
#   2. clones this checkout into the prefix (or updates it with git pull when it is already there);
#   3. uv sync --frozen --no-dev --no-editable --compile-bytecode with Debian's /usr/bin/python3 (3.11 or
#      newer), else a uv-managed Python installed under <prefix>/python: never an interpreter under
#      /root or /home, which systemd's ProtectHome=true hides from the service;
#   4. copies the example configuration to <prefix>/config/mailintake.toml (if there is none yet),
#      creates /etc/mailintake.env (mode 600) for the passwords, and var/ for the data.
#      Code, environment and configuration belong to root (the service only reads them); only var/
#      belongs to the service user;
#   5. installs the unit (config/mailintake.service with the prefix and user filled in) and reloads systemd.
# It does not start the service: fill in the configuration and the passwords first (printed at the end).
# uv is needed at install time only (the unit runs <prefix>/.venv/bin/mailintake directly).
set -eu

PREFIX=/opt/mailintake
SERVICE_USER=mailintake
DRY_RUN=0
SOURCE=$(cd "$(dirname "$0")/.." && pwd)

while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY_RUN=1 ;;
        --prefix) PREFIX=$2; shift ;;
        --user) SERVICE_USER=$2; shift ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
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

# 1. the service user
if ! id "$SERVICE_USER" >/dev/null 2>&1; then
    run useradd --system --home-dir "$PREFIX" --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER"
fi

# 2. the code
if [ -d "$PREFIX/.git" ]; then
    run git -C "$PREFIX" pull --ff-only
else
    run git clone "$SOURCE" "$PREFIX"
fi

# 3. the environment
PYTHON=3.11
PREFERENCE=only-managed
if /usr/bin/python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    PYTHON=/usr/bin/python3
    PREFERENCE=only-system
fi
run env UV_PYTHON_INSTALL_DIR="$PREFIX/python" UV_PROJECT_ENVIRONMENT="$PREFIX/.venv" \
    "$UV" sync --project "$PREFIX" --frozen --no-dev --no-editable --compile-bytecode \
    --python "$PYTHON" --python-preference "$PREFERENCE"

# 4. configuration, passwords, data
if [ ! -e "$PREFIX/config/mailintake.toml" ]; then
    run install -m 640 -o root -g "$SERVICE_USER" "$PREFIX/config/mailintake.example.toml" \
        "$PREFIX/config/mailintake.toml"
fi
if [ ! -e /etc/mailintake.env ]; then
    run install -m 600 -o "$SERVICE_USER" -g "$SERVICE_USER" /dev/null /etc/mailintake.env
fi
run install -d -m 700 -o "$SERVICE_USER" -g "$SERVICE_USER" "$PREFIX/var"

# 5. the unit
UNIT=/etc/systemd/system/mailintake.service
if [ "$DRY_RUN" = 1 ]; then
    echo "+ sed -e 's|/opt/mailintake|$PREFIX|g' -e 's|=mailintake\$|=$SERVICE_USER|' $SOURCE/config/mailintake.service > $UNIT"
else
    sed -e "s|/opt/mailintake|$PREFIX|g" -e "s|=mailintake\$|=$SERVICE_USER|" \
        "$SOURCE/config/mailintake.service" > "$UNIT"
fi
run systemctl daemon-reload

cat <<EOF
mailintake is installed in $PREFIX. Next:
  1. edit $PREFIX/config/mailintake.toml (mailbox, smtp, report recipients);
  2. put the passwords (QQ Mail: the 授权码) in /etc/mailintake.env:
       MAILINTAKE_MAILBOX__PASSWORD=...
       MAILINTAKE_SMTP__PASSWORD=...
  3. check: cd $PREFIX && sudo -u $SERVICE_USER sh -c 'set -a; . /etc/mailintake.env; .venv/bin/mailintake check-config'
  4. start: systemctl enable --now mailintake && journalctl -u mailintake -f
EOF
