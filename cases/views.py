"""Phone-sized pages (placeholder until the templates land)."""

from django.http import HttpResponse


def report(request):
    return HttpResponse("report")


def track(request):
    return HttpResponse("track")


def inbox(request):
    return HttpResponse("inbox")


def case_page(request, pk):
    return HttpResponse("case")
