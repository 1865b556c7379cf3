"""Roles and what each may do: the one place permissions are declared.

A role is a Django group. Each entry maps a model ("app.model", or "app.*" for every model of an
app) to the actions allowed on it: view, add, change, delete, "all" for the four, and any custom
permission codename the model declares (for instance view_part_cost, or view_prices: who sees
prices, rates, amounts and totals, see sees_prices). Nothing else grants staff
permissions: `python manage.py setup_roles` and every `migrate` make the groups match this matrix
exactly, removing what it does not list.

Partners reach Carshop only through the API with scoped keys: their group grants no admin
permission, and partner users are never staff.
"""

SERVICE_ADVISOR = "Service Advisor"
TECHNICIAN = "Technician"
SALESPERSON = "Salesperson"
MANAGER = "Manager"
OPERATIONS = "Operations"
PARTNER = "Partner"

ROLES = {
    SERVICE_ADVISOR: {
        "accounts.customer": "view add change",
        "accounts.shopsettings": "view view_prices",
        "accounts.location": "view",
        "inventory.vehicle": "view add change",
        "inventory.odometerreading": "view add",
        "inventory.part": "view add change view_part_cost",
        "inventory.supplier": "view add change",
        "inventory.purchaseorder": "view add change",
        "inventory.purchaseorderline": "view add change delete",
        "inventory.purchasereceipt": "view add",
        "inventory.purchasereceiptline": "view",
        "inventory.stockmovement": "view add",
        "inventory.partstock": "view change",
        "inventory.stocktransfer": "view add change",
        "inventory.stocktransferline": "view add change delete",
        "inventory.markuprule": "view",
        "repairs.appointment": "all",
        "repairs.repairorder": "view add change",
        "repairs.job": "all",
        "repairs.laborline": "all",
        "repairs.partline": "all",
        "repairs.cannedjob": "view",
        "repairs.cannedjoblabor": "view",
        "repairs.cannedjobpart": "view",
        "repairs.timeentry": "view",
        "repairs.invoice": "view add",
        "repairs.payment": "view add",
        "repairs.creditnote": "view",
        # Messages to customers: sent from the repair order's page; templates read only.
        "messaging.message": "view send_message",
        "messaging.messagetemplate": "view",
        "messaging.optout": "view add",
        # Inspections: the advisor reads them, turns points into jobs, adds a photo if needed.
        "repairs.inspectiontemplate": "view",
        "repairs.inspectiontemplatepoint": "view",
        "repairs.inspection": "view add change",
        "repairs.inspectionitem": "view change",
        "repairs.inspectionmedia": "view add",
        "repairs.estimatesignature": "view",
        # Report pages: the shop's work in progress only, never sales or gross.
        "reports.report": "view_work_in_progress",
    },
    TECHNICIAN: {
        # Technicians see their jobs and clock time; no prices, no costs, no customers' money.
        "inventory.vehicle": "view",
        "inventory.part": "view",
        "repairs.repairorder": "view",
        "repairs.job": "view change",
        "repairs.laborline": "view",
        "repairs.partline": "view",
        # Their own screen (repairs.technician_views): the jobs of the day, one-click clocking.
        "repairs.timeentry": "view add change use_technician_screen",
        # Inspections with photos and videos taken on the phone (no prices on those pages).
        "repairs.inspectiontemplate": "view",
        "repairs.inspectiontemplatepoint": "view",
        "repairs.inspection": "view add change",
        "repairs.inspectionitem": "view change",
        "repairs.inspectionmedia": "view add",
    },
    SALESPERSON: {
        "accounts.customer": "view add change",
        "accounts.shopsettings": "view view_prices",
        "accounts.location": "view",
        "inventory.vehicle": "view add change",
        "inventory.odometerreading": "view add",
        "inventory.stockunit": "view add change",
        "inventory.stockunitcost": "view add change",
        "inventory.stockunitphoto": "all",
        "inventory.stockunitmove": "view",
        "repairs.repairorder": "view",
        "sales.lead": "view add change",
        "sales.deal": "view add change",
        "sales.tradein": "all",
        "sales.dealaddon": "all",
        "sales.dealpayment": "view add",
        "sales.dealrefund": "view",  # refunds are recorded by a manager
        "sales.commission": "view",
        # Report pages: the lot's units sold (a count, no gross, no one else's commission).
        "reports.report": "view_lot_units_sold",
    },
    MANAGER: {
        "accounts.customer": "all",
        "accounts.shopsettings": "view change view_prices",
        "accounts.location": "view add change",
        "accounts.user": "view",
        "inventory.*": "all view_part_cost",
        "repairs.*": "all",
        "repairs.timeentry": "correct_timeentry",
        "sales.*": "all view_all_commissions unwind_deal",
        "auditlog.logentry": "view",
        # Messages to customers: the shop's templates and reminder rules.
        "messaging.message": "view send_message",
        "messaging.messagetemplate": "all",
        "messaging.reminderrule": "all",
        "messaging.optout": "all",
        # Partners of the API: managers decide who integrates and with which scopes.
        "accounts.partner": "view add change",
        "accounts.partnerkey": "view add change",
        "accounts.webhooksubscription": "all",
        "accounts.webhookevent": "view",
        "accounts.webhookdelivery": "view",
        # Every report page, and the dashboard as the landing page of the back office.
        "reports.report": "view_dashboard view_shop_reports view_work_in_progress "
        "view_lot_reports view_lot_units_sold",
    },
    OPERATIONS: {
        "accounts.user": "view add change",
        "accounts.customer": "view",
        "accounts.shopsettings": "view",
        "accounts.location": "view",
        "auditlog.logentry": "view",
        "axes.accessattempt": "view delete",
        "axes.accessfailurelog": "view delete",
        "axes.accesslog": "view",
        "auth.group": "view",
    },
    PARTNER: {},
}

