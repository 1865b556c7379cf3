from accounts import webhooks
from carshop.ops.toolkit import OperationsCommand


class Command(OperationsCommand):
    help = (
        "Queue every webhook delivery that is due but has no task: lost when a process died "
        "right after its commit, or interrupted while sending (stuck 'sending' for 15 minutes). "
        "The worker (python manage.py db_worker --queue-name webhooks) then sends them. Safe to "
        "run at any time, e.g. from a timer every few minutes: a delivery is sent once even if "
        "queued twice.\n\n"
        "Example: python manage.py deliver_webhooks --format json"
    )
    report_command = True

    def handle(self, *args, **options):
        queued = webhooks.deliver_due()
        self.emit(options, {"queued": queued}, [f"{queued} webhook deliveries queued"])
