"""Flask app factory of the notify service."""
from fundguard_shared.errors import problem
from fundguard_shared.web import create_base_app
from fundguard_shared.worker import broker_check

from . import deliveries, inbox, preferences, secretbox, webhooks
from .runtime import runtime


def create_app():
    rt = runtime()
    app, api = create_base_app("notify", "fundguard notify API (通知)", rt.settings, rt.engine,
                               broker_check(rt.settings))
    for module in (inbox, preferences, webhooks, deliveries):
        api.register_blueprint(module.blp)

    @app.errorhandler(secretbox.SecretKeyMissing)
    @app.errorhandler(secretbox.SecretUnreadable)
    def _secret_key_problem(err):
        app.logger.error("webhook secret key problem: %s", err)
        return problem(503, err.code, "回调签名密钥未配置或不匹配，请联系运维",
                       "The webhook secret key is missing or does not match; see "
                       "FUNDGUARD_NOTIFY_SECRET_KEY")
    return app