STANDARD_ACTIONS = ("view", "add", "change", "delete")

# Who sees money: prices, rates, amounts, totals, payments. Declared on shop settings (the
# prices' source); every page that shows a figure asks sees_prices().
PRICES_PERMISSION = "accounts.view_prices"


def sees_prices(user):
    """Whether `user` may see prices, rates, amounts and totals (technicians may not)."""
    return user.has_perm(PRICES_PERMISSION)


def expand(matrix, models_by_app):
    """(app_label, codename) pairs a role's entries grant, given the models each app has."""
    granted = set()
    for target, actions in matrix.items():
        app_label, model = target.split(".")
        models = models_by_app.get(app_label, ()) if model == "*" else (model,)
        tokens = actions.split()
        if "all" in tokens:
            tokens = [t for t in tokens if t != "all"] + list(STANDARD_ACTIONS)
        for token in tokens:
            if token in STANDARD_ACTIONS:
                granted.update((app_label, f"{token}_{name}") for name in models)
            else:
                granted.add((app_label, token))
    return granted


def apply_roles(apps=None):
    """Make every role group match ROLES. Returns the permissions the matrix names but the
    database lacks (models not migrated yet), as "app.codename" strings."""
    if apps is None:
        from django.apps import apps
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")

    models_by_app = {}
    for model in apps.get_models():
        models_by_app.setdefault(model._meta.app_label, []).append(model._meta.model_name)

    available = {
        (app_label, codename): pk
        for pk, app_label, codename in permission_model.objects.values_list(
            "pk", "content_type__app_label", "codename"
        )
    }
    missing = set()
    for role, matrix in ROLES.items():
        wanted = expand(matrix, models_by_app)
        missing.update(f"{a}.{c}" for a, c in wanted if (a, c) not in available)
        group, _ = group_model.objects.get_or_create(name=role)
        group.permissions.set([available[key] for key in wanted if key in available])
    return sorted(missing)


def apply_roles_after_migrate(sender, apps=None, using="default", **kwargs):
    """post_migrate receiver: once per migrate, after the last app has its permissions. Not
    after migrating back (`migrate APP PREVIOUS` or `zero`): the tables of this code's models
    may be gone then; the next full `migrate` applies the roles again."""
    from django.apps import apps as global_apps
    from django.db import connections
    from django.db.migrations.executor import MigrationExecutor

    with_models = [config for config in global_apps.get_app_configs() if config.models_module]
    if not with_models or sender.name != with_models[-1].name:
        return
    executor = MigrationExecutor(connections[using])
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        return
    # Django makes each app's permissions in a post_migrate receiver of its own, which may run
    # after this one (accounts is ready before django.contrib.auth): the last app's permissions
    # (django-axes') would not exist yet and the roles would lose them.
    from django.contrib.auth.management import create_permissions

    create_permissions(
        sender, verbosity=0, interactive=False, using=using, apps=apps or global_apps
    )
    apply_roles()
