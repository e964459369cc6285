"""Flask app factory of the notify service."""
from fundguard_shared.web import create_base_app
from fundguard_shared.worker import broker_check

from . import deliveries, inbox, preferences, webhooks
from .runtime import runtime


def create_app():
    rt = runtime()
    app, api = create_base_app("notify", "fundguard notify API (通知)", rt.settings, rt.engine,
                               broker_check(rt.settings))
    for module in (inbox, preferences, webhooks, deliveries):
        api.register_blueprint(module.blp)
    return app
