"""The operations commands share their conventions, and docs/operations.md matches them."""

import re

import pytest
from django.core.management import get_commands

from carshop.ops.toolkit import OperationsCommand
from tests.helpers.commands import command, documented_sections, parser_options

USER_ACCESS = ["list_users", "user_activity", "inactive_users", "disable_users", "reset_password"]
CHECKS = [
    "validate_config",
    "check_db_connection",
    "check_auth_config",
    "diagnostics",
    "security_check",
    "security_scan",
]
LOGS_AND_MONITORING = [
    "analyze_logs",
    "error_report",
    "monitor_resources",
    "monitor_performance",
    "monitor_db_connections",
]
CLEANUP = ["prune_temp_data", "cleanup_orphans", "archive_logs"]
DATA = ["export", "import"]  # their --format is the data format (json or csv)
APPLICATION = [
    "analyze_cache",
    "optimize_cache",
    "optimize_assets",
    "check_docs",
    "update_changelog",
]
DATABASE = [
    "analyze_indexes",
    "optimize_indexes",
    "create_indexes",
    "analyze_queries",
    "optimize_queries",
    "vacuum_database",
]
TEST_ENVIRONMENT = ["create_test_env", "test_in_isolation", "profile"]
COMMANDS = (
    USER_ACCESS
    + CHECKS
    + LOGS_AND_MONITORING
    + CLEANUP
    + DATA
    + APPLICATION
    + DATABASE
    + TEST_ENVIRONMENT
)


@pytest.mark.parametrize("name", COMMANDS)
def test_command_is_an_operations_command_with_an_example_in_its_help(name):
    instance = command(name)
    assert isinstance(instance, OperationsCommand)
    assert re.search(rf"Example: (\S+=\S+ )?python manage.py {name}\b", instance.help)
    if name not in ("reset_password",):
        assert "--format" in parser_options(name)  # every other one prints a report


@pytest.mark.parametrize(
    "name",
    [
        "disable_users",
        "reset_password",
        "prune_temp_data",
        "cleanup_orphans",
        "archive_logs",
        "import",
        "optimize_cache",
        "optimize_assets",
        "update_changelog",
        "optimize_indexes",
        "create_indexes",
        "create_test_env",
    ],
)
def test_commands_that_change_data_have_a_dry_run(name):
    assert "--dry-run" in parser_options(name)


@pytest.mark.parametrize("name", [*COMMANDS, "health_check", "setup_roles", "seed_demo"])
def test_every_command_has_a_section_in_the_operations_page(name):
    assert name in documented_sections()


def test_every_documented_command_and_option_exists():
    for name, section in documented_sections().items():
        assert name in get_commands(), f"docs/operations.md documents a missing command {name}"
        first_cells = [row.split(" | ", 1)[0] for row in re.findall(r"^\| `.*$", section, re.M)]
        options = {option for cell in first_cells for option in re.findall(r"--[a-z-]+", cell)}
        missing = options - parser_options(name)
        assert not missing, f"{name}: documented options {missing} do not exist"


def test_the_health_check_section_names_every_check():
    from carshop.health import HEALTH_CHECKS

    section = documented_sections()["health_check"]
    names = [path.rsplit(".", 1)[1] for path in HEALTH_CHECKS]
    words = {5: "five", 6: "six", 7: "seven", 8: "eight"}
    assert f"The {words[len(names)]} checks of `/health/`" in section
    for name in names:
        assert f"\n{name} " in section, f"docs/operations.md: health_check does not show {name}"
