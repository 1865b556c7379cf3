from django.apps import AppConfig


class MessagingConfig(AppConfig):
    """Reaching the customer: messages by email and text, their templates per shop, opt-outs,
    and the reminder and follow-up rules a manager sets up."""

    name = "messaging"

    def ready(self):
        from messaging.history import register_panels
        from messaging.order_page import register_buttons

        # The customer's page lists the messages sent to them (core.history); the repair
        # order's page offers to send one (repairs.order_page).
        register_panels()
        register_buttons()
