"""One view of the project's own, next to the mock's routes (which never reach Django)."""

from django.http import HttpRequest, JsonResponse
from django.urls import path


def hello(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"hello": "from Django"})


urlpatterns = [path("hello/", hello)]
