"""`facesearch serve`: the REST service (facesearch/serve) in one warm uvicorn process."""
from __future__ import annotations

import copy
import os

import click

from .options import FiniteFloat, db_option, detector_option, model_option, open_gallery, weights_option

TOKEN_ENV = "FACESEARCH_API_TOKEN"
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def _token(ctx, param, value):
    """Refuse an empty token (also from an empty $FACESEARCH_API_TOKEN, which click would
    ignore): it would serve with no authentication."""
    from ..serve.middleware import valid_token

    if value is None and os.environ.get(TOKEN_ENV) is not None:
        value = os.environ[TOKEN_ENV]
    try:
        return valid_token(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


@click.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every "
              "interface; then set a --token).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--token", envvar=TOKEN_ENV, default=None, show_envvar=True, callback=_token,
              help="Require `Authorization: Bearer TOKEN` on every /v1 route (an empty token is refused).")
@click.option("--max-upload-mb", default=10.0, show_default=True, type=FiniteFloat(min=0, min_open=True),
              help="Largest request body; larger uploads get 413 and are not read.")
@click.option("--body-timeout", default=30.0, show_default=True, type=FiniteFloat(min=0, min_open=True),
              help="Seconds a request body may take to arrive; a slower upload gets 408 and its connection "
              "is closed. A request's headers get the same time, at most 10 s.")
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="Also answer requests whose Host header is NAME (repeatable; `*`: any). By default only "
              "localhost, IP addresses and the --host name are answered (no DNS rebinding).")
@click.option("--allowed-origin", "allowed_origins", multiple=True, metavar="URL",
              help="Also take writes from web pages of this origin, e.g. https://app.example.org "
              "(repeatable). By default only the server's own page may write.")
@click.option("--expose-paths", is_flag=True,
              help="Show the stored paths of gallery photos in results (default: file names and photo ids).")
@model_option
@weights_option
@detector_option
@click.option("--log-level", type=click.Choice(LOG_LEVELS), default="info", show_default=True)
def serve(db, host, port, token, max_upload_mb, body_timeout, allowed_hosts, allowed_origins, expose_paths, model,
          weights, detector, log_level):
    """Serve the gallery over HTTP: the REST API under /v1 (OpenAPI at /openapi.json, /docs)
    and a web page at /. Models and index are loaded once; the CLI can keep writing to the
    same database meanwhile (the server sees its changes on the next request).

    \b
      curl -F image=@photo.jpg 'http://127.0.0.1:8000/v1/search?k=5'
    """
    # Idle OpenMP threads (PyTorch's, FAISS's) must not spin: a warm process switches between
    # them and ONNX Runtime's threads on every request, and spinning ones starve the others
    # (detection measured 10x slower). Read when those libraries load, which is below.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from ..serve import create_app
    from ..serve.guard import SitePolicy
    from ..serve.protocol import HEADER_SECONDS, with_header_timeout

    try:  # a typo in an allow-list is refused before anything is opened
        SitePolicy(host, allowed_hosts, allowed_origins)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    gallery = open_gallery(db, model, weights, detector, create=True)
    if gallery.meta is None:
        click.echo(f"note: {gallery.store.label} is a new, empty gallery: enrol people with POST /v1/people/<name>/photos "
                   "or `facesearch index`", err=True)
    app = create_app(gallery, token=token, max_upload_mb=max_upload_mb, host=host, allowed_hosts=allowed_hosts,
                     allowed_origins=allowed_origins, body_timeout=body_timeout, expose_paths=expose_paths)
    logging = copy.deepcopy(LOGGING_CONFIG)
    logging["loggers"]["facesearch"] = {"handlers": ["default"], "level": log_level.upper(), "propagate": False}
    click.echo(f"facesearch: serving {gallery.store.label} on http://{host}:{port} "
               f"({'token required' if token else 'no token: anyone who can connect may read and write'})",
               err=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level, log_config=logging, access_log=False,
                http=with_header_timeout(min(HEADER_SECONDS, body_timeout)))
