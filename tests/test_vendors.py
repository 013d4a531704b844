"""Vendor message classes, group_name, test sends and silent-drop warnings (getui_async.messages.vendors)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from getui_async import _json
from getui_async.cli import _send_job, build_parser
from getui_async.errors import MessageError
from getui_async.messages import MessageTemplate, derive_campaign_id, recipient_ids
from getui_async.messages.vendors import (
    CLASS_KEYS,
    TEST_KEYS,
    VENDORS,
    Fill,
    VendorClass,
    apply_vendor_class,
    as_test_send,
    derive_test_campaign_id,
    fit_group_name,
    prepare_campaign,
    vendor_warnings,
    with_group_name,
)

from .cli_harness import ThreadedMock, run_cli, write_recipients


def options_of(template: MessageTemplate) -> dict[str, Any]:
    """The ups options the template sends (decoded from the rendered bytes, as Getui sees them)."""
    sent = _json.loads(template.shared().json)
    options: dict[str, Any] = sent["push_channel"]["android"]["ups"].get("options", {})
    return options


def simple() -> MessageTemplate:
    return MessageTemplate.simple(title="Spring sale", body="20% off today")


def test_marketing_adds_the_issue_keys() -> None:
    """marketing: HW LOW + MARKETING, HO LOW, OP MARKETING, VV 0 + MARKETING, XM the channel id."""
    template = apply_vendor_class(simple(), "marketing", xm_channel_id="mi-123")
    assert options_of(template) == {
        "HW": {"/message/android/notification/importance": "LOW", "/message/android/category": "MARKETING"},
        "HO": {"/android/notification/importance": "LOW"},
        "OP": {"/category": "MARKETING"},
        "VV": {"/classification": 0, "/category": "MARKETING"},
        "XM": {"/extra.channel_id": "mi-123"},
    }


def test_marketing_without_xm_channel_leaves_xm_out() -> None:
    """Without a configured xm_channel_id, no XM key is invented."""
    assert "XM" not in options_of(apply_vendor_class(simple(), VendorClass.MARKETING))


def test_service_uses_the_category() -> None:
    """service: importance NORMAL (HW, HO), VV classification 1, the category for HW, OP and VV."""
    template = apply_vendor_class(simple(), "service", category="ACCOUNT")
    assert options_of(template) == {
        "HW": {"/message/android/notification/importance": "NORMAL", "/message/android/category": "ACCOUNT"},
        "HO": {"/android/notification/importance": "NORMAL"},
        "OP": {"/category": "ACCOUNT"},
        "VV": {"/classification": 1, "/category": "ACCOUNT"},
    }


def test_service_requires_a_category() -> None:
    """service without a category is a MessageError that names --vendor-category."""
    with pytest.raises(MessageError, match="--vendor-category") as info:
        apply_vendor_class(simple(), "service")
    assert info.value.field == "vendor_category"


def test_none_adds_nothing() -> None:
    """none: the template is returned as it was."""
    template = simple()
    assert apply_vendor_class(template, "none") is template


def test_unknown_class_is_refused() -> None:
    """A class other than marketing/service/none is refused, listing the choices."""
    with pytest.raises(MessageError, match="marketing, service, none"):
        apply_vendor_class(simple(), "promo")


def test_template_keys_are_never_overridden() -> None:
    """A key the template sets keeps its value; the class fills only what is missing."""
    tree = simple().to_dict()
    tree["push_channel"]["android"]["ups"]["options"] = {
        "HW": {"/message/android/notification/importance": "NORMAL", "/other": 1}
    }
    template = apply_vendor_class(MessageTemplate.from_dict(tree), "marketing")
    hw = options_of(template)["HW"]
    assert hw["/message/android/notification/importance"] == "NORMAL"
    assert hw["/other"] == 1
    assert hw["/message/android/category"] == "MARKETING"


def test_template_without_ups_is_unchanged() -> None:
    """A message with no vendor section gets no options (a warning says so instead)."""
    template = MessageTemplate.from_dict({"push_message": {"transmission": "x"}})
    assert apply_vendor_class(template, "marketing") is template


def test_placeholders_survive_the_class() -> None:
    """Applying a class keeps the template personalized and its allow_empty setting."""
    template = MessageTemplate.simple(title="Hi {name}", body="B", allow_empty=True)
    classed = apply_vendor_class(template, "marketing")
    assert classed.variables == frozenset({"name"})
    assert classed.allow_empty is True
    sent = _json.loads(classed.render({"name": ""}).json)
    assert sent["push_channel"]["android"]["ups"]["options"]["OP"] == {"/category": "MARKETING"}


def test_table_has_one_source_per_key() -> None:
    """Every key in the table names its vendor, a source and a confidence."""
    for key in [*TEST_KEYS, *(k for keys in CLASS_KEYS.values() for k in keys)]:
        assert key.vendor in VENDORS
        assert key.path.startswith("/")
        assert key.source
        assert key.confidence in {"documented", "secondary", "uncertain"}
    assert any(key.value is Fill.CATEGORY for key in CLASS_KEYS[VendorClass.SERVICE])


def test_group_name_defaults_to_the_campaign() -> None:
    """with_group_name sets group_name to the campaign id fitted to Getui's rule."""
    template = with_group_name(simple(), "spring sale/2026")
    assert template.shared().group_name == "spring_sale_2026"


