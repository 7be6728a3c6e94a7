"""URL map: the versioned API under /api/v1, operations, docs, admin, the live page."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from cryptotrack.core.health import HealthzApi, ReadyzApi
from cryptotrack.core.metrics import metrics_view

api_v1 = [
    path("", include("cryptotrack.accounts.urls")),
    path("", include("cryptotrack.alerts.urls")),
    path("", include("cryptotrack.positions.urls")),
    path("", include("cryptotrack.quotes.urls")),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("api/schema", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its init script from /docs?script=, not inline (CSP).
    path(
        "docs",
        SpectacularSwaggerSplitView.as_view(
            url_name="schema", template_name="core/swagger_ui.html"
        ),
        name="docs",
    ),
    path("healthz", HealthzApi.as_view(), name="healthz"),
    path("readyz", ReadyzApi.as_view(), name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("", include("cryptotrack.quotes.page_urls")),
]

handler400 = "cryptotrack.core.errors.handler400"
handler403 = "cryptotrack.core.errors.handler403"
handler404 = "cryptotrack.core.errors.handler404"
handler500 = "cryptotrack.core.errors.handler500"
