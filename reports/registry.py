"""Report pages: each is a figure function registered with its title, permission, chart and
columns. The pages (reports/views.py) draw every report the same way from this description.

    @report(
        slug="car-count", title="Car count", area="shop",
        permission="reports.view_shop_reports",
        columns=[Column("day", "Day", "date"), Column("cars", "Cars", "int")],
        chart="bar", chart_label="day", chart_series=["cars"],
        summary=[Column("cars", "Cars", "int")],
    )
    def car_count(period): ...  -> Figure(rows=[...], summary={...}, url=...)
"""

import pkgutil
from dataclasses import dataclass, field, replace
from importlib import import_module

KINDS = ("text", "date", "int", "decimal", "money", "percent", "hours", "days")
CHARTS = ("bar", "stacked", "line", "hbar")
AREAS = {"shop": "Shop", "lot": "Lot"}


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "text"

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Column {self.key}: kind {self.kind!r} is not one of {KINDS}")


@dataclass
class Figure:
    """What a figure function returns for one period.

    rows: the table, one dict per row, keyed by the report's column keys; a row's "url" (if
    any) is the admin list of the records behind that row. summary: the headline numbers
    (keyed by the report's summary columns), compared with the previous period. url: the admin
    list behind the whole figure. note: one line the page shows under the title (e.g. "as of
    31 May")."""

    rows: list = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    url: str = ""
    note: str = ""


@dataclass(frozen=True)
class Report:
    slug: str
    title: str
    area: str
    function: object
    permission: str
    columns: tuple
    chart: str
    chart_label: str
    chart_series: tuple
    summary: tuple = ()
    description: str = ""
    # A snapshot (work in progress, aging, stock value) is taken as of the period's last day;
    # the period's start does not change it.
    snapshot: bool = False
    # False: the figure cannot be taken for a past period (work in progress is always now).
    compare: bool = True
    order: int = 100
    # function(period) -> ({location id: summary}, summary of them together) for the chosen
    # locations, from grouped queries: a comparison without taking the figure once per location
    # (registered with `by_location`).
    per_location: object = None

    def figure(self, period):
        return self.function(period)

    def visible_to(self, user):
        return user.is_active and user.is_staff and user.has_perm(self.permission)


REPORTS: dict[str, Report] = {}


def report(
    *,
    slug,
    title,
    area,
    permission,
    columns,
    chart,
    chart_label,
    chart_series,
    summary=(),
    description="",
    snapshot=False,
    compare=True,
    order=100,
):
    """Register the decorated figure function as the report page /admin/reports/<slug>/."""
    if area not in AREAS:
        raise ValueError(f"Report {slug}: area {area!r} is not one of {list(AREAS)}")
    if chart not in CHARTS:
        raise ValueError(f"Report {slug}: chart {chart!r} is not one of {CHARTS}")
    keys = {column.key for column in columns}
    missing = ({chart_label, *chart_series}) - keys
    if missing:
        raise ValueError(f"Report {slug}: chart columns {sorted(missing)} are not columns")

    def register(function):
        if slug in REPORTS:
            raise ValueError(f"Report {slug} is registered twice")
        REPORTS[slug] = Report(
            slug=slug,
            title=title,
            area=area,
            function=function,
            permission=permission,
            columns=tuple(columns),
            chart=chart,
            chart_label=chart_label,
            chart_series=tuple(chart_series),
            summary=tuple(summary),
            description=description,
            snapshot=snapshot,
            compare=compare,
            order=order,
        )
        return function

    return register


def by_location(slug):
    """Register the decorated function as the comparison by location of report `slug`: for the
    chosen locations, ({location id: summary}, their summary together), equal to the report's
    figure taken at each location and at all of them."""

    def register(function):
        REPORTS[slug] = replace(REPORTS[slug], per_location=function)
        return function

    return register


def load_figures():
    """Import every module of reports.figures (each registers its reports)."""
    import reports.figures as package

    for module in pkgutil.iter_modules(package.__path__):
        import_module(f"{package.__name__}.{module.name}")


def visible_reports(user, area=None):
    """The reports `user` may open, in menu order."""
    found = [r for r in REPORTS.values() if r.visible_to(user) and (area is None or r.area == area)]
    return sorted(found, key=lambda r: (list(AREAS).index(r.area), r.order, r.title))
