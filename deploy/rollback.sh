#!/usr/bin/env bash
# Undo the last deploy of production or staging: MAINTENANCE-GUIDE.md's rollback procedure.
set -Eeuo pipefail

usage() {
  cat <<'EOF'
Usage: deploy/rollback.sh [--code-only] [--source PATH] [--yes] [--dry-run] production|staging

Put back the code that ran before the last deploy (deploy/deploy.sh) and the database as the
pre-update backup of that deploy saved it:

   1. ask for confirmation (unless --yes): changes made since the deploy are lost
   2. systemctl stop carapp (staging: carapp-staging)
   3. manage.py restore --source latest-pre-update --yes   (skipped with --code-only), run by the code
      that took the backup, before the code goes back
   4. git checkout of the commit that ran before the deploy
   5. pip install -r requirements/production.txt (staging: requirements/development.txt)
   6. manage.py collectstatic --noinput, manage.py check --deploy --fail-level WARNING
   7. systemctl start, wait until it runs, manage.py health_check

"latest-pre-update" is the newest pre-update backup, the one deploy.sh took, even when a
scheduled backup ran since. Name another backup with --source PATH (or latest).
A rollback is done once: the next deploy records a new starting point.

Options:
  --code-only     keep the database as it is (the deploy changed no migrations)
  --source PATH   the backup to restore instead of the newest pre-update one
  --yes           do not ask for confirmation
  --dry-run       print the steps instead of running them
  -h, --help      this text

Environment (defaults in brackets):
  CARAPP_DIR     checkout [/opt/carapp; staging: /opt/carapp-staging]
  CARAPP_USER    application user [carapp]
  CARAPP_BRANCH  branch [main], used when no deploy was recorded: BRANCH@{1}
EOF
}

die() {
  echo "rollback: $*" >&2
  exit 2
}

# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# All in one function: bash reads it whole before running it, so the script can replace
# itself (git pull, git checkout) while it runs.
main() {
  dry_run=false
  assume_yes=false
  restore_db=true
  source="latest-pre-update"
  environment=""
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --dry-run) dry_run=true ;;
      --yes) assume_yes=true ;;
      --code-only) restore_db=false ;;
      --source)
        [[ $# -ge 2 && -n "$2" ]] || die "--source needs a path (or latest)"
        source="$2"
        shift
        ;;
      --source=*)
        source="${1#--source=}"
        [[ -n "$source" ]] || die "--source needs a path (or latest)"
        ;;
      -h | --help) usage; exit 0 ;;
      production | staging)
        [[ -z "$environment" ]] || die "one environment at a time (got $environment and $1)"
        environment="$1"
        ;;
      *) usage >&2; die "unknown argument: $1" ;;
    esac
    shift
  done
  [[ -n "$environment" ]] || { usage >&2; die "say which environment: production or staging"; }

  select_environment

  # Read-only git questions, answered also in a dry run.
  git_query() {
    git -c "safe.directory=$app_dir" -C "$app_dir" "$@"
  }

  # The commit to go back to: recorded by deploy.sh; without it, where the branch was before its
  # last move (the guide's `git checkout main@{1}`).
  if target="$(git_query rev-parse --quiet --verify 'refs/carapp/previous-deploy^{commit}')"; then
    recorded=true
  elif git_query rev-parse --quiet --verify refs/carapp/deployed >/dev/null; then
    die "nothing to roll back: the last deploy was already rolled back"
  elif target="$(git_query rev-parse --quiet --verify "$branch@{1}^{commit}")"; then
    recorded=false
  else
    die "no deploy to roll back: refs/carapp/previous-deploy and $branch@{1} are both missing"
  fi
  target_summary="$(git_query log -1 --format='%h %s' "$target")"

  echo "Roll back $environment ($service in $app_dir)"
  echo "  code:     $target_summary"
  if $restore_db; then
    echo "  database: restore --source $source (changes made since the deploy are lost)"
  else
    echo "  database: unchanged (--code-only)"
  fi
  if ! $assume_yes && ! $dry_run; then
    [[ -t 0 ]] || die "not on a terminal: confirm with --yes"
    read -r -p "Type the environment name to go on: " answer
    [[ "$answer" == "$environment" ]] || die "not confirmed; nothing changed"
  fi

  if ! $dry_run; then
    getent passwd "$app_user" >/dev/null || die "no user $app_user (set CARAPP_USER)"
    exec 9>"/run/lock/carapp-deploy-$environment.lock"
    flock --nonblock 9 || die "another deploy or rollback of $environment is running"
  fi

  current_step="start"
  on_error() {
    # Only once, in the script itself (not again in the subshells that failed).
    [[ "$BASHPID" == "$$" ]] || return 0
    echo "rollback: FAILED at: $current_step; $service is stopped or failing: see" \
      "journalctl -u $service, fix, and run the remaining steps by hand" >&2
  }
  trap on_error ERR

  current_step="stop $service"
  step "$current_step"
  as_root systemctl stop "$service"
  if [[ "$environment" == production ]]; then
    as_root systemctl stop carapp-worker
  fi

  if $restore_db; then
    current_step="restore"
    step "$current_step --source $source"
    manage restore --source "$source" --yes
  fi

  current_step="git checkout"
  step "$current_step $target_summary"
  as_app git checkout --quiet --detach "$target"

  current_step="pip install"
  step "$current_step -r $requirements"
  as_app "$python" -m pip install --quiet --disable-pip-version-check -r "$requirements"

  current_step="collectstatic"
  step "$current_step"
  manage collectstatic --noinput
  as_app "$python" -m compileall -q -x '(^|/)(\.venv|\.git|var)/' .

  current_step="check --deploy"
  step "$current_step"
  manage check --deploy --fail-level WARNING

  current_step="start $service"
  step "$current_step"
  as_root systemctl start "$service"
  if [[ "$environment" == production ]]; then
    as_root systemctl start carapp-worker
  fi
  if ! $dry_run; then
    for _ in 1 2 3 4 5; do
      sleep 2
      systemctl is-active --quiet "$service"
    done
  fi

  current_step="health_check"
  step "$current_step"
  manage health_check

  trap - ERR
  # What runs now is the last good deploy; there is nothing more to roll back to.
  as_app git update-ref refs/carapp/deployed "$target"
  if $recorded; then
    as_app git update-ref -d refs/carapp/previous-deploy
  fi
  step "rolled back $environment to $target_summary"
}

main "$@"
