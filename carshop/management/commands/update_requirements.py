from carshop.ops.dependencies.requirements import (
    parse_requirement,
    pip_install,
    plan_update,
    pytest_suite,
    requirements_dir,
    update_requirement,
)
from carshop.ops.toolkit import OperationsCommand


class Command(OperationsCommand):
    help = (
        "Move one pinned package to another version: rewrite its pin in every "
        "requirements/*.txt that has it (the comment stays in its column), pip install it, and "
        "run the test suite (DJANGO_ENV=test python -m pytest -q -x). If the install or the "
        "tests fail, the old pin is written back and the old version reinstalled, and the "
        "command exits 1. --dry-run shows the rewritten lines and changes nothing. Review and "
        "commit the change to requirements/ yourself; outdated_dependencies lists what is "
        "worth moving.\n\n"
        "Example: python manage.py update_requirements --package Django==5.2.20 --dry-run"
    )
    report_command = True
    changes_data = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--package",
            required=True,
            metavar="NAME==VERSION",
            help="the package and the version to pin",
        )
        parser.add_argument(
            "--requirements-dir",
            metavar="DIR",
            help="the folder of the requirements files (default: requirements/)",
        )

    def handle(self, *args, **options):
        name, version = parse_requirement(options["package"])
        directory = options["requirements_dir"] or requirements_dir()
        changes, old_versions = plan_update(directory, name, version)
        changed_lines = []
        for path, (old, new) in changes.items():
            for before, after in zip(old.splitlines(), new.splitlines(), strict=True):
                if before != after:
                    changed_lines.append({"file": path.name, "before": before, "after": after})
        data = {
            "package": name,
            "version": version,
            "old_versions": old_versions,
            "dry_run": options["dry_run"],
            "lines": changed_lines,
            "steps": [],
        }
        lines = [
            f"{'would pin' if options['dry_run'] else 'pinning'} {name}=={version} "
            f"(was {', '.join(old_versions)}):"
        ]
        for row in changed_lines:
            lines += [f"  {row['file']}: - {row['before']}", f"  {row['file']}: + {row['after']}"]
        if options["dry_run"]:
            self.emit(options, data, lines)
            return
        say = (lambda line: None) if options["format"] == "json" else self.stdout.write
        if options["format"] != "json":
            for line in lines:
                self.stdout.write(line)
        data["steps"] = update_requirement(
            directory, name, version, install=pip_install, test=pytest_suite, say=say
        )
        self.emit(
            options,
            data,
            [f"{name}=={version} pinned, installed and tested; review and commit requirements/"],
        )
