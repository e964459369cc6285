"""Flask app factory of the cases service."""
from fundguard_shared.web import create_base_app
from fundguard_shared.worker import broker_check

from . import api
from .documents import api as documents_api
from .points import api as points_api
from .runtime import runtime


def create_app():
    rt = runtime()
    app, smorest = create_base_app("cases", "fundguard cases API (案件办理)", rt.settings,
                                   rt.engine, broker_check(rt.settings))
    smorest.register_blueprint(api.blp)
    smorest.register_blueprint(api.wf)
    smorest.register_blueprint(api.dash)
    smorest.register_blueprint(api.cal)
    smorest.register_blueprint(points_api.pts)
    smorest.register_blueprint(documents_api.docs)
    from .attachments import api as attachments_api
    smorest.register_blueprint(attachments_api.att)
    from .documents import public_api as publication_api
    smorest.register_blueprint(publication_api.pub)
    smorest.register_blueprint(publication_api.files)
    return app
