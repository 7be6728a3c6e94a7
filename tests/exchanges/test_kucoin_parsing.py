"""Every recorded KuCoin sample parses into what its contract promises.

The registry ``CHECKS`` must name every ``kucoin_*.json`` in tests/fixtures/upstream: a new
sample fails ``test_every_kucoin_sample_is_checked`` until someone says what it should parse to.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from multidict import CIMultiDict

from cryptotrack.exchanges.errors import (
    UpstreamBadResponse,
    UpstreamError,
    UpstreamInvalidCredentials,
    UpstreamPermissionDenied,
    UpstreamRateLimited,
    UpstreamRequestRejected,
    UpstreamUnavailable,
)
from cryptotrack.exchanges.kucoin import (
    FuturesAccountOverview,
    KucoinTimestampError,
    MarginMode,
    PositionSide,
    assess_api_key,
    parse_api_key_info,
    parse_futures_account_overview,
    parse_position,
    parse_positions,
    parse_server_time_ms,
    parse_spot_accounts,
    sign,
)
from cryptotrack.exchanges.kucoin.client import NO_DATA, unwrap_response
from cryptotrack.simulators.kucoin import CONTRACTS
from tests.exchanges.kucoin_fixtures import (
    kucoin_sample_names,
    sample_bytes,
    sample_http_status,
    sample_json,
)


def unwrap(name: str, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    """Feed the sample's exact bytes through the client's envelope handling."""
    return unwrap_response(status, CIMultiDict(headers or {}), sample_bytes(name), "GET /test")


def raised(name: str, status: int, headers: dict[str, str] | None = None) -> UpstreamError:
    with pytest.raises(UpstreamError) as excinfo:
        unwrap(name, status, headers)
    return excinfo.value


# -- one check per sample ---------------------------------------------------------------


def check_apikey_info(name: str) -> None:
    info = parse_api_key_info(unwrap(name))
    assert info.api_key == "6705f5c311545b000157d3eb"
    assert info.permissions == (
        "General",
        "Futures",
        "Spot",
        "Earn",
        "InnerTransfer",
        "Transfer",
        "Margin",
    )
    assert info.ip_whitelist == ("203.**.154", "103.**.34")
    assert info.created_at == datetime(2024, 10, 9, 3, 17, 23, tzinfo=UTC)
    assert (info.uid, info.is_master, info.api_version) == (165111215, True, 3)
    verdict = assess_api_key(info)
    assert verdict.status == "valid"
    assert len(verdict.warnings) == 6  # Spot, Margin, Futures, Earn, Transfer, InnerTransfer


ERROR_CLASSES: dict[str, type[UpstreamError]] = {
    "kucoin_error_invalid_passphrase": UpstreamInvalidCredentials,
    "kucoin_error_invalid_sign": UpstreamInvalidCredentials,
    "kucoin_error_key_not_exists": UpstreamInvalidCredentials,
    "kucoin_error_missing_headers": UpstreamInvalidCredentials,
    "kucoin_error_invalid_timestamp": KucoinTimestampError,
    "kucoin_error_ip_not_whitelisted": UpstreamPermissionDenied,
    "kucoin_error_no_permission": UpstreamPermissionDenied,
    "kucoin_error_rate_limit": UpstreamRateLimited,
}


def check_error(name: str) -> None:
    status = sample_http_status(name)
    error = raised(name, status)
    assert type(error) is ERROR_CLASSES[name]
    assert error.status == status
    assert error.code == sample_json(name)["code"]
    assert sample_json(name)["msg"] in error.message


def check_account_overview(name: str) -> None:
    overview = parse_futures_account_overview(unwrap(name), currency="XBT")
    # Numbers decode straight to Decimal: no float rounding of money.
    assert overview == FuturesAccountOverview(
        currency="USDT",  # the answer's own currency wins over what was asked
        account_equity=Decimal("394.439280806"),
        unrealised_pnl=Decimal("20.15278"),
        margin_balance=Decimal("371.394298816"),
        position_margin=Decimal("102.20664159"),
        order_margin=Decimal("10.06002012"),
        frozen_funds=Decimal("0.0"),
        available_balance=Decimal("290.326799096"),
        risk_ratio=Decimal("0.0065289525"),
        max_withdraw_amount=Decimal("290.326419096"),
    )


def check_contracts_active(name: str) -> None:
    (contract,) = unwrap(name)
    ours = CONTRACTS[contract["symbol"]]
    assert ours.multiplier == contract["multiplier"]
    assert ours.settle_currency == contract["settleCurrency"]
    assert ours.is_inverse is contract["isInverse"]
    assert ours.tick_size == contract["tickSize"]


def check_position_does_not_exist(name: str) -> None:
    assert unwrap(name) is NO_DATA  # success code without data: not a position, not an error


def check_position_symbol(name: str) -> None:
    position = parse_position(unwrap(name))
    assert position is not None
    assert position.id == "500000000000988255"
    assert position.symbol == "XBTUSDTM"
    assert position.side is PositionSide.LONG
    assert position.size == Decimal(1)
    assert position.entry_price == Decimal("67430.9")
    assert position.mark_price == Decimal("68900.7")
    assert position.liquidation_price == Decimal("45314.33")
    assert position.leverage == Decimal("2.88")
    assert position.margin_mode is MarginMode.ISOLATED
    assert position.unrealised_pnl == Decimal("1.4698")
    assert position.realised_pnl == Decimal("-0.06166534")
    assert position.settle_currency == "USDT"
    assert position.opened_at == datetime.fromtimestamp(1729155616.322, tz=UTC)
    assert position.raw["posMaint"] == Decimal("0.3931320569")


def check_no_position_data(name: str) -> None:
    assert parse_position(sample_json(name)) is None  # the zeroed object means "none"


def check_positions(name: str) -> None:
    cross, isolated = parse_positions(unwrap(name))
    assert cross.symbol == "ETHUSDM"
    assert cross.margin_mode is MarginMode.CROSS
    assert cross.is_inverse is True
    assert cross.leverage == Decimal(10)
    assert cross.position_margin == Decimal("0.0000407478")  # "4.07478E-5" exactly
    assert cross.unrealised_pnl == Decimal("-4.975E-7")
    assert cross.settle_currency == "ETH"
    assert isolated.symbol == "XBTUSDTM"
    assert isolated.margin_mode is MarginMode.ISOLATED
    assert isolated.leverage == Decimal("2.97")
    assert isolated.liquidation_price == Decimal("45704.44")


def check_timestamp(name: str) -> None:
    assert parse_server_time_ms(unwrap(name)) == sample_json(name)["data"]


def check_margin_accounts(name: str) -> None:
    data = unwrap(name)
    assert Decimal(data["totalAssetOfQuoteCurrency"]) > 0


def check_ratelimit_headers(name: str) -> None:
    headers = sample_json(name)["headers"]
    error = raised("kucoin_error_rate_limit", 429, headers)
    assert isinstance(error, UpstreamRateLimited)
    assert error.retry_after == pytest.approx(29.99)  # gw-ratelimit-reset is in milliseconds


def check_signing_vectors(name: str) -> None:
    vectors = sample_json(name)
    for vector in vectors["vectors"]:
        assert sign(vectors["api_secret"], vector["message"]) == vector["expected_base64"]


def check_spot_accounts(name: str) -> None:
    trade, main = parse_spot_accounts(unwrap(name))
    assert (trade.currency, trade.type, trade.balance) == ("USDT", "trade", Decimal("26.66759503"))
    assert (main.type, main.available, main.holds) == ("main", Decimal("0.01"), Decimal(0))


CHECKS: dict[str, Callable[[str], None]] = {
    "kucoin_apikey_info": check_apikey_info,
    **dict.fromkeys(ERROR_CLASSES, check_error),
    "kucoin_futures_account_overview": check_account_overview,
    "kucoin_futures_contracts_active": check_contracts_active,
    "kucoin_futures_position_does_not_exist": check_position_does_not_exist,
    "kucoin_futures_position_symbol": check_position_symbol,
    "kucoin_futures_position_symbol_no_position_data": check_no_position_data,
    "kucoin_futures_positions": check_positions,
    "kucoin_futures_timestamp": check_timestamp,
    "kucoin_spot_timestamp": check_timestamp,
    "kucoin_margin_cross_accounts": check_margin_accounts,
    "kucoin_margin_isolated_accounts": check_margin_accounts,
    "kucoin_ratelimit_headers_example": check_ratelimit_headers,
    "kucoin_signing_test_vectors": check_signing_vectors,
    "kucoin_spot_accounts": check_spot_accounts,
}


def test_every_kucoin_sample_is_checked():
    names = kucoin_sample_names()
    assert len(names) >= 20, "tests/fixtures/upstream holds no KuCoin sample"
    assert sorted(CHECKS) == names


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_sample_parses_as_its_contract_says(name):
    CHECKS[name](name)


# -- the variations KuCoin really sends ----------------------------------------------------


def isolated_position() -> dict[str, Any]:
    return copy.deepcopy(sample_json("kucoin_futures_positions")["data"][1])


def test_older_payload_without_margin_mode_side_and_leverage_is_derived():
    obj = isolated_position()
    for key in ("marginMode", "positionSide", "leverage"):
        del obj[key]
    position = parse_position(obj)
    assert position is not None
    assert position.margin_mode is MarginMode.ISOLATED
    assert position.leverage == Decimal("2.97")  # from realLeverage

    obj["crossMode"] = True
    position = parse_position(obj)
    assert position is not None
    assert position.margin_mode is MarginMode.CROSS


def test_negative_quantity_is_a_short_of_absolute_size():
    obj = isolated_position()
    obj["currentQty"] = -7
    position = parse_position(obj)
    assert position is not None
    assert (position.side, position.size, position.current_qty) == (
        PositionSide.SHORT,
        Decimal(7),
        Decimal(-7),
    )


def test_hedge_mode_position_side_wins_over_the_sign():
    obj = isolated_position()
    obj["positionSide"] = "SHORT"
    position = parse_position(obj)
    assert position is not None
    assert position.side is PositionSide.SHORT


def test_numbers_as_strings_in_exponent_form():
    obj = isolated_position()
    obj.update({"unrealisedPnl": "1E-8", "markPrice": "6.83E+4", "currentQty": "3"})
    position = parse_position(obj)
    assert position is not None
    assert position.unrealised_pnl == Decimal("0.00000001")
    assert position.mark_price == Decimal(68300)
    assert position.size == Decimal(3)


def test_cross_position_without_isolated_fields_parses():
    cross = copy.deepcopy(sample_json("kucoin_futures_positions")["data"][0])
    assert "realLeverage" not in cross
    assert "posMaint" not in cross
    position = parse_position(cross)
    assert position is not None
    assert position.leverage == Decimal(10)


def test_empty_and_missing_position_lists_are_no_positions():
    assert parse_positions([]) == []
    assert parse_positions(None) == []
    assert parse_spot_accounts([]) == []


def test_account_overview_without_optional_fields_or_currency_parses():
    data = dict(sample_json("kucoin_futures_account_overview")["data"])
    for name in ("riskRatio", "maxWithdrawAmount", "currency"):
        del data[name]
    data["availableBalance"] = "1E-8"
    overview = parse_futures_account_overview(data, currency="USDT")
    assert (overview.currency, overview.risk_ratio, overview.max_withdraw_amount) == (
        "USDT",
        None,
        None,
    )
    assert overview.available_balance == Decimal("0.00000001")


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ([], "expected an object"),
        ({"accountEquity": 1}, "missing 'unrealisedPNL'"),
        (
            {
                **dict.fromkeys(
                    (
                        "accountEquity",
                        "unrealisedPNL",
                        "marginBalance",
                        "positionMargin",
                        "orderMargin",
                        "frozenFunds",
                    ),
                    0,
                ),
                "availableBalance": "lots",
            },
            "availableBalance",
        ),
    ],
)
def test_account_overview_contract_breaches_raise_bad_response(data, fragment):
    with pytest.raises(UpstreamBadResponse, match=fragment):
        parse_futures_account_overview(data, currency="USDT")


def test_closed_entries_in_the_list_are_skipped():
    obj = isolated_position()
    obj["isOpen"] = False
    assert parse_positions([obj]) == []


def test_a_zero_opening_timestamp_means_unknown():
    obj = isolated_position()
    obj["openingTimestamp"] = 0
    position = parse_position(obj)
    assert position is not None
    assert position.opened_at is None


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda o: o.pop("symbol"), "symbol"),
        (lambda o: o.pop("avgEntryPrice"), "avgEntryPrice"),
        (lambda o: o.update(markPrice="n/a"), "markPrice"),
        (lambda o: o.update(markPrice="NaN"), "markPrice"),
        (lambda o: o.update(currentQty=True), "currentQty"),
    ],
)
def test_contract_breaches_raise_bad_response(mutate, fragment):
    obj = isolated_position()
    mutate(obj)
    with pytest.raises(UpstreamBadResponse, match=fragment):
        parse_position(obj)


def test_a_list_where_an_object_is_expected_is_a_bad_response():
    with pytest.raises(UpstreamBadResponse):
        parse_positions({"not": "a list"})
    with pytest.raises(UpstreamBadResponse):
        parse_api_key_info([])


# -- envelopes and statuses --------------------------------------------------------------


def envelope_error(status: int, body: bytes, headers: dict[str, str] | None = None) -> Exception:
    with pytest.raises(UpstreamError) as excinfo:
        unwrap_response(status, CIMultiDict(headers or {}), body, "GET /x")
    return excinfo.value


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, b'{"code":"200000","data":[', UpstreamBadResponse),
        (200, b"<html>maintenance</html>", UpstreamBadResponse),
        (200, b'{"data": []}', UpstreamBadResponse),
        (200, b'{"code":"100001","msg":"unknown contract"}', UpstreamRequestRejected),
        (400, b'{"code":"400100","msg":"Parameter error"}', UpstreamRequestRejected),
        (404, b'{"code":"404000","msg":"interface not exists"}', UpstreamRequestRejected),
        (403, b'{"code":"411100","msg":"User is frozen"}', UpstreamPermissionDenied),
        (500, b'{"code":"500000","msg":"Internal Server Error"}', UpstreamUnavailable),
        (503, b"<html>503 Service Temporarily Unavailable</html>", UpstreamUnavailable),
        (502, b"", UpstreamUnavailable),
        (401, b"Unauthorized", UpstreamInvalidCredentials),
        (429, b"", UpstreamRateLimited),
    ],
)
def test_envelope_status_and_code_map_to_error_types(status, body, expected):
    assert type(envelope_error(status, body)) is expected


def test_error_messages_are_bounded_and_name_the_call():
    error = envelope_error(400, b'{"code":"400100","msg":"' + b"x" * 5000 + b'"}')
    assert "GET /x" in str(error)
    assert len(str(error)) < 400
