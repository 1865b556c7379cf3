# shellcheck shell=bash disable=SC2034,SC2154
# (variables are set and used by the script that sources this file)
# What deploy.sh and rollback.sh share: the environment's checkout, service and user, and how
# steps run (as the application user, as root, or printed in a dry run). Sourced by both before
# they touch the checkout; each defines its own die().

# Sets app_dir, branch, service, requirements, app_user, python and app_env for $environment.
select_environment() {
  if [[ "$environment" == production ]]; then
    app_dir="${CARAPP_DIR:-/opt/carapp}"
    branch="${CARAPP_BRANCH:-main}"
    service=carapp
    requirements=requirements/production.txt
  else
    app_dir="${CARAPP_DIR:-/opt/carapp-staging}"
    # main, like production: there is no other long-lived branch.
    branch="${CARAPP_BRANCH:-main}"
    service=carapp-staging
    requirements=requirements/development.txt
  fi
  app_user="${CARAPP_USER:-carapp}"
  python="$app_dir/.venv/bin/python"

  [[ -d "$app_dir/.git" ]] || die "$app_dir is not a git checkout (set CARAPP_DIR)"
  [[ -x "$python" ]] || die "$python is missing: create the virtualenv first (docs/deploy.md)"
  [[ -f "$app_dir/.env.$environment" ]] || die "$app_dir/.env.$environment is missing (see .env.example)"

  # A clean environment for the application steps: only what the settings need to find their file.
  app_env=(env -i "PATH=/usr/local/bin:/usr/bin:/bin" "LANG=C.UTF-8" "DJANGO_ENV=$environment")
}

step() {
  echo "==> $*"
}

# Run a command as the application user, in the checkout.
as_app() {
  if $dry_run; then
    printf '+ (as %s)' "$app_user"
    printf ' %q' "$@"
    printf '\n'
    return 0
  fi
  local home
  home="$(getent passwd "$app_user" | cut -d: -f6)"
  if [[ "$(id -un)" == "$app_user" ]]; then
    (cd "$app_dir" && "${app_env[@]}" "HOME=$home" "$@")
  elif [[ "$EUID" -eq 0 ]]; then
    (cd "$app_dir" && runuser -u "$app_user" -- "${app_env[@]}" "HOME=$home" "$@")
  else
    (cd "$app_dir" && sudo -u "$app_user" -- "${app_env[@]}" "HOME=$home" "$@")
  fi
}

as_root() {
  if $dry_run; then
    printf '+ (as root)'
    printf ' %q' "$@"
    printf '\n'
  elif [[ "$EUID" -eq 0 ]]; then
    "$@"
  else
    sudo -- "$@"
  fi
}

manage() {
  as_app "$python" manage.py "$@"
}
