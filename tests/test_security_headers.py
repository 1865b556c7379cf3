"""Every answer carries the Content-Security-Policy and the Permissions-Policy: pages, the API,
errors; a page's inline script runs only with that answer's nonce."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    ["/admin/login/", "/api/v1/", "/api/v1/docs/", "/estimate/not-a-token/", "/no-such-page/"],
)
def test_every_answer_has_both_policies(client, path):
    response = client.get(path)

    policy = response["Content-Security-Policy"]
    scripts = next(d for d in policy.split(";") if d.strip().startswith("script-src"))
    assert "'self'" in scripts and "unsafe-inline" not in scripts and "unsafe-eval" not in scripts
    assert "default-src 'self'" in policy and "object-src 'none'" in policy
    assert "base-uri 'none'" in policy and "frame-ancestors 'none'" in policy
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert f"{feature}=()" in response["Permissions-Policy"]


def test_the_api_docs_inline_script_carries_the_answers_nonce(client):
    response = client.get("/api/v1/docs/")

    nonce = response["Content-Security-Policy"].split("'nonce-", 1)[1].split("'", 1)[0]
    assert f'<script nonce="{nonce}">' in response.content.decode()
    assert (
        client.get("/api/v1/docs/")["Content-Security-Policy"]
        != response["Content-Security-Policy"]
    )  # a new nonce for each answer


def test_printable_documents_have_no_inline_event_handlers(advisor, login):
    from tests.helpers.builders.repairs import add_job_with_lines, make_order

    order = make_order()
    add_job_with_lines(order, labor=[("1.0", "100.00")])
    page = login(advisor).get(f"/admin/repairs/repairorder/{order.pk}/print/").content.decode()
    assert "onclick" not in page and "data-print" in page
