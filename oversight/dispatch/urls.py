from __future__ import annotations

from django.urls import path

from oversight.dispatch import inbox, views

urlpatterns = [
    path("inbox/", inbox.inbox, name="inbox"),
    path("inbox/<int:pk>/", inbox.alert_open, name="alert-open"),
    path("inbox/read/", inbox.read_all, name="inbox-read-all"),
    path("inbox/delivery/", inbox.delivery, name="inbox-delivery"),
    path("dispatch/", views.rounds, name="dispatch"),
    path("dispatch/<int:pk>/", views.round_detail, name="dispatch-round"),
    path("dispatch/<int:pk>/upward.xlsx", views.upward_xlsx_view, name="dispatch-upward-xlsx"),
    path("dispatch/<int:pk>/upward.docx", views.upward_docx_view, name="dispatch-upward-docx"),
    path("dispatch/reports/<int:pk>/", views.report_detail, name="dispatch-report"),
    path("dispatch/reports/<int:pk>/<slug:step>/", views.report_step_view, name="dispatch-step"),
]
