"""A worker process for the memory benchmark: serves every benchmarked admin page and API list
`--rounds` times and prints its resident memory as JSON (run by bench/run.py, once per
database)."""

import argparse
import json
import resource

import psutil


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    from bench.run import clients, get, setup_django

    setup_django()
    from django.db import connection

    from bench.pages import admin_pages
    from repairs.models import RepairOrder

    pages = admin_pages()
    client_for = clients()
    api = api_clients()
    process = psutil.Process()
    first_round = None
    for _round in range(args.rounds):
        for page in pages:
            get(client_for(page.user), page.url(), page.params)
        for page, client in api:
            for size in (50, 500):
                get(client, page.url(), {**page.params, "page_size": size})
        if first_round is None:
            first_round = process.memory_info().rss
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux
    print(
        json.dumps(
            {
                "database": connection.settings_dict["NAME"],
                "repair_orders": RepairOrder.objects.count(),
                "pages": len(pages) + 2 * len(api),
                "rss_first_round_mb": first_round / 2**20,
                "peak_rss_mb": peak / 2**20,
            }
        )
    )


def api_clients():
    """A client with a fresh key of each API list's partner (bench/api.py)."""
    from django.test import Client

    from bench.api import api_pages
    from bench.run import issue_bench_key

    keys = {}
    clients = []
    for page in api_pages():
        if (page.partner, page.scope) not in keys:
            keys[page.partner, page.scope] = issue_bench_key(
                page.partner, page.scope, f"benchmarks-memory {page.scope}"
            )
        clients.append(
            (page, Client(HTTP_AUTHORIZATION=f"Api-Key {keys[page.partner, page.scope]}"))
        )
    return clients


if __name__ == "__main__":
    main()
