#!/bin/sh
# Entry point of the Patrol collector image; runs its arguments after two preparations.
#
# 1. Secrets mounted as files. collector.yaml reads API and InfluxDB tokens from environment
#    variables (token_env) and libpq reads PGPASSWORD, but Docker and Kubernetes secrets are often
#    files: for PGPASSWORD_FILE and every PATROL_<NAME>_FILE, the variable without _FILE is set to the
#    file's content.
# 2. A stable collector id. collector.yaml may leave collector_id out; the collector then keeps its
#    id in <data_dir>/collector-id. With PATROL_COLLECTOR_ID set (the compose service name, the
#    StatefulSet pod name), that file is written before the first start, so one collector.yaml serves
#    every member of a group and each member keeps a readable id. A data volume that already belongs
#    to another id is refused: two processes with one id would corrupt the group's bookkeeping.
#    PATROL_DATA_DIR must match data_dir in collector.yaml (default /var/lib/patrol). A collector_id
#    set in collector.yaml wins over the file.
set -eu

die() {
    echo "patrol-entrypoint: $*" >&2
    exit 2
}

for name in $(env | grep -E -o '^(PGPASSWORD|PATROL_[A-Za-z0-9_]+)_FILE=' | sed 's/_FILE=$//'); do
    file=$(printenv "${name}_FILE")
    if printenv "$name" >/dev/null; then
        die "both $name and ${name}_FILE are set; set only one of them"
    fi
    [ -r "$file" ] || die "${name}_FILE=$file is missing or not readable by uid $(id -u); check the secret's mount and file mode"
    value=$(cat "$file")  # without trailing newlines, which a password or token never contains
    export "$name=$value"
    unset "${name}_FILE"
done

if [ -n "${PATROL_COLLECTOR_ID:-}" ]; then
    case "$PATROL_COLLECTOR_ID" in
        *[!A-Za-z0-9._:-]*) die "PATROL_COLLECTOR_ID=$PATROL_COLLECTOR_ID: use letters, digits, '.', '_', ':' and '-' only" ;;
    esac
    data_dir=${PATROL_DATA_DIR:-/var/lib/patrol}
    id_file="$data_dir/collector-id"
    if [ -s "$id_file" ]; then
        current=$(tr -d '[:space:]' <"$id_file")
        if [ "$current" != "$PATROL_COLLECTOR_ID" ]; then
            die "$id_file says this data volume belongs to collector $current, but PATROL_COLLECTOR_ID is $PATROL_COLLECTOR_ID; give each member its own volume (or delete the file if the volume was really moved)"
        fi
    else
        [ -d "$data_dir" ] && [ -w "$data_dir" ] || die "data directory $data_dir is missing or not writable by uid $(id -u)"
        printf '%s\n' "$PATROL_COLLECTOR_ID" >"$id_file.tmp"
        mv "$id_file.tmp" "$id_file"
    fi
fi

exec "$@"
