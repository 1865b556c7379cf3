#!/usr/bin/env bash
# One scheduled backup, as MAINTENANCE-GUIDE.md's Backup Procedures prescribe. Run by
# carapp-backup@.service from its three timers (deploy/systemd/), or as the carapp user from cron.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: deploy/scheduled-backup.sh [--dry-run] daily|weekly|monthly

  daily     incremental backup into BACKUP_DIR/daily/YYYYMMDD
  weekly    full backup into BACKUP_DIR/weekly/YYYYMMDD
  monthly   compressed full backup into BACKUP_DIR/monthly/YYYYMM

BACKUP_DIR and DJANGO_ENV come from the environment (the systemd unit sets them from
.env.production); without them: /var/backups/carapp and production. Two backups never run at
the same time: a second one waits for the first (up to an hour).

Options:
  --dry-run    print the backup command instead of running it
  -h, --help   this text

Example (cron, as carapp):
  DJANGO_ENV=production BACKUP_DIR=/var/backups/carapp /opt/carapp/deploy/scheduled-backup.sh daily
EOF
}

die() {
  echo "scheduled-backup: $*" >&2
  exit 2
}

dry_run=false
kind=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dry-run) dry_run=true ;;
    -h | --help) usage; exit 0 ;;
    daily | weekly | monthly)
      [[ -z "$kind" ]] || die "one kind of backup at a time (got $kind and $1)"
      kind="$1"
      ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
  shift
done
[[ -n "$kind" ]] || { usage >&2; die "say which backup: daily, weekly or monthly"; }

app_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
backup_root="${BACKUP_DIR:-/var/backups/carapp}"
export DJANGO_ENV="${DJANGO_ENV:-production}"

case "$kind" in
  daily) args=(--type=incremental "--destination=$backup_root/daily/$(date +%Y%m%d)") ;;
  weekly) args=(--type=full "--destination=$backup_root/weekly/$(date +%Y%m%d)") ;;
  monthly) args=(--type=full --compress "--destination=$backup_root/monthly/$(date +%Y%m)") ;;
esac
command=("$app_dir/.venv/bin/python" "$app_dir/manage.py" backup "${args[@]}")

if $dry_run; then
  echo "+ DJANGO_ENV=$DJANGO_ENV ${command[*]}"
  exit 0
fi

cd "$app_dir"
mkdir -p "$backup_root"
# Lock file descriptor 9 for the whole run: one backup at a time.
exec 9>"$backup_root/.scheduled-backup.lock"
flock --wait 3600 9 || die "another backup is still running after an hour; giving up"
exec "${command[@]}"
