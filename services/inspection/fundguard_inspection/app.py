"""Flask app factory of the inspection service."""
from fundguard_shared.web import create_base_app
from fundguard_shared.worker import broker_check

from . import complaints, evidence, findings, flights, screening_api
from .runtime import runtime


def create_app():
    rt = runtime()
    app, api = create_base_app("inspection", "fundguard inspection API (检查与线索)",
                               rt.settings, rt.engine, broker_check(rt.settings))
    api.register_blueprint(findings.blp)
    api.register_blueprint(flights.blp)
    api.register_blueprint(evidence.blp)
    api.register_blueprint(complaints.blp)
    api.register_blueprint(screening_api.blp)
    return app
