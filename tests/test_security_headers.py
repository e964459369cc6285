"""Security headers on every HTTP response of every service (and the portal), CORS closed by
default, and the page-size cap of every list endpoint (read from each service's OpenAPI, so a
new list endpoint is covered as soon as it exists)."""
from __future__ import annotations

import pytest

from fundguard_shared.pagination import MAX_PER_PAGE
from tests.support.platform import SERVICES
from tests.test_portal_app import PASSWORD, login, rt  # noqa: F401  (fixture)

pytestmark = pytest.mark.platform

REQUIRED_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
EVIL_ORIGIN = "https://evil.example"
# tried in this order until one is admitted by the endpoint's role check
ROLES_TO_TRY = ("leader", "admin", "inspector", "legal_reviewer", "panel_member", "institution")


def assert_security_headers(resp, where: str) -> None:
    for name, value in REQUIRED_HEADERS.items():
        assert resp.headers.get(name) == value, f"{where}: {name}={resp.headers.get(name)!r}"
    assert resp.headers.get("Referrer-Policy") in ("no-referrer", "same-origin",
                                                   "strict-origin-when-cross-origin"), where
    csp = resp.headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp, f"{where}: CSP {csp!r}"


def assert_cors_closed(resp, where: str) -> None:
    leaked = {k: v for k, v in resp.headers.items() if k.lower().startswith("access-control-")}
    assert not leaked, f"{where}: CORS headers {leaked}"


def spec_of(platform, service: str) -> dict:
    r = platform.call("GET", service, "/api/v1/openapi.json")
    assert r.status_code == 200, r.text
    return r.json()


def list_endpoints(spec: dict) -> list[str]:
    """GET operations without path parameters that take ``per_page``."""
    out = []
    for path, item in spec["paths"].items():
        op = item.get("get")
        if not op or "{" in path:
            continue
        if any(p.get("name") == "per_page" and p.get("in") == "query"
               for p in op.get("parameters", []) + item.get("parameters", [])):
            out.append(path)
    return sorted(out)


@pytest.mark.parametrize("service", SERVICES)
def test_security_headers_on_every_kind_of_response(platform, tokens, service):
    spec = spec_of(platform, service)
    first_list = list_endpoints(spec)[0]
    responses = {
        "healthz": platform.call("GET", service, "/healthz"),
        "openapi": platform.call("GET", service, "/api/v1/openapi.json"),
        "docs": platform.call("GET", service, "/api/v1/docs"),
        "401 problem": platform.call("GET", service, first_list),
        "404 unmatched": platform.call("GET", service, "/api/v1/no-such-thing", tokens["leader"]),
        "405": platform.call("DELETE", service, "/healthz"),
        "422 problem": platform.call("GET", service, f"{first_list}?per_page=0", tokens["leader"]),
        "metrics": platform.call("GET", service, "/metrics"),
    }
    assert responses["401 problem"].status_code == 401
    assert responses["404 unmatched"].status_code == 404
    for what, resp in responses.items():
        assert_security_headers(resp, f"{service} {what}")


@pytest.mark.parametrize("service", SERVICES)
def test_cors_closed_by_default(platform, tokens, service):
    spec = spec_of(platform, service)
    path = list_endpoints(spec)[0]
    origin = {"Origin": EVIL_ORIGIN}
    simple = platform.call("GET", service, path, tokens["leader"], headers=dict(origin))
    preflight = platform.call("OPTIONS", service, path, headers={
        **origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    health = platform.call("GET", service, "/healthz", headers=dict(origin))
    for what, resp in {"GET list": simple, "preflight": preflight, "healthz": health}.items():
        assert_cors_closed(resp, f"{service} {what}")
        assert_security_headers(resp, f"{service} {what}")


@pytest.mark.parametrize("service", SERVICES)
def test_list_endpoints_reject_per_page_above_the_cap(platform, tokens, service):
    spec = spec_of(platform, service)
    paths = list_endpoints(spec)
    assert paths, f"{service}: no list endpoint found in its OpenAPI"
    checked = []
    for path in paths:
        for role in ROLES_TO_TRY:
            r = platform.call("GET", service, f"{path}?per_page={MAX_PER_PAGE + 1}", tokens[role])
            if r.status_code in (401, 403):
                continue
            assert r.status_code == 422, f"{service} {path} as {role}: {r.status_code} {r.text}"
            body = r.json()
            assert body["code"] == "validation_failed" and "per_page" in str(body.get("errors")), \
                f"{service} {path}: {body}"
            assert_security_headers(r, f"{service} {path} 422")
            checked.append(path)
            break
        else:
            pytest.fail(f"{service} {path}: no role admitted")
        # the documented cap matches what is enforced
        params = spec["paths"][path]["get"].get("parameters", [])
        per_page = next(p for p in params if p.get("name") == "per_page")
        assert per_page["schema"].get("maximum") == MAX_PER_PAGE, f"{service} {path}"
    assert checked == paths
    print(f"\n{service}: per_page cap checked on {len(paths)} list endpoints")


def test_portal_answers_with_security_headers_and_no_cors(rt):  # noqa: F811
    from fundguard_portal.app import create_app
    client = create_app(rt).test_client()
    origin = {"Origin": EVIL_ORIGIN}
    responses = {
        "login page": client.get("/login", headers=origin),
        "redirect to login": client.get("/", headers=origin),
        "404": client.get("/no-such-page", headers=origin),
        "healthz": client.get("/healthz", headers=origin),
        "static": client.get("/static/portal.css", headers=origin),
        "preflight": client.open("/login", method="OPTIONS", headers={
            **origin, "Access-Control-Request-Method": "POST"}),
    }
    login(client, "insp")
    responses["signed-in page"] = client.get("/workflow", headers=origin)
    for what, resp in responses.items():
        assert_security_headers(resp, f"portal {what}")
        assert_cors_closed(resp, f"portal {what}")
    assert "frame-ancestors 'none'" in responses["login page"].headers["Content-Security-Policy"]
