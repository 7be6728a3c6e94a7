from django.urls import path

from cryptotrack.quotes import apis

urlpatterns = [
    path("quotes", apis.QuoteListApi.as_view(), name="quotes"),
    path("quotes/latest", apis.LatestQuoteApi.as_view(), name="quotes-latest"),
]
