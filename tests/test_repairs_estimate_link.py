"""The customer's estimate link: a signed, expiring page where jobs are declined one by one, or
ticked and approved with the customer's typed name as signature. Opened again once the work is
done, it says what was decided and that nothing is left to approve. A wrong, old or unknown link
always gets the same plain page and reveals nothing."""

import re
import time

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import ShopSettings
from repairs import links, services
from repairs.choices import Authorization, PaymentMethod
from tests.helpers.builders.repairs import (
    add_job_with_lines,
    make_customer,
    make_order,
    set_rates,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def order():
    set_rates(estimate_link_days=7)
    order = make_order()
    add_job_with_lines(order, title="Front brake pads", labor=[("1.5", "100.00")], approve=False)
    add_job_with_lines(order, title="Cabin air filter", labor=[("0.3", "100.00")], approve=False)
    return order


def _url(token):
    return reverse("repairs:customer_estimate", args=[token])


def _token_days_old(order, days):
    class SignerInThePast(signing.TimestampSigner):
        def timestamp(self):
            return signing.b62_encode(int(time.time()) - days * 86400)

    return SignerInThePast(salt=links.SALT).sign_object(
        {"ro": order.pk, "n": order.number}, compress=True
    )


def test_the_customer_sees_the_jobs_and_total_without_logging_in(client, order):
    response = client.get(_url(links.estimate_token(order)))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Front brake pads" in page and "Cabin air filter" in page
    assert order.number in page
    assert "no-store" in response["Cache-Control"]
    assert order.vehicle.vin not in page  # the estimate, nothing else


def _sign(client, url, *jobs, name="Maria Garcia"):
    return client.post(
        url, {"action": "sign", "approve": [job.pk for job in jobs], "signed_name": name}
    )


def test_approving_and_declining_online_records_who_when_and_how(client, order):
    url = _url(links.estimate_token(order))
    brakes, filter_job = order.jobs.order_by("position")
    response = _sign(client, url, brakes)
    assert response.status_code == 302
    brakes.refresh_from_db()
    assert brakes.authorization == Authorization.APPROVED
    assert brakes.authorization_method == "online"
    assert brakes.authorized_by == "Maria Garcia"  # the name typed to sign
    assert brakes.authorized_at is not None
    order.refresh_from_db()
    assert order.status == "estimate"  # one job still waits

    client.post(url, {"job": filter_job.pk, "decision": "declined"})
    filter_job.refresh_from_db()
    assert filter_job.authorization == Authorization.DECLINED
    # In the customer's name as a person reads it, as the signed approval is.
    assert filter_job.authorized_by == "Maria Garcia"
    order.refresh_from_db()
    assert order.status == "approved"  # every job decided, one approved
    assert "Cabin air filter" in client.get(url).content.decode()  # shown as declined


def test_a_decision_already_given_is_not_changed_from_the_link(client, order):
    url = _url(links.estimate_token(order))
    job = order.jobs.first()
    client.post(url, {"job": job.pk, "decision": "declined"})
    response = _sign(client, url, job)
    assert response.status_code == 200
    assert "already declined" in response.content.decode()
    assert not order.signatures.exists()
    job.refresh_from_db()
    assert job.authorization == Authorization.DECLINED


def _bad_links(order):
    good = links.estimate_token(order)
    other = make_order()
    unknown = signing.TimestampSigner(salt=links.SALT).sign_object(
        {"ro": 987654, "n": "RO-1999-00001"}, compress=True
    )
    return {
        "tampered": good[:-3] + ("aaa" if not good.endswith("aaa") else "bbb"),
        "other payload, same signature": good.replace(good.split(":")[0], "eyJybyI6MX0", 1),
        "expired": _token_days_old(order, 8),
        "unknown order": unknown,
        "number of another order": signing.TimestampSigner(salt=links.SALT).sign_object(
            {"ro": order.pk, "n": other.number}, compress=True
        ),
        "signed for another purpose": signing.TimestampSigner(salt="other").sign_object(
            {"ro": order.pk, "n": order.number}, compress=True
        ),
        "garbage": "not-a-token",
    }


def test_wrong_old_or_unknown_links_all_get_the_same_page_that_reveals_nothing(client, order):
    reference = client.get(_url("not-a-token"))
    assert reference.status_code == 404
    for label, token in _bad_links(order).items():
        for method in ("get", "post"):
            response = getattr(client, method)(
                _url(token),
                {"job": order.jobs.first().pk, "decision": "approved"}
                if method == "post"
                else None,
            )
            assert response.status_code == 404, label
            assert response.content == reference.content, label
            page = response.content.decode()
            assert order.number not in page and "Garcia" not in page, label
    assert not order.jobs.exclude(authorization=Authorization.PENDING).exists()


def test_a_link_a_day_before_expiry_still_works(client, order):
    assert client.get(_url(_token_days_old(order, 6))).status_code == 200


def _decide_online(client, order):
    """The customer declines the cabin filter and signs for the brakes, from the link."""
    url = _url(links.estimate_token(order))
    brakes, filter_job = order.jobs.order_by("position")
    client.post(url, {"job": filter_job.pk, "decision": "declined"})
    _sign(client, url, brakes)
    return brakes, filter_job


def _decisions(page):
    """The decisions as the page lists them, one text per job."""
    items = re.findall(r'<li class="decision (?:approved|declined)">(.*?)</li>', page, re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", item).split()) for item in items]


def _pay(order):
    invoice = services.invoice_repair_order(order)
    services.record_payment(invoice, invoice.total, PaymentMethod.CARD)


@pytest.mark.parametrize(
    "close",
    [
        pytest.param(lambda order: None, id="completed"),
        pytest.param(services.invoice_repair_order, id="invoiced"),
        pytest.param(_pay, id="paid"),
    ],
)
def test_the_link_opened_again_after_the_work_says_what_was_decided(client, order, close):
    set_rates(estimate_link_days=7)
    shop = ShopSettings.current()
    shop.phone = "(217) 555-0100"
    shop.save()
    token = links.estimate_token(order)
    brakes, filter_job = _decide_online(client, order)
    services.start_work(order)
    while_open = client.get(_url(token)).content.decode()
    services.complete_work(order)
    close(order)

    response = client.get(_url(token))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "same-origin"
    page = response.content.decode()
    assert "This estimate has been answered" in page
    assert "There is nothing more to approve or decline on it." in page
    assert "Call us at (217) 555-0100" in page
    assert order.number in page
    brakes.refresh_from_db()
    filter_job.refresh_from_db()
    at = {
        job: f"{timezone.localtime(job.authorized_at):%Y-%m-%d %H:%M}"
        for job in (brakes, filter_job)
    }
    assert _decisions(page) == [
        f"1. Front brake pads Approved by Maria Garcia, online (estimate link), {at[brakes]}",
        f"2. Cabin air filter Declined by Maria Garcia, online (estimate link), {at[filter_job]}",
    ]
    assert "Signed by <strong>Maria Garcia</strong>" in page
    # Nothing to press, and nothing the estimate page did not show while the order was open.
    assert "<form" not in page and "<button" not in page and 'name="approve"' not in page
    assert _decisions(page) == _decisions(while_open)
    for hidden in (order.vehicle.vin, "Completed", "Invoiced", "Paid", "nvoice"):
        assert hidden not in page, hidden


def test_an_approval_posted_to_an_answered_estimate_changes_nothing_and_says_so(client, order):
    token = links.estimate_token(order)
    brakes, filter_job = _decide_online(client, order)
    services.start_work(order)
    services.complete_work(order)
    signatures = order.signatures.count()

    for post in (
        {"action": "sign", "approve": [filter_job.pk], "signed_name": "Somebody Else"},
        {"job": filter_job.pk, "decision": "approved"},
        {"job": brakes.pk, "decision": "declined"},
    ):
        response = client.post(_url(token), post)
        assert response.status_code == 200
        page = response.content.decode()
        assert (
            '<p class="error" role="alert">Nothing was changed: this estimate has no job left '
            "to approve or decline.</p>"
        ) in page
        assert "This estimate has been answered" in page
    decisions = dict(order.jobs.values_list("title", "authorization"))
    assert decisions == {
        "Front brake pads": Authorization.APPROVED,
        "Cabin air filter": Authorization.DECLINED,
    }
    assert order.signatures.count() == signatures
    order.refresh_from_db()
    assert order.status == "completed"


def test_a_canceled_estimate_the_customer_never_answered_has_nothing_to_approve(client, order):
    token = links.estimate_token(order)
    services.cancel_repair_order(order, reason="went elsewhere")
    response = client.get(_url(token))
    assert response.status_code == 200
    page = response.content.decode()
    assert "There is nothing more to approve or decline on it." in page
    assert _decisions(page) == []
    assert "went elsewhere" not in page and "<form" not in page


def test_bad_links_to_an_answered_estimate_still_get_the_same_generic_page(client, order):
    _decide_online(client, order)
    services.start_work(order)
    services.complete_work(order)
    reference = client.get(_url("not-a-token"))
    assert reference.status_code == 404
    for label, token in _bad_links(order).items():
        for method in ("get", "post"):
            response = getattr(client, method)(_url(token))
            assert response.status_code == 404, label
            assert response.content == reference.content, label
            page = response.content.decode()
            assert order.number not in page and "Garcia" not in page, label
    # A genuine token of another order shows that order, never this one.
    other = make_order(customer=make_customer("Lovelace", "Ada"))
    add_job_with_lines(other, title="Other job", approve=False)
    page = client.get(_url(links.estimate_token(other))).content.decode()
    assert other.number in page and order.number not in page and "Front brake" not in page


@pytest.mark.parametrize("jobs", [1, 30])
def test_the_answered_page_reads_a_fixed_number_of_queries(
    client, django_assert_max_num_queries, jobs
):
    set_rates(estimate_link_days=7)
    order = make_order()
    for index in range(jobs):
        add_job_with_lines(order, title=f"Job {index}", labor=[("1", "100")], approve=False)
    services.approve_in_person(order)
    services.start_work(order)
    services.complete_work(order)
    url = _url(links.estimate_token(order))
    with django_assert_max_num_queries(8):
        response = client.get(url)
    assert response.status_code == 200
    assert len(_decisions(response.content.decode())) == jobs


def test_a_job_of_another_order_cannot_be_decided_through_the_link(client, order):
    other = make_order()
    stranger = add_job_with_lines(other, title="Other job", approve=False)
    url = _url(links.estimate_token(order))
    response = client.post(url, {"job": stranger.pk, "decision": "declined"})
    assert response.status_code == 404
    response = _sign(client, url, stranger)
    assert "One of the jobs is not on this estimate." in response.content.decode()
    stranger.refresh_from_db()
    assert stranger.authorization == Authorization.PENDING
    assert not order.signatures.exists() and not other.signatures.exists()


def test_the_advisor_sees_the_whole_link_as_the_customer_will_open_it(
    login, advisor, order, settings
):
    # Behind nginx, which names the site and says the visitor came over https.
    settings.ALLOWED_HOSTS = ["shop.example.com"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    page = (
        login(advisor)
        .get(
            f"/admin/repairs/repairorder/{order.pk}/change/",
            HTTP_HOST="shop.example.com",
            HTTP_X_FORWARDED_PROTO="https",
        )
        .content.decode()
    )

    link = re.search(r'id="approval-link" readonly size="\d+" value="([^"]+)"', page).group(1)
    assert link.startswith("https://shop.example.com/estimate/")
    assert 'data-copy="approval-link">Copy link</button>' in page
    assert "repairs/copy-link" in page  # the script of the button, a static file
    customer = Client()
    opened = customer.get(
        link.removeprefix("https://shop.example.com"),
        HTTP_HOST="shop.example.com",
        HTTP_X_FORWARDED_PROTO="https",
    )
    assert order.number in opened.content.decode()


def test_the_customer_page_keeps_its_address_from_other_sites(client, order):
    response = client.get(_url(links.estimate_token(order)))
    # No Referer to another site; this site's own posts still carry its Origin.
    assert response["Referrer-Policy"] == "same-origin"
