"""The WSGI fast-path dispatcher: registered handlers answer first, None falls through to Django."""

from __future__ import annotations

from wsgiref.util import setup_testing_defaults

import pytest

from civicpush.core import fastpath


def _environ(method: str = "GET", path: str = "/") -> dict:
    environ: dict = {"REQUEST_METHOD": method, "PATH_INFO": path}
    setup_testing_defaults(environ)
    return environ


class _Recorder:
    def __init__(self) -> None:
        self.status = ""

    def __call__(self, status: str, headers: list, exc_info=None):
        self.status = status
        return lambda data: None


def _django(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"django"]


@pytest.fixture
def route(monkeypatch):
    routes: dict = {}
    monkeypatch.setattr(fastpath, "_routes", routes)
    return routes


def test_a_registered_handler_answers_first(route):
    def handler(environ, start_response):
        start_response("201 Created", [("Content-Type", "text/plain")])
        return [b"fast"]

    fastpath.register("post", "/x", handler)
    app = fastpath.FastPathApplication(_django)
    recorder = _Recorder()
    assert app(_environ("POST", "/x"), recorder) == [b"fast"]
    assert recorder.status == "201 Created"
    # Another method or path goes to Django.
    assert app(_environ("GET", "/x"), _Recorder()) == [b"django"]
    assert app(_environ("POST", "/x/"), _Recorder()) == [b"django"]


def test_a_handler_returning_none_falls_through_to_django(route):
    calls = []

    def handler(environ, start_response):
        calls.append(environ["PATH_INFO"])
        return None

    fastpath.register("GET", "/", handler)
    app = fastpath.FastPathApplication(_django)
    assert app(_environ(), _Recorder()) == [b"django"]
    assert calls == ["/"]


def test_switched_off_by_the_environment(route, monkeypatch):
    fastpath.register("GET", "/", lambda environ, start_response: [b"fast"])
    monkeypatch.setenv("CIVICPUSH_FASTPATH", "0")
    assert fastpath.FastPathApplication(_django)(_environ(), _Recorder()) == [b"django"]
    monkeypatch.setenv("CIVICPUSH_FASTPATH", "1")
    assert fastpath.FastPathApplication(_django)(_environ(), _Recorder()) == [b"fast"]


def test_the_project_runs_the_middleware_the_handlers_reproduce():
    # A changed chain silently turns the fast paths off; this makes the change visible.
    from django.conf import settings

    assert tuple(settings.MIDDLEWARE) == fastpath.REPRODUCED_MIDDLEWARE
