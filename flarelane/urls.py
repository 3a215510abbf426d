from django.contrib import admin
from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from flarelane.error_pages import api_not_found
from flarelane.health import health

admin.site.site_header = "Webhook channel"
admin.site.site_title = "Webhook channel"
admin.site.index_title = "Console"


def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    # Console pages name their icon; this is for what asks the old way (Swagger UI, JSON tabs).
    return HttpResponsePermanentRedirect(static("channels_webhook/favicon.svg"))


urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/v1/", include("flarelane.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    # Their slash added for every method: with DEBUG on, Django answers a POST it would have to
    # redirect with a 500 page.
    path("api/schema", RedirectView.as_view(url="/api/schema/", permanent=True)),
    path("api/docs", RedirectView.as_view(url="/api/docs/", permanent=True)),
    # After every API route: any other /api path is JSON too.
    re_path(r"^api(?:/|$)", api_not_found),
    path("health/", health, name="health"),
    path("health", health),  # as many balancers are configured: no redirect to follow
    path("favicon.ico", favicon),
    path("demo-receiver/", include("flarelane.demo.receiver")),
]

handler400 = "flarelane.error_pages.bad_request"
handler404 = "flarelane.error_pages.not_found"
handler500 = "flarelane.error_pages.server_error"
