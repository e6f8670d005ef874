from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from heating import views

# Every app's admin.py, registered here with the URLs rather than at start-up
# (heating.apps.AdminLoadedWithTheURLs).
admin.autodiscover()

urlpatterns = [
    path("favicon.ico", views.favicon),
    path("targets/", views.targets, name="targets"),
    path("targets/<int:year>/", views.targets, name="targets-year"),
    path("targets/<int:year>/export.xlsx", views.targets_export, name="targets-export"),
    path("exports/<int:pk>/", views.export_detail, name="export"),
    path("exports/<int:pk>/download/", views.export_download, name="export-download"),
    path("accounts/login/", views.PortalLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("", include("oversight.dashboards.urls")),
    path("", include("oversight.dispatch.urls")),
    path("", include("oversight.evaluation.urls")),
    path("", include("retrofits.urls")),
    path("", include("acceptance.urls")),
    path("", include("energy_supply.urls")),
    path("", include("subsidies.urls")),
    path("", include("aftercare.urls")),
    path("admin/", admin.site.urls),
]
