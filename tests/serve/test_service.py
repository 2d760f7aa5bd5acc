"""The service's dependencies and life: a write holds the writer lock for its route's run,
and the database connections close when the server stops (``lifespan``)."""
from __future__ import annotations

import requests

from facesearch import Gallery
from facesearch.serve import create_app
from facesearch.serve.service import writer
from tests.serve.test_middleware import in_process


def app_over_an_empty_gallery(tmp_path):
    return create_app(Gallery.open(str(tmp_path / "fs.db"), create=True, model="fake", detector="none"), warm=False)


def test_a_write_holds_the_writer_lock_until_its_route_returns(tmp_path):
    service = app_over_an_empty_gallery(tmp_path).state.service
    run = writer(service)
    assert next(run) is service.writer and service.write_lock.locked()
    run.close()  # the route returned (or raised)
    assert not service.write_lock.locked()


def test_stopping_the_server_closes_the_database_connections(tmp_path, monkeypatch):
    app = app_over_an_empty_gallery(tmp_path)
    closed = []
    monkeypatch.setattr(app.state.service, "close", lambda: closed.append(True))
    with in_process(app) as url:
        assert requests.get(url + "/v1/people", timeout=30).json() == {"people": []}
        assert not closed
    assert closed == [True]
