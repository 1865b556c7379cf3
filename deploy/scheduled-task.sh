#!/usr/bin/env bash
# One scheduled maintenance duty of MAINTENANCE-GUIDE.md ("Scheduled Maintenance Tasks"), as
# operations commands of manage.py. Run by carapp-task@.service from its timers (deploy/systemd/,
# docs/deploy.md shows the schedule), or as the carapp user from cron. The backups themselves are
# deploy/scheduled-backup.sh.
set -euo pipefail

usage() {
  cat <<'EOF_USAGE'
Usage: deploy/scheduled-task.sh [--dry-run] DUTY

  prune-backups    daily: retention of the backups (prune_backups)
  monitoring       daily: resources, response times, database connections, request log
                   statistics, health (monitor_resources, monitor_performance,
                   monitor_db_connections, analyze_logs, health_check)
  error-report     weekly: errors and slow queries of the week (error_report, analyze_queries)
  security-scan    weekly: vulnerable dependencies and code, security settings (security_scan,
                   security_check)
  user-audit       monthly: inactive accounts and who did what (inactive_users, user_activity)
  database         monthly: index and vacuum care (analyze_indexes, optimize_indexes,
                   vacuum_database)
  cleanup          monthly: temporary data, orphans, audit log archive (prune_temp_data,
                   cleanup_orphans, archive_logs into BACKUP_DIR/audit)
  recovery-drill   monthly: restore the latest backup into the scratch database, validate it,
                   record RTO and RPO (test_recovery, validate_restoration,
                   record_recovery_metrics)
  security-audit   quarterly: users and roles, 90 days of activity, login settings, security
                   settings and scan (list_users, user_activity, check_auth_config,
                   security_check, security_scan)
  performance      quarterly: query plans, cache hit rates (optimize_queries, analyze_cache)
  report-summaries daily: store yesterday's (and the week before's) sums of the report pages
                   (refresh_report_summaries)
  reminders        daily: the customers' reminders and follow-ups the rules call for today
                   (send_reminders)

Every command of the duty runs, even after one fails; the duty fails (exit 1) if any did, and
each failure is in error.log. DJANGO_ENV and BACKUP_DIR come from the environment (the systemd
unit sets them from .env.production); without them: production and /var/backups/carapp.
prune-backups and recovery-drill wait for a running backup to finish (up to an hour).

Options:
  --dry-run    print the commands instead of running them
  -h, --help   this text

Example (cron, as carapp):
  DJANGO_ENV=production /opt/carapp/deploy/scheduled-task.sh monitoring
EOF_USAGE
}

die() {
  echo "scheduled-task: $*" >&2
  exit 2
}

dry_run=false
duty=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dry-run) dry_run=true ;;
    -h | --help) usage; exit 0 ;;
    prune-backups | monitoring | error-report | security-scan | user-audit | database | cleanup \
      | recovery-drill | security-audit | performance | report-summaries | reminders)
      [[ -z "$duty" ]] || die "one duty at a time (got $duty and $1)"
      duty="$1"
      ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
  shift
done
[[ -n "$duty" ]] || { usage >&2; die "say which duty (--help lists them)"; }

app_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
backup_root="${BACKUP_DIR:-/var/backups/carapp}"
export DJANGO_ENV="${DJANGO_ENV:-production}"

# One command per line: manage.py's command and its options.
case "$duty" in
  prune-backups) commands=("prune_backups") ;;
  monitoring)
    commands=(
      "monitor_resources"
      "monitor_performance --period=24h"
      "monitor_db_connections"
      "analyze_logs --period=24h"
      "health_check"
    )
    ;;
  error-report) commands=("error_report --period=7d" "analyze_queries --threshold=1.0 --period=7d") ;;
  security-scan) commands=("security_scan" "security_check") ;;
  user-audit) commands=("inactive_users --days=90" "user_activity --period=30d") ;;
  database) commands=("analyze_indexes" "optimize_indexes" "vacuum_database") ;;
  cleanup)
    commands=(
      "prune_temp_data --age=30d"
      "cleanup_orphans"
      "archive_logs --type=audit --age=90d --destination=$backup_root/audit"
    )
    ;;
  recovery-drill) commands=("test_recovery" "validate_restoration" "record_recovery_metrics") ;;
  security-audit)
    commands=(
      "list_users"
      "user_activity --period=90d"
      "check_auth_config"
      "security_check"
      "security_scan"
    )
    ;;
  performance) commands=("optimize_queries --threshold=1.0 --period=90d" "analyze_cache") ;;
  report-summaries) commands=("refresh_report_summaries") ;;
  reminders) commands=("send_reminders") ;;
esac

if $dry_run; then
  for line in "${commands[@]}"; do
    echo "+ DJANGO_ENV=$DJANGO_ENV $app_dir/.venv/bin/python $app_dir/manage.py $line"
  done
  exit 0
fi

cd "$app_dir"
case "$duty" in
  prune-backups | recovery-drill)
    # The lock of deploy/scheduled-backup.sh: never prune or drill while a backup is written.
    mkdir -p "$backup_root"
    exec 9>"$backup_root/.scheduled-backup.lock"
    flock --wait 3600 9 || die "a backup is still running after an hour; giving up"
    ;;
esac

failed=()
for line in "${commands[@]}"; do
  read -r -a words <<<"$line"
  echo "==> manage.py $line"
  if ! "$app_dir/.venv/bin/python" "$app_dir/manage.py" "${words[@]}"; then
    failed+=("${words[0]}")
  fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "scheduled-task: $duty: failed: ${failed[*]}" >&2
  exit 1
fi
