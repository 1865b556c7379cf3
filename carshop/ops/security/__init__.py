"""Security: the settings judged as a server needs them (security_check), and the dependencies and
the code scanned for known weaknesses (security_scan).

security_check reuses the findings of validate_config and check_auth_config
(carshop/ops/config/validation.py and carshop/ops/security/auth_config.py), always judged as on
a server, adds Django's deployment checks and what only the database tells: dormant superusers
and partner API keys.

security_scan runs two tools, each in its own process so a crash is a finding, not a traceback:
pip-audit on the pinned requirements (plus what is installed beside them) against PyPI's
vulnerability data (or an OSV service), and bandit over the project's own packages. A bandit
finding that the project has already reviewed is not reported again: the same rule silenced for
ruff (`# noqa: S608` on the line, or ruff's per-file-ignores in pyproject.toml; ruff's S rules are
bandit's, S608 being B608), or a `# nosec` mark.
"""
