from django.urls import path

from cryptotrack.audit import apis

urlpatterns = [
    path("me/audit", apis.AuditListApi.as_view(), name="me-audit"),
]
