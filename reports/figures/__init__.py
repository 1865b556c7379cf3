"""The figures of the report pages: one module per area (shop.py, lot.py), one function per
figure, each taking a Period and returning a Figure. Each function is registered as a report
page with reports.registry.report; the app loads every module of this package when it starts."""
