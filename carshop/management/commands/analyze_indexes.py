from carshop.ops.database.connections import connection_for
from carshop.ops.database.indexes import analyze_indexes
from carshop.ops.toolkit import OperationsCommand, Report, emit_report, human_size


def index_report(result):
    """The analysis as findings: FAIL for declared indexes the database lacks or has INVALID,
    WARN for what is worth a look (suggestions, never applied automatically)."""
    report = Report("indexes")
    missing, invalid = result["missing"], result["invalid"]
    if missing:
        names = ", ".join(f"{item['name']} ({item['table']})" for item in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        report.fail(
            "declared indexes",
            f"{len(missing)} of {result['declared']} missing: "
            f"{names}{more} (python manage.py create_indexes)",
        )
    else:
        report.ok("declared indexes", f"all {result['declared']} present")
    if invalid:
        names = ", ".join(item["name"] for item in invalid)
        report.fail(
            "invalid indexes",
            f"{names}: left INVALID by a failed concurrent build "
            "(python manage.py create_indexes rebuilds them)",
        )
    for row in result["invalid_other"]:
        report.warn(
            "invalid indexes",
            f"{row['index']} ({row['table']}) is INVALID and not declared: review {row['drop']}",
        )
    unindexed = result["unindexed_foreign_keys"]
    if unindexed:
        report.warn(
            "foreign keys",
            f"{len(unindexed)} without an index: "
            + ", ".join(f"{row['table']}.{row['column']}" for row in unindexed),
        )
    else:
        report.ok("foreign keys", "every foreign key is indexed")
    scans = result["sequential_scans"]
    if scans is None:
        report.ok("sequential scans", "not counted on SQLite")
    elif scans:
        report.warn(
            "sequential scans",
            f"{len(scans)} tables of {result['min_rows']} rows or "
            "more read by more sequential than index scans: "
            + ", ".join(row["table"] for row in scans),
        )
    else:
        report.ok(
            "sequential scans",
            f"no table of {result['min_rows']} rows or more is mostly read sequentially",
        )
    unused = result["unused"]
    if unused is None:
        report.ok("unused indexes", "SQLite keeps no index usage figures")
    elif unused:
        since = result["statistics_since"]
        when = f"since {since:%Y-%m-%d %H:%M}" if since else "since statistics began"
        size = human_size(sum(row["size_bytes"] or 0 for row in unused))
        report.warn("unused indexes", f"{len(unused)} never scanned {when} ({size})")
    else:
        report.ok("unused indexes", "every index has been scanned")
    duplicates = result["duplicates"]
    if duplicates:
        names = ", ".join(row["index"] for row in duplicates[:10])
        more = f" and {len(duplicates) - 10} more" if len(duplicates) > 10 else ""
        report.warn("duplicate indexes", f"{len(duplicates)} repeat another index: {names}{more}")
    else:
        report.ok("duplicate indexes", "none")
    bloat = result["bloat"]
    if bloat["indexes"]:
        report.warn(
            "bloat",
            f"{len(bloat['indexes'])} bloated: "
            + ", ".join(f"{row['index']} ({row['leaf_density']}% full)" for row in bloat["indexes"])
            + " (python manage.py optimize_indexes --reindex-bloated)",
        )
    else:
        report.ok("bloat", bloat["note"] if not bloat["measured"] else f"none ({bloat['note']})")
    report.data = result
    return report


def drop_advice(row):
    """A declared index is removed from the code, with a migration: dropped by hand,
    create_indexes would build it again."""
    if row["declared"]:
        return f"{row['index']}: declared by {row['declared']}: remove it there and migrate"
    return row["drop"]


def suggestion_lines(result, limit=None):
    """The statements to review, for the text report; none is run by any command."""
    lines = []

    def section(title, rows, render):
        if rows:
            lines.append(title)
            shown = rows if limit is None else rows[:limit]
            lines.extend(f"  {render(row)}" for row in shown)
            if len(shown) < len(rows):
                lines.append(f"  ... and {len(rows) - len(shown)} more (--format json)")

    section(
        "missing declared indexes:",
        result["missing"],
        lambda row: f"{row['name']} on {row['table']} ({row['source']})",
    )
    section(
        "foreign keys without an index (suggestion):",
        result["unindexed_foreign_keys"],
        lambda row: row["create"],
    )
    section(
        "sequential scans (tables over --min-rows):",
        result["sequential_scans"] or [],
        lambda row: (
            f"{row['table']}: {row['rows']} rows, {row['seq_scan']} seq scans "
            f"({row['rows_per_seq_scan']} rows each) vs {row['idx_scan']} "
            f"index scans"
        ),
    )
    section(
        "unused indexes (review before dropping):",
        result["unused"] or [],
        lambda row: f"{drop_advice(row)}  -- {human_size(row['size_bytes'] or 0)}",
    )
    section(
        "duplicate indexes (review before dropping):",
        result["duplicates"],
        lambda row: f"{drop_advice(row)}  -- {row['reason']} {row['duplicate_of']}",
    )
    section(
        "bloated indexes:",
        result["bloat"]["indexes"],
        lambda row: (
            f"{row['reindex']}  -- {row['leaf_density']}% full, about "
            f"{human_size(row['wasted_bytes'])} wasted"
        ),
    )
    return lines


class Command(OperationsCommand):
    help = (
        "Find missing and superfluous indexes, changing nothing. Missing: indexes the models "
        "(Meta.indexes, db_index, unique) and the migrations' trigram indexes declare but the "
        "database lacks (FAIL), foreign keys without an index, and on PostgreSQL tables of "
        "--min-rows or more read mostly by sequential scans (pg_stat_user_tables). "
        "Superfluous: unused indexes (pg_stat_user_indexes, idx_scan = 0; unique and constraint "
        "indexes excepted), duplicates (same definition, or a B-tree whose columns lead "
        "another's), bloated B-trees where pgstattuple is installed. Suggestions come with the "
        "statement to review; optimize_indexes applies only the safe changes.\n\n"
        "Example: python manage.py analyze_indexes --min-rows 50000"
    )
    report_command = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--min-rows",
            type=int,
            default=10000,
            help="PostgreSQL: tables smaller than this are not reported for "
            "sequential scans (default 10000)",
        )
        parser.add_argument(
            "--database", default="default", help="database alias of DATABASES (default: default)"
        )

    def handle(self, *args, **options):
        connection = connection_for(options["database"])
        result = analyze_indexes(connection, min_rows=options["min_rows"], progress=self.progress)
        report = index_report(result)
        report.title = f"indexes of {result['database']} {result['name']}"
        emit_report(self, options, report, suggestion_lines(result, limit=20))
