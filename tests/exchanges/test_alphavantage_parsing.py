"""Alpha Vantage bodies -> ExchangeRate or typed error, from the recorded samples and variants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from cryptotrack.exchanges.alphavantage import decode_body, mask_secret, parse_exchange_rate
from cryptotrack.exchanges.alphavantage.parsing import seconds_until_utc_midnight
from cryptotrack.exchanges.errors import (
    UpstreamBadResponse,
    UpstreamInvalidCredentials,
    UpstreamPermissionDenied,
    UpstreamRateLimited,
    UpstreamRequestRejected,
)
from tests.exchanges.alphavantage_coingecko_fixtures import sample_bytes, sample_json


def parse_sample(name: str, api_key: str | None = None):
    return parse_exchange_rate(decode_body(sample_bytes(name)), api_key=api_key)


def test_nine_field_sample_keeps_every_value_exact() -> None:
    rate = parse_sample("alphavantage_currency_exchange_rate_9field")

    assert rate.from_currency == "GBP"
    assert rate.from_currency_name == "British Pound Sterling"
    assert rate.to_currency == "USD"
    assert rate.to_currency_name == "United States Dollar"
    assert rate.rate == Decimal("1.36606000")
    assert rate.bid == Decimal("1.36602600")
    assert rate.ask == Decimal("1.36612700")
    assert rate.last_refreshed == datetime(2021, 11, 1, 19, 33, 43, tzinfo=UTC)
    assert rate.last_refreshed.utcoffset() == timedelta(0)
    assert rate.time_zone == "UTC"


def test_seven_field_sample_has_no_bid_or_ask() -> None:
    rate = parse_sample("alphavantage_currency_exchange_rate")

    assert (rate.from_currency, rate.to_currency) == ("BTC", "CNY")
    assert rate.rate == Decimal("109631.43060700")
    assert rate.bid is None
    assert rate.ask is None
    assert rate.last_refreshed == datetime(2017, 12, 20, 19, 23, 21, tzinfo=UTC)


def test_last_refreshed_is_read_in_the_named_zone() -> None:
    payload = sample_json("alphavantage_currency_exchange_rate_9field")
    fields = payload["Realtime Currency Exchange Rate"]
    fields["6. Last Refreshed"] = "2021-01-15 10:00:00"
    fields["7. Time Zone"] = "US/Eastern"

    rate = parse_exchange_rate(payload)

    assert rate.time_zone == "US/Eastern"
    assert rate.last_refreshed == datetime(2021, 1, 15, 15, 0, tzinfo=UTC)


def test_rate_object_is_frozen() -> None:
    rate = parse_sample("alphavantage_currency_exchange_rate")
    with pytest.raises(AttributeError):
        rate.rate = Decimal(1)  # type: ignore[misc]


def test_invalid_call_sample_is_a_rejected_request() -> None:
    with pytest.raises(UpstreamRequestRejected, match="Invalid API call"):
        parse_sample("alphavantage_error_invalid_call")


def test_missing_key_sample_is_invalid_credentials() -> None:
    with pytest.raises(UpstreamInvalidCredentials, match="apikey is invalid or missing"):
        parse_sample("alphavantage_error_invalid_or_missing_apikey")


def test_current_information_rate_limit_sample_is_a_daily_rate_limit() -> None:
    with pytest.raises(UpstreamRateLimited) as caught:
        parse_sample("alphavantage_rate_limit")

    assert caught.value.code == "daily_limit"
    assert caught.value.retry_after is not None
    assert 0 < caught.value.retry_after <= 24 * 3600


def test_legacy_note_sample_is_a_per_minute_rate_limit() -> None:
    with pytest.raises(UpstreamRateLimited) as caught:
        parse_sample("alphavantage_rate_limit_legacy_note")

    assert caught.value.code == "minute_limit"
    assert caught.value.retry_after == 60


@pytest.mark.parametrize(
    "text",
    [
        "Thank you for using Alpha Vantage! Our standard API rate limit is 25 requests per day. "
        "Please subscribe to any of the premium plans at https://www.alphavantage.co/premium/ "
        "to instantly remove all daily rate limits.",
        "We have detected your API key as SECRET-KEY-42 and our standard API rate limit is 25 "
        "requests per day. Please subscribe to any of the premium plans at "
        "https://www.alphavantage.co/premium/ to instantly remove all daily rate limits.",
    ],
)
def test_2024_information_variants_are_rate_limits_and_never_echo_the_key(text: str) -> None:
    with pytest.raises(UpstreamRateLimited) as caught:
        parse_exchange_rate({"Information": text}, api_key="SECRET-KEY-42")

    assert caught.value.code == "daily_limit"
    assert "SECRET-KEY-42" not in str(caught.value)


def test_demo_key_information_is_invalid_credentials_not_a_rate_limit() -> None:
    body = {
        "Information": "The **demo** API key is for demo purposes only. Please claim your free "
        "API key at (https://www.alphavantage.co/support/#api-key) to explore our full API "
        "offerings. It takes fewer than 20 seconds."
    }
    with pytest.raises(UpstreamInvalidCredentials):
        parse_exchange_rate(body)


def test_premium_endpoint_information_is_permission_denied() -> None:
    body = {
        "Information": "Thank you for using Alpha Vantage! This is a premium endpoint. You may "
        "subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to "
        "instantly unlock all premium endpoints"
    }
    with pytest.raises(UpstreamPermissionDenied):
        parse_exchange_rate(body)


def test_unrecognised_information_is_rejected_not_taken_for_a_quote() -> None:
    with pytest.raises(UpstreamRequestRejected, match="Scheduled maintenance"):
        parse_exchange_rate({"Information": "Scheduled maintenance."})


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda f: f.pop("5. Exchange Rate"), "lacks 5. Exchange Rate"),
        (lambda f: f.pop("7. Time Zone"), "lacks 7. Time Zone"),
        (lambda f: f.update({"5. Exchange Rate": "n/a"}), "not a number"),
        (lambda f: f.update({"5. Exchange Rate": "0"}), "not a positive number"),
        (lambda f: f.update({"8. Bid Price": "abc"}), "not a number"),
        (lambda f: f.update({"6. Last Refreshed": "yesterday"}), "not a time"),
        (lambda f: f.update({"7. Time Zone": "Mars/Olympus"}), "time zone is unknown"),
        (lambda f: f.update({"1. From_Currency Code": 5}), "lacks 1. From_Currency Code"),
    ],
)
def test_broken_rate_objects_are_bad_responses(mutate, match: str) -> None:
    payload = sample_json("alphavantage_currency_exchange_rate_9field")
    mutate(payload["Realtime Currency Exchange Rate"])

    with pytest.raises(UpstreamBadResponse, match=match):
        parse_exchange_rate(payload)


@pytest.mark.parametrize("payload", [{}, [], "text", {"Meta Data": {}}])
def test_bodies_without_a_rate_object_are_bad_responses(payload: object) -> None:
    with pytest.raises(UpstreamBadResponse):
        parse_exchange_rate(payload)


@pytest.mark.parametrize("body", [b"<html>502</html>", b'{"Realtime', b"NaN", b""])
def test_non_json_is_a_bad_response(body: bytes) -> None:
    with pytest.raises(UpstreamBadResponse):
        decode_body(body)


def test_placeholder_bid_and_ask_mean_absent() -> None:
    payload = sample_json("alphavantage_currency_exchange_rate_9field")
    payload["Realtime Currency Exchange Rate"].update({"8. Bid Price": "-", "9. Ask Price": ""})

    rate = parse_exchange_rate(payload)

    assert (rate.bid, rate.ask) == (None, None)


def test_mask_secret_hides_the_key_and_any_apikey_parameter() -> None:
    text = "GET https://x/query?function=F&apikey=abc123&to=USD said abc123"

    masked = mask_secret(text, "abc123")

    assert "abc123" not in masked
    assert "apikey=***&to=USD" in masked


def test_daily_retry_after_counts_to_the_next_utc_midnight() -> None:
    now = datetime(2024, 3, 1, 23, 59, 30, tzinfo=UTC)
    assert seconds_until_utc_midnight(now) == 30
