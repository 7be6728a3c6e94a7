"""KuCoin request signing matches KuCoin's published vectors and never leaks secrets."""

from __future__ import annotations

import pytest

from cryptotrack.exchanges.kucoin import KucoinCredentials, sign, signed_headers
from cryptotrack.exchanges.kucoin.signing import passphrase_header, prehash
from tests.exchanges.kucoin_fixtures import sample_json

VECTORS = sample_json("kucoin_signing_test_vectors")


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["what"])
def test_sign_matches_published_vector(vector):
    assert sign(VECTORS["api_secret"], vector["message"]) == vector["expected_base64"]


@pytest.mark.parametrize(
    "vector",
    [v for v in VECTORS["vectors"] if "KC-API-TIMESTAMP" in v],
    ids=lambda v: v["what"],
)
def test_signed_headers_sign_timestamp_method_path_and_query(vector):
    ts = int(vector["KC-API-TIMESTAMP"])
    path_and_query = vector["message"].removeprefix(f"{ts}GET")
    credentials = KucoinCredentials("key", VECTORS["api_secret"], "test_passphrase")

    headers = signed_headers(
        credentials, method="get", path_and_query=path_and_query, timestamp_ms=ts
    )

    assert prehash(ts, "get", path_and_query) == vector["message"]
    assert headers == {
        "KC-API-KEY": "key",
        "KC-API-SIGN": vector["expected_base64"],
        "KC-API-TIMESTAMP": str(ts),
        "KC-API-PASSPHRASE": "Ikr9KjwgA4urCb5Az1TNKgQELW10z84iOq+wsZsRRz0=",
        "KC-API-KEY-VERSION": "2",
    }


def test_version_1_keys_send_the_plain_passphrase():
    credentials = KucoinCredentials("key", "secret", "plain-pass", key_version="1")
    assert passphrase_header(credentials) == "plain-pass"


def test_credentials_repr_hides_secret_and_passphrase():
    credentials = KucoinCredentials("6705f5c311545b000157d3eb", "s3cr3t-value", "pa55-phrase")
    for text in (repr(credentials), str(credentials), f"{credentials}"):
        assert "s3cr3t-value" not in text
        assert "pa55-phrase" not in text
        assert "6705f5c311545b000157d3eb" not in text
        assert "d3eb" in text