def test_group_name_of_the_template_wins() -> None:
    """A template that sets group_name keeps it."""
    tree = simple().to_dict()
    tree["group_name"] = "mine"
    template = MessageTemplate.from_dict(tree)
    assert with_group_name(template, "campaign") is template


@pytest.mark.parametrize(
    ("campaign", "fitted"),
    [("a" * 150, "a" * 100), ("春季", "campaign"), ("ok-1_2", "ok-1_2"), ("__x__", "x")],
)
def test_fit_group_name(campaign: str, fitted: str) -> None:
    """Fitting keeps ASCII letters, digits, - and _, at most 100 characters, never empty."""
    assert fit_group_name(campaign) == fitted


def test_test_send_sets_the_vendor_flags() -> None:
    """as_test_send sets HW target_user_type, HO targetUserType and VV pushMode to 1, keeping the class."""
    template = as_test_send(apply_vendor_class(simple(), "marketing"))
    options = options_of(template)
    assert options["HW"]["/message/android/target_user_type"] == 1
    assert options["HW"]["/message/android/notification/importance"] == "LOW"
    assert options["HO"]["/android/targetUserType"] == 1
    assert options["VV"]["/pushMode"] == 1


def test_test_campaign_has_its_own_request_ids() -> None:
    """A test send's campaign id differs from the real one, so the real send's request_ids are new."""
    campaign = derive_campaign_id(simple())
    test = derive_test_campaign_id(campaign)
    assert test != campaign
    assert derive_test_campaign_id(test) == test
    assert recipient_ids(test, "cid", "c1")[0] != recipient_ids(campaign, "cid", "c1")[0]


def codes(template: MessageTemplate, cls: str = "marketing", xm: str | None = "mi-1") -> list[str]:
    return [warning["code"] for warning in vendor_warnings(template, cls, xm_channel_id=xm)]


def test_clean_message_has_no_warnings() -> None:
    """A simple title/body message, classed, with an xm channel id, gives no warning."""
    assert codes(apply_vendor_class(simple(), "marketing", xm_channel_id="mi-1")) == []


def test_marketing_without_xm_channel_warns() -> None:
    """Marketing with no xm_channel_id (and none in the template) warns; service does not."""
    assert codes(simple(), xm=None) == ["xm_channel_missing"]
    assert codes(simple(), "service", xm=None) == []


def test_android_without_vendor_notification_or_ios_warns() -> None:
    """A --message with an Android notification but no ups notification, and no iOS part, warns twice."""
    template = MessageTemplate.from_dict(
        {"push_message": {"notification": {"title": "T", "body": "B", "click_type": "startapp"}}}
    )
    assert codes(template) == ["no_vendor_notification", "no_ios"]


def test_vendor_only_strategy_and_short_ttl_warn() -> None:
    """strategy 2 (vendor only) on a non-iOS key and a TTL under the vendors' minimum warn."""
    tree = simple().to_dict()
    tree["settings"] = {"ttl": 30_000, "strategy": {"default": 2, "ios": 2}}
    warnings = codes(MessageTemplate.from_dict(tree))
    assert warnings == ["strategy_vendor_only", "ttl_below_vendor_minimum"]


def test_title_over_a_vendor_display_limit_warns() -> None:
    """A 30-character Chinese title is over vivo's 40-unit display limit; the fixed text is what counts."""
    long_title = MessageTemplate.simple(title="春" * 30, body="B")
    assert codes(long_title) == ["title_over_vendor_limit"]
    short_with_placeholder = MessageTemplate.simple(title="春{name}", body="B")
    assert codes(short_with_placeholder) == []


def test_warnings_have_code_and_message() -> None:
    """Each warning is a {code, message} dict with a sentence for people."""
    warnings = vendor_warnings(simple())
    assert warnings, "a plain template must warn at least once (the Xiaomi channel) for this test to check"
    for warning in warnings:
        assert set(warning) == {"code", "message"}
        assert len(warning["message"]) > 20


