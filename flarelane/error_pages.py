"""Error responses: JSON under /api/ (clients parse them), Django's pages elsewhere."""

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not _is_api(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse({"detail": "The request body is too large."}, status=413)
    return JsonResponse({"detail": "Bad request."}, status=400)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not _is_api(request):
        return defaults.page_not_found(request, exception)
    return JsonResponse({"detail": "Not found."}, status=404)


@csrf_exempt  # an API client has no CSRF token: a mistyped POST path must be this 404, not the CSRF page
def api_not_found(request: HttpRequest) -> JsonResponse:
    """Every /api/ path no route matches, so an API client gets JSON even with DEBUG on
    (Django's debug 404 page would replace handler404), and a hint for the common slip."""
    path = request.path
    if path.endswith("/") and _is_an_api_route(path.rstrip("/")):
        return JsonResponse({"detail": f"Not found. API paths end without a slash: {path.rstrip('/')}"}, status=404)
    return JsonResponse({"detail": "Not found."}, status=404)


def _is_an_api_route(path: str) -> bool:
    try:
        return resolve(path).func is not api_not_found
    except Resolver404:
        return False


def server_error(request: HttpRequest) -> HttpResponse:
    if not _is_api(request):
        return defaults.server_error(request)
    return JsonResponse({"detail": "Server error."}, status=500)
