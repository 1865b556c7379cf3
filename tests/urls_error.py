from django.urls import path


def explode(request):
    raise RuntimeError("deliberate failure for the error log test")


urlpatterns = [path("explode/", explode)]
