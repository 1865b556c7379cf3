#!/usr/bin/env bash
# Deploy Carshop to production or staging: MAINTENANCE-GUIDE.md's deployment procedure, in Django.
set -Eeuo pipefail

usage() {
  cat <<'EOF'
Usage: deploy/deploy.sh [--dry-run] [--skip-tests] production|staging

Bring the checkout of ENVIRONMENT up to date and restart its service:

   1. remember the commit now running (for deploy/rollback.sh), then git pull --ff-only
      of branch main (both: staging tries what production gets next; CARAPP_BRANCH to change)
   2. pip install -r requirements/production.txt (staging: requirements/development.txt)
   3. manage.py backup --type=pre-update
   4. manage.py migrate --noinput
   5. manage.py collectstatic --noinput
   6. manage.py check --deploy --fail-level WARNING
   7. the tests, unless --skip-tests: production checks the new code against an anonymized
      copy of its own, just migrated, database (manage.py create_test_env --replace, then
      manage.py test_in_isolation: system checks, migrations, health checks, every admin and
      API page); staging runs the test suite (DJANGO_ENV=test pytest)
   8. manage.py health_check
   9. systemctl restart carapp (staging: carapp-staging) and, in production, carapp-worker;
      wait until it runs

Any failing step stops the deploy; until step 9 the service keeps running the previous code.
Undo a deploy with: deploy/rollback.sh ENVIRONMENT

Run as root, or as the application user with sudo rights for systemctl. The application steps
run as the application user, with DJANGO_ENV=ENVIRONMENT: the settings read .env.ENVIRONMENT
from the checkout, as the service does.

Options:
  --dry-run      print the steps instead of running them
  --skip-tests   do not run the tests of step 7
  -h, --help     this text

Environment (defaults in brackets):
  CARAPP_DIR     checkout [/opt/carapp; staging: /opt/carapp-staging]
  CARAPP_USER    application user [carapp]
  CARAPP_REMOTE  git remote [origin]
  CARAPP_BRANCH  branch [main]
EOF
}

die() {
  echo "deploy: $*" >&2
  exit 2
}

# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# All in one function: bash reads it whole before running it, so the script can replace
# itself (git pull, git checkout) while it runs.
main() {
  dry_run=false
  run_tests=true
  environment=""
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --dry-run) dry_run=true ;;
      --skip-tests) run_tests=false ;;
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
  remote="${CARAPP_REMOTE:-origin}"

  if ! $dry_run; then
    getent passwd "$app_user" >/dev/null || die "no user $app_user (set CARAPP_USER)"
    # One deploy or rollback of an environment at a time.
    exec 9>"/run/lock/carapp-deploy-$environment.lock"
    flock --nonblock 9 || die "another deploy or rollback of $environment is running"
  fi

  current_step="start"
  migrating=false
  on_error() {
    # Only once, in the script itself (not again in the subshells that failed).
    [[ "$BASHPID" == "$$" ]] || return 0
    echo "deploy: FAILED at: $current_step" >&2
    if [[ "$current_step" == restart* ]]; then
      echo "deploy: the new code is installed but $service is not running; see" \
        "journalctl -u $service, or go back: deploy/rollback.sh $environment" >&2
    elif $migrating; then
      echo "deploy: $service still runs the previous code, but migrations may have run: fix" \
        "and deploy again, or go back: deploy/rollback.sh $environment" >&2
    else
      echo "deploy: $service still runs the previous code and the database is unchanged;" \
        "fix and deploy again" >&2
    fi
  }
  trap on_error ERR

  current_step="git pull"
  step "$current_step ($remote $branch) in $app_dir"
  # What deploy/rollback.sh goes back to: the commit of the last good deploy (a deploy that failed
  # half-way did not change what runs), or, the first time, the commit checked out now.
  # shellcheck disable=SC2016  # expanded by the inner shell, in the checkout
  as_app bash -c 'git update-ref refs/carapp/previous-deploy \
    "$(git rev-parse --quiet --verify refs/carapp/deployed || git rev-parse HEAD)"'
  as_app git checkout --quiet "$branch"
  as_app git pull --ff-only "$remote" "$branch"
  as_app git log -1 --format='deploying %h %s'

  current_step="pip install"
  step "$current_step -r $requirements"
  as_app "$python" -m pip install --quiet --disable-pip-version-check -r "$requirements"

  current_step="pre-update backup"
  step "$current_step"
  manage backup --type=pre-update

  current_step="migrate"
  step "$current_step"
  migrating=true
  manage migrate --noinput

  current_step="collectstatic"
  step "$current_step"
  manage collectstatic --noinput
  # The service cannot write to the checkout: compile the bytecode now, once.
  as_app "$python" -m compileall -q -x '(^|/)(\.venv|\.git|var)/' .

  current_step="check --deploy"
  step "$current_step"
  manage check --deploy --fail-level WARNING

  if $run_tests && [[ "$environment" == production ]]; then
    current_step="tests"
    step "$current_step (on an anonymized copy of the database)"
    # Never against the live database: a copy made now, after the migrations, then checked.
    manage create_test_env --replace
    manage test_in_isolation
  elif $run_tests; then
    current_step="tests"
    step "$current_step"
    # The test settings use their own database (DATABASE_URL from .env.test, else SQLite in var/).
    as_app env DJANGO_ENV=test "$python" -m pytest -q
  fi

  current_step="health_check"
  step "$current_step"
  manage health_check

  current_step="restart $service"
  step "$current_step"
  as_root systemctl restart "$service"
  if [[ "$environment" == production ]]; then
    # The webhook worker runs the same code: it must not keep delivering with the old one.
    as_root systemctl restart carapp-worker
  fi
  if ! $dry_run; then
    # gunicorn tells systemd it is ready before its workers load the application: give a worker
    # that cannot boot the time to bring the service down before calling the deploy good.
    for _ in 1 2 3 4 5; do
      sleep 2
      systemctl is-active --quiet "$service"
    done
  fi

  trap - ERR
  as_app git update-ref refs/carapp/deployed HEAD
  as_app git log -1 --format="deployed $environment: %h %s"
}

main "$@"
