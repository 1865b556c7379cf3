"""The shop floor's pages at scale, side by side with the bare alternative: a customer's and a
vehicle's page with their history panels and without them (the same page, the panels' registry
emptied), the repair order board, and a technician's own screen.

    DATABASE_URL=postgres://... python -m bench.floor_pages [--runs 9]

Against a database `seed_demo --scale large` loaded (bench-data). The customer and vehicle are
those of the order in the middle of the table, the one the admin benchmarks use; the technician
is the one with the most open labor lines. Prints one line per page: median ms and queries.
"""

import argparse


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9, help="timed runs per page (default 9)")
    args = parser.parse_args(argv)

    from bench.run import captured, clients, get, setup_django, timed_pair

    setup_django()
    from django.db.models import Count, Q
    from django.urls import reverse

    from accounts.models import User
    from core import history
    from repairs.models import RepairOrder
    from repairs.workload import WORKABLE_STATUSES

    order = (
        RepairOrder.objects.filter(internal=False, pk__gte=RepairOrder.objects.count() // 2)
        .order_by("pk")
        .select_related("customer", "vehicle")
        .first()
    )
    technician = (
        User.objects.filter(groups__name="Technician")
        .annotate(
            open_lines=Count(
                "labor_lines",
                filter=Q(labor_lines__job__repair_order__status__in=WORKABLE_STATUSES),
            )
        )
        .order_by("-open_lines", "pk")
        .first()
    )
    client = clients()
    advisor = client("advisor")
    pages = [
        (
            "customer page",
            advisor,
            reverse("admin:accounts_customer_change", args=[order.customer_id]),
        ),
        (
            "vehicle page",
            advisor,
            reverse("admin:inventory_vehicle_change", args=[order.vehicle_id]),
        ),
    ]
    saved = {label: dict(panels) for label, panels in history._panels.items()}

    def without_panels(url, browser):
        def run():
            history._panels.clear()
            try:
                get(browser, url)
            finally:
                history._panels.update({label: dict(p) for label, p in saved.items()})

        return run

    print(f"customer {order.customer_id}, vehicle {order.vehicle_id}, runs {args.runs}")
    for label, browser, url in pages:
        with_ms, bare_ms = timed_pair(
            lambda browser=browser, url=url: get(browser, url),
            without_panels(url, browser),
            args.runs,
        )
        queries = len(captured(browser, url))
        print(
            f"{label}: {with_ms:.1f} ms with its history ({queries} queries), "
            f"{bare_ms:.1f} ms without"
        )
    for label, browser, url in [
        ("repair order board", advisor, reverse("admin:repairs_repairorder_board")),
        ("technician's screen", client(technician.username), reverse("technician:jobs")),
    ]:
        ms, _ = timed_pair(
            lambda browser=browser, url=url: get(browser, url), lambda: None, args.runs
        )
        print(f"{label}: {ms:.1f} ms ({len(captured(browser, url))} queries)")


if __name__ == "__main__":
    main()
