"""The staff pages: ``/``, ``/login/``, ``/logout/`` and ``/try/...`` (``docs/web.md``)."""

from django.urls import include, path

from web import views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
    # What the pages' JavaScript calls (staff session, same origin).
    path("try/credentials", views.page_credentials, name="credentials"),
    path("try/pop-ticket", views.pop_ticket, name="pop-ticket"),
    path("try/samples/<slug:kind>", views.sample, name="sample"),
    # One page per product.
    path("try/leukemia/", views.try_leukemia, name="try-leukemia"),
    path("try/cxr/", views.try_cxr, name="try-cxr"),
    path("try/pop/", views.try_pop, name="try-pop"),
    # The VHS page (radiographs, landmark correction, report) lives in web/vhs.py.
    path("try/vhs/", include("web.vhs")),
]
