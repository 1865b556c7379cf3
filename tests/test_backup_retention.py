"""Retention keeps what it promises: daily, weekly and monthly generations, the whole newest
chain, the chain the database continues, and everything a kept backup needs."""

import io
import json
import os
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from carshop.ops.backups import service, testing
from inventory.models import Part

NOW = datetime(2025, 6, 30, 23, 0, tzinfo=UTC)


def manifest(backup_id, when, kind="full", parent=None, chain=None, type_=None):
    return {
        "id": backup_id,
        "created_at": when.isoformat(),
        "kind": kind,
        "type": type_ or kind,
        "parent": parent,
        "chain": chain or backup_id,
        "file": {"name": backup_id + ".dump", "size": 1},
    }


def daily_fulls(days):
    return [manifest(f"full-{n:03d}", NOW - timedelta(days=n)) for n in range(days)]


def newest_per(backups, key):
    """{period: id of the newest backup in it}, periods newest first."""
    newest = {}
    for backup in sorted(backups, key=lambda b: b["created_at"], reverse=True):
        newest.setdefault(key(datetime.fromisoformat(backup["created_at"])), backup["id"])
    return newest


def test_it_keeps_the_newest_backup_of_each_recent_day_week_and_month(settings):
    settings.TIME_ZONE = "UTC"
    backups = daily_fulls(400)
    keep, _ = service.retention_plan(backups, NOW, daily=7, weekly=4, monthly=12)

    days = list(newest_per(backups, lambda d: d.date()).values())
    weeks = list(newest_per(backups, lambda d: d.isocalendar()[:2]).values())
    months = list(newest_per(backups, lambda d: (d.year, d.month)).values())
    assert set(days[:7]) | set(weeks[:4]) | set(months[:12]) == keep
    assert months[12] not in keep and weeks[4] not in keep and days[7] not in keep


def test_it_never_deletes_the_newest_full_backup_of_the_live_chain():
    full = manifest("full-old", NOW - timedelta(days=20))
    incrementals = []
    parent = full["id"]
    for day in range(19, -1, -1):
        inc = manifest(
            f"inc-{day:02d}",
            NOW - timedelta(days=day),
            kind="incremental",
            parent=parent,
            chain=full["id"],
        )
        incrementals.append(inc)
        parent = inc["id"]
    older = daily_fulls(60)[25:]
    keep, _reasons = service.retention_plan(
        [*older, full, *incrementals], NOW, daily=1, weekly=0, monthly=0
    )

    assert full["id"] in keep
    assert {i["id"] for i in incrementals} <= keep  # every link of the chain still restorable
    assert not keep & {b["id"] for b in older}


def test_a_kept_incremental_keeps_its_ancestors_and_the_newest_pre_update_and_safety():
    full = manifest("full-a", NOW - timedelta(days=40))
    inc = manifest(
        "inc-a", NOW - timedelta(days=39), kind="incremental", parent="full-a", chain="full-a"
    )
    pre_update = manifest("pre-b", NOW - timedelta(days=50), type_="pre-update")
    safety = manifest("safety-c", NOW - timedelta(days=25), type_="safety")
    newest = manifest("full-d", NOW)
    keep, _ = service.retention_plan(
        [full, inc, pre_update, safety, newest], NOW, daily=1, weekly=0, monthly=2
    )

    assert keep == {"full-a", "inc-a", "pre-b", "safety-c", "full-d"}  # inc-a: newest of May


