from django.urls import path

from cryptotrack.accounts import apis, exchange_account_apis

urlpatterns = [
    path("auth/signup", apis.SignupApi.as_view(), name="signup"),
    path("auth/token", apis.TokenObtainApi.as_view(), name="token"),
    path("auth/token/refresh", apis.TokenRefreshApi.as_view(), name="token-refresh"),
    path("auth/logout", apis.LogoutApi.as_view(), name="logout"),
    path("me", apis.MeApi.as_view(), name="me"),
    path("me/password", apis.PasswordChangeApi.as_view(), name="me-password"),
    path("me/kucoin", apis.KucoinCredentialsApi.as_view(), name="me-kucoin"),
    path("me/api-keys", apis.ApiKeyListApi.as_view(), name="api-keys"),
    path("me/api-keys/<int:key_id>", apis.ApiKeyDetailApi.as_view(), name="api-key-detail"),
    path(
        "exchange-accounts",
        exchange_account_apis.ExchangeAccountListApi.as_view(),
        name="exchange-accounts",
    ),
    path(
        "exchange-accounts/<int:account_id>",
        exchange_account_apis.ExchangeAccountDetailApi.as_view(),
        name="exchange-account-detail",
    ),
]
