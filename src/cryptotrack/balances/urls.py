from django.urls import path

from cryptotrack.balances import apis

urlpatterns = [
    path("balances", apis.BalanceListApi.as_view(), name="balances"),
]
