"""``/vhs/v3/pop-session…``: the picture-of-picture capture sessions' paths (seed 002)."""

from django.urls import path

from inference.products.vhs import session_views

urlpatterns = [
    path("pop-session/start", session_views.StartView.as_view(), name="pop-session-start"),
    path("pop-session/start/", session_views.StartView.as_view(), name="pop-session-start-slash"),
    path("pop-session/ticket", session_views.TicketView.as_view(), name="pop-session-ticket"),
    path(
        "pop-session/ticket/", session_views.TicketView.as_view(), name="pop-session-ticket-slash"
    ),
    path("pop-session", session_views.FrameView.as_view(), name="pop-session"),
    path("pop-session/", session_views.FrameView.as_view(), name="pop-session-slash"),
]