def test_prepare_campaign_for_a_real_and_a_test_send() -> None:
    """prepare_campaign classes the message, group_name = campaign id; a test gets flags and its own id."""
    real, campaign = prepare_campaign(simple(), xm_channel_id="mi-1")
    assert real.shared().group_name == campaign
    assert campaign == derive_campaign_id(apply_vendor_class(simple(), "marketing", xm_channel_id="mi-1"))
    test, test_campaign = prepare_campaign(simple(), xm_channel_id="mi-1", test=True)
    assert test_campaign == derive_test_campaign_id(campaign)
    assert test.shared().group_name == test_campaign
    assert options_of(test)["VV"]["/pushMode"] == 1
    assert "/pushMode" not in options_of(real)["VV"]


def test_prepare_campaign_keeps_a_given_campaign_id() -> None:
    """A given campaign id is used as is (and marked for a test send)."""
    assert prepare_campaign(simple(), campaign_id="spring")[1] == "spring"
    assert prepare_campaign(simple(), campaign_id="spring", test=True)[1] == "spring-test"


# -- the send command's flags (cli wiring) ----------------------------------------------------------


def job_for(tmp_path: Path, *flags: str, env: dict[str, str] | None = None) -> Any:
    """The resolved send job for ``flags`` (a dry run, so no credentials are needed)."""
    path = write_recipients(tmp_path / "in.csv", 2)
    args = build_parser().parse_args(
        [
            "send",
            str(path),
            "--out",
            str(tmp_path / "r.jsonl"),
            "--title",
            "T",
            "--body",
            "B",
            "--dry-run",
            *flags,
        ]
    )
    return _send_job(args, env or {})


def sent(job: Any) -> dict[str, Any]:
    message: dict[str, Any] = _json.loads(job.template.shared().json)
    return message


def test_send_defaults_to_marketing_with_group_name_and_campaign(tmp_path: Path) -> None:
    """By default the message is marketing-classed and group_name is the campaign id the engine gets."""
    job = job_for(tmp_path, env={"GETUI_XM_CHANNEL_ID": "mi-9"})
    options = sent(job)["push_channel"]["android"]["ups"]["options"]
    assert options["HW"]["/message/android/notification/importance"] == "LOW"
    assert options["XM"] == {"/extra.channel_id": "mi-9"}
    assert sent(job)["group_name"] == job.options.campaign_id


def test_service_class_with_category(tmp_path: Path) -> None:
    """--vendor-class service --vendor-category ACCOUNT sets NORMAL importance and the category."""
    job = job_for(tmp_path, "--vendor-class", "service", "--vendor-category", "ACCOUNT")
    options = sent(job)["push_channel"]["android"]["ups"]["options"]
    assert options["HO"] == {"/android/notification/importance": "NORMAL"}
    assert options["OP"] == {"/category": "ACCOUNT"}


def test_none_class_adds_no_options(tmp_path: Path) -> None:
    """--vendor-class none leaves ups options out."""
    assert (
        "options" not in sent(job_for(tmp_path, "--vendor-class", "none"))["push_channel"]["android"]["ups"]
    )


def test_test_send_has_flags_and_its_own_campaign(tmp_path: Path) -> None:
    """--test sets the vendors' test flags and a campaign id of its own, with --campaign too."""
    job = job_for(tmp_path, "--test", "--campaign", "spring")
    assert job.options.campaign_id == "spring-test"
    assert sent(job)["push_channel"]["android"]["ups"]["options"]["HO"]["/android/targetUserType"] == 1
    assert sent(job)["group_name"] == "spring-test"


def test_service_without_category_is_exit_2(tmp_path: Path) -> None:
    """--vendor-class service without --vendor-category is exit 2 naming the flag, before anything runs."""
    path = write_recipients(tmp_path / "in.csv", 2)
    out = tmp_path / "r.jsonl"
    result = run_cli("send", path, "--out", out, "--title", "T", "--body", "B", "--vendor-class", "service")
    assert result.code == 2
    assert "--vendor-category" in result.err
    assert not out.exists()


def test_marketing_send_warns_about_the_missing_xm_channel(served: ThreadedMock, tmp_path: Path) -> None:
    """A real send to the mock prints the missing-channel warning at the start and still succeeds."""
    path = write_recipients(tmp_path / "in.csv", 3)
    out = tmp_path / "r.jsonl"
    result = run_cli(
        "send", path, "--out", out, "--title", "T", "--body", "B", "--no-progress", env=served.env
    )
    assert result.code == 0, result.err
    assert "[xm_channel_missing]" in result.err
