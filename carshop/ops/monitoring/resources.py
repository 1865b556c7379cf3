"""monitor_resources: CPU, memory, the disks Carshop writes to, and the database's size.

Thresholds come from the settings (MONITOR_*_WARN_PERCENT / MONITOR_*_FAIL_PERCENT); a disk with
less free space than HEALTH_MIN_FREE_DISK_MB fails as the health check does.
"""

from __future__ import annotations

import os
from pathlib import Path

import psutil
from django.conf import settings
from django.core.management.base import CommandError
from django.db import connections

from carshop.ops.database.connections import database_size, megabytes
from carshop.ops.toolkit import Report, first_line, threshold_status

FOLDERS = (("data", "VAR_DIR"), ("logs", "LOG_DIR"), ("backups", "BACKUP_DIR"))


def _existing(path: str | Path) -> Path:
    """The folder itself, or the nearest parent that exists (the disk it will be on)."""
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def monitor_resources(cpu_interval: float = 1.0) -> Report:
    if not 0 < cpu_interval <= 60:
        raise CommandError(
            f"--cpu-interval must be more than 0 and at most 60 seconds, got {cpu_interval}"
        )
    report = Report("resources")

    cpu = psutil.cpu_percent(interval=cpu_interval)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    cores = psutil.cpu_count() or 1
    report.data["cpu"] = {
        "percent": cpu,
        "cores": cores,
        "load_average": list(load) if load else None,
    }
    load_text = f", load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}" if load else ""
    report.add(
        threshold_status(cpu, settings.MONITOR_CPU_WARN_PERCENT, settings.MONITOR_CPU_FAIL_PERCENT),
        "cpu",
        f"{cpu:.0f}% over {cpu_interval:g} s on {cores} cores{load_text}",
    )

    memory = psutil.virtual_memory()
    swap = psutil.swap_memory()
    report.data["memory"] = {
        "percent": memory.percent,
        "total_mb": megabytes(memory.total),
        "available_mb": megabytes(memory.available),
        "swap_percent": swap.percent,
    }
    report.add(
        threshold_status(
            memory.percent,
            settings.MONITOR_MEMORY_WARN_PERCENT,
            settings.MONITOR_MEMORY_FAIL_PERCENT,
        ),
        "memory",
        f"{memory.percent:.0f}% used, {megabytes(memory.available)} MB of "
        f"{megabytes(memory.total)} MB available; swap {swap.percent:.0f}%",
    )

    report.data["disks"] = []
    minimum_free = settings.HEALTH_MIN_FREE_DISK_MB * 1024 * 1024
    for label, name in FOLDERS:
        folder = Path(getattr(settings, name))
        usage = psutil.disk_usage(str(_existing(folder)))  # percent as df shows it
        percent = usage.percent
        status = threshold_status(
            percent, settings.MONITOR_DISK_WARN_PERCENT, settings.MONITOR_DISK_FAIL_PERCENT
        )
        detail = (
            f"{folder}: {percent:.0f}% used, {megabytes(usage.free)} MB free of "
            f"{megabytes(usage.total)} MB"
        )
        if usage.free < minimum_free:
            status = "FAIL"
            detail += f" (below HEALTH_MIN_FREE_DISK_MB={settings.HEALTH_MIN_FREE_DISK_MB})"
        report.data["disks"].append(
            {
                "folder": name,
                "path": str(folder),
                "percent": percent,
                "free_mb": megabytes(usage.free),
                "total_mb": megabytes(usage.total),
                "status": status,
            }
        )
        report.add(status, f"disk {label}", detail)

    try:
        size = database_size(connections["default"])
    except Exception as exc:
        report.fail("database size", f"cannot read it: {first_line(exc)}")
    else:
        report.data["database_size_mb"] = megabytes(size)
        report.ok("database size", f"{megabytes(size)} MB")
    return report
