"""The KuCoin client against the KuCoin simulator, over real sockets."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import aiohttp
import pytest

from cryptotrack.exchanges.errors import (
    UpstreamBadResponse,
    UpstreamError,
    UpstreamInvalidCredentials,
    UpstreamPermissionDenied,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from cryptotrack.exchanges.kucoin import (
    KucoinClient,
    KucoinCredentials,
    KucoinTimestampError,
    MarginMode,
    PositionSide,
)
from cryptotrack.exchanges.kucoin.client import _env_proxy
from cryptotrack.simulators.kucoin import KucoinSimulator
from tests.exchanges.kucoin_fixtures import (
    API_KEY,
    API_PASSPHRASE,
    API_SECRET,
    OTHER_KEY,
    OTHER_PASSPHRASE,
    OTHER_SECRET,
)

CREDS = KucoinCredentials(API_KEY, API_SECRET, API_PASSPHRASE)
OTHER = KucoinCredentials(OTHER_KEY, OTHER_SECRET, OTHER_PASSPHRASE)
POSITIONS = "/api/v1/positions"


@pytest.fixture
def sim():
    with KucoinSimulator(seed=1) as simulator:
        simulator.add_key(API_KEY, API_SECRET, API_PASSPHRASE)
        simulator.add_key(OTHER_KEY, OTHER_SECRET, OTHER_PASSPHRASE)
        yield simulator


def make_client(sim: KucoinSimulator, **options) -> KucoinClient:
    settings = {"timeout": 2.0, "max_attempts": 3, "base_delay": 0.01, "max_delay": 1.0}
    settings.update(options)
    return KucoinClient(spot_url=sim.url, futures_url=sim.url, **settings)


@pytest.fixture
async def client(sim):
    async with make_client(sim) as kucoin:
        yield kucoin


# -- every call --------------------------------------------------------------------------


async def test_futures_positions_lists_each_open_position(sim, client):
    sim.open_position(
        API_KEY, "XBTUSDTM", side="long", size=2, entry_price=60000, mark_price=61000, leverage=5
    )
    sim.open_position(
        API_KEY,
        "ETHUSDTM",
        side="short",
        size=10,
        entry_price=2500,
        mark_price=2400,
        leverage=10,
        margin_mode="cross",
    )
    sim.open_position(OTHER_KEY, "SOLUSDTM", size=1)  # someone else's

    positions = {p.symbol: p for p in await client.futures_positions(CREDS)}

    assert set(positions) == {"XBTUSDTM", "ETHUSDTM"}
    xbt, eth = positions["XBTUSDTM"], positions["ETHUSDTM"]
    assert (xbt.side, xbt.size, xbt.margin_mode) == (PositionSide.LONG, 2, MarginMode.ISOLATED)
    assert (xbt.entry_price, xbt.mark_price) == (Decimal(60000), Decimal(61000))
    assert xbt.unrealised_pnl == Decimal("2")  # 2 contracts x 0.001 BTC x 1000 USDT
    assert xbt.settle_currency == "USDT"
    assert xbt.liquidation_price is not None
    assert xbt.liquidation_price < xbt.entry_price
    assert (eth.side, eth.size, eth.margin_mode) == (PositionSide.SHORT, 10, MarginMode.CROSS)
    assert eth.leverage == Decimal(10)
    assert eth.unrealised_pnl == Decimal("10")  # 10 x 0.01 ETH x 100 USDT
    assert eth.liquidation_price is not None
    assert eth.liquidation_price > eth.entry_price
    assert eth.opened_at is not None
    assert abs(datetime.now(UTC) - eth.opened_at) < timedelta(seconds=5)


async def test_positions_follow_the_mark_price_and_close(sim, client):
    sim.open_position(API_KEY, "XBTUSDTM", size=1, entry_price=60000, mark_price=60000)
    sim.set_mark_price("XBTUSDTM", 58000)
    (position,) = await client.futures_positions(CREDS)
    assert position.unrealised_pnl == Decimal("-2")

    sim.close_position(API_KEY, "XBTUSDTM")
    assert await client.futures_positions(CREDS) == []


async def test_positions_filtered_by_settle_currency(sim, client):
    sim.open_position(API_KEY, "XBTUSDTM", size=1)
    sim.open_position(API_KEY, "ETHUSDM", size=100, entry_price=2500, mark_price=2400)

    (position,) = await client.futures_positions(CREDS, currency="ETH")

    assert position.symbol == "ETHUSDM"
    assert position.is_inverse is True
    assert position.unrealised_pnl < 0  # an inverse long loses coin value when price falls


async def test_one_symbol_position_and_none_without_one(sim, client):
    sim.open_position(API_KEY, "XBTUSDTM", side="short", size=3, entry_price=65000)

    position = await client.futures_position(CREDS, "XBTUSDTM")
    assert position is not None
    assert (position.side, position.size, position.entry_price) == (
        PositionSide.SHORT,
        3,
        Decimal(65000),
    )
    assert await client.futures_position(CREDS, "ETHUSDTM") is None


async def test_success_envelope_without_data_is_no_position(sim, client):
    sim.inject_fault(
        "malformed",
        path="/api/v1/position",
        body='{"code":"200000","msg":"Position does not exist"}',
    )
    assert await client.futures_position(CREDS, "XBTUSDTM") is None


async def test_spot_accounts_with_filters(sim, client):
    sim.set_balance(API_KEY, "USDT", "100.5", account_type="trade", holds="0.5")
    sim.set_balance(API_KEY, "USDT", "7", account_type="main")
    sim.set_balance(API_KEY, "BTC", "0.00000001", account_type="trade")

    accounts = await client.spot_accounts(CREDS)
    assert {(a.currency, a.type) for a in accounts} == {
        ("USDT", "trade"),
        ("USDT", "main"),
        ("BTC", "trade"),
    }
    (usdt_trade,) = await client.spot_accounts(CREDS, currency="USDT", account_type="trade")
    assert (usdt_trade.balance, usdt_trade.available, usdt_trade.holds) == (
        Decimal("100.5"),
        Decimal("100"),
        Decimal("0.5"),
    )
    (btc,) = await client.spot_accounts(CREDS, currency="BTC")
    assert btc.balance == Decimal("1E-8")


async def test_futures_account_overview_reads_the_asked_currency(sim, client):
    sim.set_futures_balance(API_KEY, "1500.25", order_margin="0.25")
    sim.set_futures_balance(API_KEY, "0.5", currency="XBT")

    usdt = await client.futures_account_overview(CREDS)
    xbt = await client.futures_account_overview(CREDS, currency="XBT")

    assert (usdt.currency, usdt.margin_balance, usdt.order_margin) == (
        "USDT",
        Decimal("1500.25"),
        Decimal("0.25"),
    )
    assert usdt.available_balance == Decimal("1500")
    assert usdt.risk_ratio == 0
    assert (xbt.currency, xbt.account_equity) == ("XBT", Decimal("0.5"))
    assert sim.request_count(api_key=API_KEY, path="/api/v1/account-overview") == 2


async def test_api_key_info_and_credentials_check(sim, client):
    info = await client.api_key_info(CREDS)
    assert info.api_key == API_KEY
    assert info.permissions == ("General", "Futures")

    verdict = await client.check_credentials(CREDS)
    assert verdict.status == "valid"
    assert any("Futures" in warning for warning in verdict.warnings)


async def test_credentials_check_reports_each_outcome(sim, client):
    sim.add_key("read-only", "s", "p", permissions=["General"])
    sim.add_key("trader", "s", "p", permissions=["General", "Futures", "Spot", "Transfer"])

    missing = await client.check_credentials(KucoinCredentials("read-only", "s", "p"))
    assert missing.status == "insufficient_permission"
    assert "Futures" in missing.message
    trader = await client.check_credentials(KucoinCredentials("trader", "s", "p"))
    assert trader.status == "valid"
    assert any("Spot" in w for w in trader.warnings)
    assert any("Transfer" in w for w in trader.warnings)
    invalid = await client.check_credentials(KucoinCredentials(API_KEY, API_SECRET, "wrong"))
    assert invalid.status == "invalid"
    assert "400004" in invalid.message

    sim.inject_fault("error", status=503)
    unverified = await client.check_credentials(CREDS)
    assert unverified.status == "unverified"


async def test_server_time_on_both_bases(sim, client):
    for base in ("spot", "futures"):
        server = await client.server_time(base=base)
        assert abs(datetime.now(UTC) - server) < timedelta(seconds=2)


async def test_caller_owned_session_is_used_and_left_open(sim):
    async with aiohttp.ClientSession() as session:
        kucoin = KucoinClient(spot_url=sim.url, futures_url=sim.url, session=session)
        assert await kucoin.futures_positions(CREDS) == []
        await kucoin.aclose()
        assert not session.closed
        assert await kucoin.futures_positions(CREDS) == []


def test_a_client_built_outside_a_loop_serves_one_loop_after_another(sim):
    # The poller builds nothing in advance, but a client object may be: its session is
    # opened inside the loop of the first call, and aclose() lets the next loop open anew.
    kucoin = KucoinClient(spot_url=sim.url, futures_url=sim.url)
    sim.open_position(API_KEY, "XBTUSDTM", size=1)

    async def poll_once() -> int:
        try:
            return len(await kucoin.futures_positions(CREDS))
        finally:
            await kucoin.aclose()

    assert asyncio.run(poll_once()) == 1
    assert asyncio.run(poll_once()) == 1
    assert sim.request_count(path=POSITIONS) == 2


async def test_closing_an_unused_client_is_a_no_op(sim):
    async with make_client(sim):
        pass
    assert sim.request_count() == 0


@pytest.mark.parametrize(
    ("environment", "base", "expected"),
    [
        ({}, "https://api.kucoin.com", None),
        ({"HTTPS_PROXY": "http://proxy:3128"}, "https://api.kucoin.com", "http://proxy:3128"),
        ({"HTTPS_PROXY": "http://proxy:3128"}, "http://127.0.0.1:9100", None),
        ({"ALL_PROXY": "http://proxy:3128"}, "http://sim:9100", "http://proxy:3128"),
        (
            {"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "kucoin.com"},
            "https://api.kucoin.com",
            None,
        ),
    ],
)
def test_the_environment_proxy_is_resolved_once_as_httpx_did(
    monkeypatch, environment, base, expected
):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert _env_proxy(base) == expected


# -- KuCoin's error codes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("credentials", "error_class", "code"),
    [
        (KucoinCredentials("no-such-key", "s", "p"), UpstreamInvalidCredentials, "400003"),
        (KucoinCredentials(API_KEY, API_SECRET, "wrong"), UpstreamInvalidCredentials, "400004"),
        (KucoinCredentials(API_KEY, "wrong", API_PASSPHRASE), UpstreamInvalidCredentials, "400004"),
        (
            KucoinCredentials(API_KEY, API_SECRET, API_PASSPHRASE, key_version="1"),
            UpstreamInvalidCredentials,
            "400004",
        ),
        (KucoinCredentials("", API_SECRET, API_PASSPHRASE), UpstreamInvalidCredentials, "400001"),
    ],
    ids=["unknown-key", "bad-passphrase", "bad-secret", "v1-passphrase", "missing-header"],
)
async def test_rejected_credentials_raise_typed_errors_without_retry(
    sim, client, credentials, error_class, code
):
    with pytest.raises(error_class) as excinfo:
        await client.futures_positions(credentials)
    assert excinfo.value.code == code
    assert sim.request_count(path=POSITIONS) == 1


async def test_a_bad_signature_is_invalid_credentials(sim, client):
    # A version-1 key sends its passphrase in clear, so only the signature is wrong here.
    sim.add_key("v1-key", "real-secret", "pp", key_version="1")
    with pytest.raises(UpstreamInvalidCredentials) as excinfo:
        await client.futures_positions(KucoinCredentials("v1-key", "other", "pp", key_version="1"))
    assert excinfo.value.code == "400005"
    assert (
        await client.futures_positions(
            KucoinCredentials("v1-key", "real-secret", "pp", key_version="1")
        )
        == []
    )


async def test_ip_not_whitelisted_and_missing_permission_are_permission_denied(sim, client):
    sim.add_key("walled", "s", "p", ip_whitelist=["10.9.8.7"])
    sim.add_key("general-only", "s", "p", permissions=["General"])

    with pytest.raises(UpstreamPermissionDenied) as walled:
        await client.futures_positions(KucoinCredentials("walled", "s", "p"))
    with pytest.raises(UpstreamPermissionDenied) as general_only:
        await client.futures_positions(KucoinCredentials("general-only", "s", "p"))

    assert (walled.value.code, walled.value.status) == ("400006", 403)
    assert (general_only.value.code, general_only.value.status) == ("400007", 403)
    assert await client.spot_accounts(KucoinCredentials("general-only", "s", "p")) == []


async def test_secrets_never_reach_error_messages_or_logs(sim, client, caplog):
    caplog.set_level(logging.DEBUG)
    secret, passphrase = "TOP-SECRET-VALUE", "PASS-PHRASE-VALUE"
    sim.add_key("leaky", secret, passphrase, permissions=["General"])
    sim.inject_fault("drop", api_key="leaky", path="/api/v1/accounts")
    attempts = [
        client.futures_positions(KucoinCredentials("leaky", secret, passphrase)),
        client.futures_positions(KucoinCredentials("leaky", secret, "wrong-" + passphrase)),
        client.spot_accounts(KucoinCredentials("leaky", secret, passphrase)),
    ]
    for call in attempts:
        with pytest.raises(UpstreamError) as excinfo:
            await call
        error = excinfo.value
        for text in (str(error), repr(error), repr(error.args), str(error.__cause__)):
            assert secret not in text
            assert passphrase not in text
    for record in caplog.records:
        assert secret not in record.getMessage()
        assert passphrase not in record.getMessage()


# -- clock skew ----------------------------------------------------------------------------


async def test_clock_skew_is_resynced_and_the_call_succeeds(sim, client):
    sim.configure(clock_offset_ms=120_000)  # KuCoin's clock two minutes ahead of ours
    sim.open_position(API_KEY, "XBTUSDTM", size=1)

    (position,) = await client.futures_positions(CREDS)

    assert position.symbol == "XBTUSDTM"
    assert abs(client.clock_offset_ms - 120_000) < 1_000
    assert sim.request_count(path="/api/v1/timestamp") == 1
    assert sim.request_count(path=POSITIONS) == 2  # rejected once, then accepted


async def test_concurrent_rejections_share_one_resync(sim, client):
    sim.configure(clock_offset_ms=-30_000)

    results = await asyncio.gather(*(client.futures_positions(CREDS) for _ in range(20)))

    assert results == [[]] * 20
    assert sim.request_count(path="/api/v1/timestamp") == 1


async def test_sync_clock_measures_the_offset(sim, client):
    sim.configure(clock_offset_ms=-45_000)
    offset = await client.sync_clock(base="futures")
    assert abs(offset + 45_000) < 1_000
    assert abs(client.now_ms() - sim.state.now_ms()) < 1_000


async def test_persistent_timestamp_rejection_raises_clock_skew(sim, client):
    sim.configure(clock_offset_ms=600_000)
    # KuCoin's time endpoint lies: resyncing cannot fix the signature time.
    sim.inject_fault(
        "malformed", path="/api/v1/timestamp", body='{"code":"200000","data":1700000000000}'
    )
    with pytest.raises(KucoinTimestampError) as excinfo:
        await client.futures_positions(CREDS)
    assert excinfo.value.code == "400002"
    assert excinfo.value.kind == "clock_skew"
    assert sim.request_count(path=POSITIONS) == 2  # one resync, one retry, no more


# -- rate limits ---------------------------------------------------------------------------


async def test_rate_limit_backs_off_for_gw_ratelimit_reset_then_succeeds(sim, client):
    sim.configure(rate_limit={"futures": 2}, rate_limit_window=0.4)  # one positions call
    await client.futures_positions(CREDS)

    started = time.monotonic()
    assert await client.futures_positions(CREDS) == []

    assert time.monotonic() - started >= 0.25  # slept for the announced reset, not 10 ms
    assert sim.request_count(path=POSITIONS) == 3


async def test_rate_limit_longer_than_max_delay_is_raised_with_retry_after(sim):
    sim.configure(rate_limit={"futures": 2}, rate_limit_window=5)
    async with make_client(sim, max_delay=0.5) as client:
        await client.futures_positions(CREDS)
        with pytest.raises(UpstreamRateLimited) as excinfo:
            await client.futures_positions(CREDS)
        # One user's spent quota leaves another user's untouched.
        assert await client.futures_positions(OTHER) == []
    assert excinfo.value.code == "429000"
    assert excinfo.value.retry_after is not None
    assert 4 < excinfo.value.retry_after <= 5
    assert sim.request_count(api_key=API_KEY, path=POSITIONS) == 2


# -- timeouts and transport faults --------------------------------------------------------


async def test_latency_above_the_timeout_raises_timeout_after_bounded_attempts(sim):
    # The answer would take 3 s; two attempts of 0.15 s (plus a backoff of at most 1 s)
    # take about 0.4 s when idle. Finishing before the answer could come proves the
    # timeouts ended the call; the rest of the 3 s is margin for a loaded machine.
    latency = 3.0
    sim.inject_fault("latency", latency=latency, api_key=API_KEY)
    async with make_client(sim, timeout=0.15, max_attempts=2) as client:
        started = time.monotonic()
        with pytest.raises(UpstreamTimeout):
            await client.futures_positions(CREDS)
        elapsed = time.monotonic() - started
    assert sim.request_count(api_key=API_KEY) == 2
    assert elapsed < latency


async def test_public_calls_time_out_too(sim):
    sim.inject_fault("latency", latency=0.5, path="/api/v1/timestamp")
    async with make_client(sim, timeout=0.1, max_attempts=1) as client:
        with pytest.raises(UpstreamTimeout):
            await client.server_time()


async def test_a_transient_5xx_is_retried(sim, client):
    sim.inject_fault("error", status=503, times=1)
    assert await client.futures_positions(CREDS) == []
    assert sim.request_count(path=POSITIONS) == 2


async def test_a_persistent_5xx_is_unavailable_after_max_attempts(sim, client):
    sim.inject_fault("error", status=500, api_key=API_KEY)
    with pytest.raises(UpstreamUnavailable) as excinfo:
        await client.futures_positions(CREDS)
    assert (excinfo.value.status, excinfo.value.code) == (500, "500000")
    assert sim.request_count(path=POSITIONS) == 3


async def test_malformed_json_is_a_bad_response_and_not_retried(sim, client):
    sim.inject_fault("malformed", api_key=API_KEY)
    with pytest.raises(UpstreamBadResponse):
        await client.futures_positions(CREDS)
    assert sim.request_count(path=POSITIONS) == 1


async def test_a_dropped_connection_is_unavailable_after_bounded_attempts(sim, client):
    sim.inject_fault("drop", api_key=API_KEY)
    with pytest.raises(UpstreamUnavailable):
        await client.futures_positions(CREDS)
    assert sim.request_count(path=POSITIONS) == 3


async def test_a_refused_connection_is_unavailable():
    with socket.socket() as listener:  # a port that was just free and is closed again
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    async with KucoinClient(spot_url=url, futures_url=url, max_attempts=1) as client:
        with pytest.raises(UpstreamUnavailable) as excinfo:
            await client.futures_positions(CREDS)
    assert "GET /api/v1/positions" in str(excinfo.value)
    assert excinfo.value.__cause__ is None
    assert excinfo.value.__suppress_context__


async def test_one_slow_user_does_not_delay_another(sim, client):
    # Order, not durations: the other user's answer arrives while the slow user's request,
    # already at KuCoin, is still held there (1.5 s: margin for a loaded machine).
    sim.inject_fault("latency", latency=1.5, api_key=API_KEY)

    slow = asyncio.ensure_future(client.futures_positions(CREDS))
    while sim.request_count(api_key=API_KEY, path=POSITIONS) == 0:
        assert not slow.done(), slow.exception()
        await asyncio.sleep(0.01)
    assert await client.futures_positions(OTHER) == []

    assert not slow.done()
    assert await slow == []
