"""URL map: the versioned API under /api/v1, operations, docs, admin, the live page.

API paths answer with or without one trailing slash (``core.urls.slash_optional``); the
HTML pages redirect from their slashed form, and ``/`` to the API docs.
"""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from cryptotrack.accounts import urls as accounts_urls
from cryptotrack.alerts import urls as alerts_urls
from cryptotrack.audit import urls as audit_urls
from cryptotrack.balances import urls as balances_urls
from cryptotrack.core.health import HealthzApi, ReadyzApi
from cryptotrack.core.metrics import metrics_view
from cryptotrack.core.urls import slash_optional
from cryptotrack.notify import urls as notify_urls
from cryptotrack.positions import urls as positions_urls
from cryptotrack.quotes import urls as quotes_urls

api_v1 = slash_optional(
    [
        *accounts_urls.urlpatterns,
        *alerts_urls.urlpatterns,
        *audit_urls.urlpatterns,
        *balances_urls.urlpatterns,
        *notify_urls.urlpatterns,
        *positions_urls.urlpatterns,
        *quotes_urls.urlpatterns,
    ]
)

operations = slash_optional(
    [
        path("api/schema", SpectacularAPIView.as_view(), name="schema"),
        path("healthz", HealthzApi.as_view(), name="healthz"),
        path("readyz", ReadyzApi.as_view(), name="readyz"),
        path("metrics", metrics_view, name="metrics"),
    ]
)

urlpatterns = [
    path("api/v1/", include(api_v1)),
    *operations,
    # The split view serves its init script from /docs?script=, not inline (CSP).
    path(
        "docs",
        SpectacularSwaggerSplitView.as_view(
            url_name="schema", template_name="core/swagger_ui.html"
        ),
        name="docs",
    ),
    path("docs/", RedirectView.as_view(pattern_name="docs", permanent=True)),
    path("admin/", admin.site.urls),
    path("", include("cryptotrack.quotes.page_urls")),
    path("", include("cryptotrack.web.urls")),
    path(
        "rates/live/",
        RedirectView.as_view(pattern_name="rates-live", query_string=True, permanent=True),
    ),
]

handler400 = "cryptotrack.core.errors.handler400"
handler403 = "cryptotrack.core.errors.handler403"
handler404 = "cryptotrack.core.errors.handler404"
handler500 = "cryptotrack.core.errors.handler500"
