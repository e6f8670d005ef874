from __future__ import annotations

from django.urls import path

from aftercare import lookback_views, views

urlpatterns = [
    path("tickets/", views.ticket_list, name="ticket-list"),
    path("tickets/new/", views.ticket_create, name="ticket-create"),
    path("tickets/import/", views.ticket_import, name="ticket-import"),
    path("tickets/template.xlsx", views.ticket_template, name="ticket-template"),
    path("tickets/kpis/", views.ticket_kpis, name="ticket-kpis"),
    path("tickets/<int:pk>/", views.ticket_detail, name="ticket-detail"),
    path("tickets/<int:pk>/act/", views.ticket_action, name="ticket-action"),
    path("api/tickets", views.api_tickets, name="api-tickets"),
    path("lookbacks/", lookback_views.lookback_list, name="lookback-list"),
    path("lookbacks/<int:pk>/", lookback_views.lookback_detail, name="lookback-detail"),
    path("lookbacks/items/<int:pk>/", lookback_views.lookback_item, name="lookback-item"),
    path("lookbacks/items/<int:pk>/photo/", lookback_views.lookback_photo, name="lookback-photo"),
]