@pytest.mark.django_db(transaction=True)
def test_prune_backups_deletes_exactly_what_the_policy_drops(tmp_path, settings):
    folder = testing.configure(tmp_path, settings)
    settings.BACKUP_KEEP_DAILY, settings.BACKUP_KEEP_WEEKLY = 2, 0
    settings.BACKUP_KEEP_MONTHLY = 0
    testing.seed()
    try:
        made = []
        for days_ago in (10, 5, 3):
            made.append(service.create_backup("full", now=NOW - timedelta(days=days_ago)))
        Part.objects.update(description="changed")
        made.append(service.create_backup("incremental", now=NOW - timedelta(days=1)))
        made.append(service.create_backup("incremental", now=NOW))

        out = io.StringIO()
        call_command("prune_backups", "--dry-run", "--format=json", stdout=out)
        planned = json.loads(out.getvalue())
        assert {d["id"] for d in planned["deleted"]} == {made[0]["id"], made[1]["id"]}
        assert len(os.listdir(folder)) == 10  # a dry run deletes nothing

        call_command("backup", "--type=incremental", "--clean", stdout=io.StringIO())

        names = set(os.listdir(folder))
        for gone in made[:2]:
            assert f"{gone['id']}.manifest.json" not in names
            assert gone["file"]["name"] not in names
        for kept in made[2:]:  # the live chain: its full backup and every incremental
            assert f"{kept['id']}.manifest.json" in names and kept["file"]["name"] in names
        service.release(service.verify_chain(*reversed(service.plan_restore("latest"))))
    finally:
        testing.cleanup()


@pytest.mark.django_db(transaction=True)
def test_prune_backups_judges_the_scheduled_folders_together_and_kept_backups_restore(
    tmp_path, settings
):
    """The timers write one folder per run (daily/YYYYMMDD, weekly/YYYYMMDD, monthly/YYYYMM) and
    chains cross them; pre-update backups go to BACKUP_DIR itself."""
    from carshop.ops.backups.destination import LocalDestination

    root = testing.configure(tmp_path, settings)
    settings.TIME_ZONE = "UTC"
    settings.BACKUP_KEEP_DAILY = settings.BACKUP_KEEP_WEEKLY = settings.BACKUP_KEEP_MONTHLY = 2
    testing.seed()

    def at(day, month=6):
        return datetime(2025, month, day, 10, 0, tzinfo=UTC)

    def backup(kind, folder, when, compress=False):
        Part.objects.update(description=f"as of {when:%m-%d}")
        place = LocalDestination(root / folder) if folder else None
        made[folder or when.strftime("root-%m%d")] = service.create_backup(
            kind, place, compress=compress, now=when
        )

    made = {}
    try:
        backup("full", "monthly/202505", at(1, 5), compress=True)
        backup("full", "weekly/20250525", at(25, 5))
        backup("incremental", "daily/20250526", at(26, 5))
        backup("incremental", "daily/20250527", at(27, 5))
        backup("full", "weekly/20250601", at(1))
        backup("incremental", "daily/20250602", at(2))
        backup("incremental", "daily/20250603", at(3))
        backup("pre-update", None, at(4).replace(hour=8))
        backup("incremental", "daily/20250604", at(4))
        backup("incremental", "daily/20250605", at(5))
        assert made["daily/20250604"]["parent"] == made["root-0604"]["id"]
        assert made["daily/20250526"]["parent"] == made["weekly/20250525"]["id"]

        out = io.StringIO()
        call_command("prune_backups", "--dry-run", "--format=json", stdout=out)
        planned = json.loads(out.getvalue())
        dropped = {"monthly/202505", "daily/20250602", "daily/20250603"}
        assert {d["id"] for d in planned["deleted"]} == {made[f]["id"] for f in dropped}
        assert all((root / f).is_dir() for f in dropped)  # a dry run deletes nothing

        call_command("prune_backups", stdout=io.StringIO())

        for folder in dropped:
            assert not (root / folder).exists()
        kept = {k: m for k, m in made.items() if k not in dropped}
        # June: the two newest days, the chain they continue (the pre-update backup in
        # BACKUP_DIR); weeks: June 1; May: the 27th, which needs the 26th and May 25's full.
        for key, manifest in kept.items():
            folder = root / key if "/" in key else root
            assert (folder / manifest["file"]["name"]).is_file(), key
            drill = service.test_recovery(
                "scratch", source=str(folder / f"{manifest['id']}.manifest.json")
            )
            assert drill["validated"], (key, drill["mismatches"])
            assert drill["chain"][-1] == manifest["id"]
    finally:
        testing.cleanup()
