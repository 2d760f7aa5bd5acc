"""``POST /v1/reembed``: moving the served gallery to another encoder, as a background job.

Embedding every stored photo again takes minutes to hours (it reads each photo's file), far
longer than an HTTP request should wait. So the request is checked at once (a model the
server can load, a gallery that is not on it already: 400), then the job runs in a thread
while the old vectors keep answering searches; ``GET /v1/reembed/{job}`` says how far it is
and, once done, gives the same report as ``facesearch reembed --json``. One job at a time
(409 while one runs). The shadow embeddings are saved batch by batch: a job cut short (the
server stopped) resumes where it stopped when posted again. With ``switch`` the gallery
then moves to the new model under the writer lock, and the server searches with it at once.

Only registered model names are taken (``default``, ``sface``, ``mobilefacenet``, ...): a
file path would let an API client make the server load any file; for a checkpoint of your
own use the CLI (``facesearch reembed --model runs/x/best.pt``).
"""
from __future__ import annotations

import contextvars
import itertools
import logging
import threading
from dataclasses import dataclass, field
from typing import Annotated
from datetime import datetime, timezone

from fastapi import APIRouter, Body, Depends, Path as PathParam, Request, Response
from pydantic import BaseModel, Field

from ..encoders import create_encoder
from ..encoders.registry import list_encoders
from ..encoders.spec import parse_model_spec
from ..errors import ConflictError, EncoderError, FacesearchError, GalleryError, NotFoundError
from ..gallery.reembed import check_target, follow_switch, reembed, switch as move
from .errors import status_of
from .photos import shown_path

log = logging.getLogger("facesearch.serve")
RUNNING, DONE, FAILED = "running", "done", "failed"


class ReembedRequest(BaseModel):
    model: str = Field(description="the encoder to move to: a registered model name (default, sface, "
                       "mobilefacenet, facenet:vggface2, ...); files are for the CLI")
    flip: bool = Field(True, description="average each face's embedding with its mirror image's")
    switch: bool = Field(False, description="then move the gallery to the new model (thresholds cleared: the "
                         "new model's shipped calibration applies where it has one)")
    drop_missing: bool = Field(False, description="with switch: remove the photos whose files are missing "
                               "(otherwise the switch is refused while there are any)")


@dataclass
class Job:
    id: int
    request: ReembedRequest
    photos: int
    state: str = RUNNING
    embedded: int = 0  # photos embedded so far by this job
    started: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())
    finished: str | None = None
    report: dict | None = None
    error: dict | None = None

    def as_dict(self) -> dict:
        return {"job": self.id, "state": self.state, **self.request.model_dump(), "photos": self.photos,
                "embedded": self.embedded, "started": self.started, "finished": self.finished,
                "report": self.report, "error": self.error, "status_url": f"/v1/reembed/{self.id}"}


def _encoder(body: ReembedRequest):
    """The encoder asked for, or GalleryError (400) saying why the server will not load it."""
    spec = parse_model_spec(body.model)
    family = (spec.arch or "").partition(":")[0]
    if spec.text != "default" and family not in list_encoders():
        raise GalleryError(f"model {body.model!r} is not a registered model name ({', '.join(list_encoders())} "
                           "or default); to move to a file of your own use `facesearch reembed --model FILE`")
    try:
        return create_encoder(body.model, None, flip=body.flip)
    except EncoderError as e:
        raise GalleryError(f"model {body.model!r} cannot be loaded: {e}") from None


class Reembedding:
    """The server's reembed jobs (kept in memory: the shadow table is what survives a restart)."""

    def __init__(self, service, expose_paths: bool = False):
        self.service, self.expose_paths = service, expose_paths
        self.jobs: dict[int, Job] = {}
        self.lock = threading.Lock()
        self._ids = itertools.count(1)

    def start(self, body: ReembedRequest) -> Job:
        encoder = _encoder(body)
        reader = self.service.reader
        check_target(reader, encoder)
        with self.lock:
            running = [j for j in self.jobs.values() if j.state == RUNNING]
            if running:
                raise ConflictError(f"reembed job {running[0].id} is running (GET /v1/reembed/{running[0].id}): "
                                    "one at a time")
            job = Job(next(self._ids), body, sum(n for _, n in reader.people()))
            self.jobs[job.id] = job
        context = contextvars.copy_context()  # the audit log names this request's token
        threading.Thread(target=context.run, args=(self._run, job, encoder), name=f"reembed-{job.id}",
                         daemon=True).start()
        return job

    def _run(self, job: Job, encoder) -> None:
        service = self.service

        def progress(n: int) -> None:
            job.embedded += n

        try:
            report = reembed(service.reader, encoder, progress)  # no lock: searches and writes go on
            if job.request.switch:  # (finishes photos enrolled meanwhile, then moves, under the writer lock)
                moved = service.write(move, service.writer, encoder, job.request.drop_missing)
                moved.resumed, moved.embedded_now = report.resumed, report.embedded_now + moved.embedded_now
                report = moved
                follow_switch(service.reader, encoder)  # searches use the new model from now on
            job.report = report.as_dict()
            for e in job.report["missing"] + job.report["corrections_left"]:
                e["photo"] = shown_path(e["photo"], self.expose_paths)
            job.state = DONE
        except FacesearchError as e:
            status, code = status_of(e)
            message = str(e) if status < 500 else "the server could not finish the job: the server log has the details"
            log.error("reembed job %s failed: %s", job.id, e)
            job.error, job.state = {"code": code, "message": message.replace(service.reader.store.label,
                                                                             "the gallery database")}, FAILED
        except Exception:  # noqa: BLE001  (a bug: its traceback goes to the log, never to the client)
            log.exception("reembed job %s failed", job.id)
            job.error, job.state = {"code": "internal_error", "message": "internal error: the server log has the "
                                    "details"}, FAILED
        finally:
            job.finished = datetime.now(timezone.utc).isoformat()

    def get(self, job_id: int) -> Job:
        if job_id not in self.jobs:
            raise NotFoundError(f"no reembed job {job_id} (jobs are kept until the server stops)")
        return self.jobs[job_id]


def reembedding(request: Request) -> Reembedding:
    return request.app.state.reembedding


Jobs = Annotated[Reembedding, Depends(reembedding)]
router = APIRouter()


@router.post("/reembed", status_code=202)
def reembed_start(jobs: Jobs, response: Response, body: ReembedRequest = Body(...)):
    """Start moving the gallery to another encoder (``facesearch reembed``) as a background
    job: every stored photo embedded again from its file into a shadow table while the old
    vectors keep answering; with ``switch``, then moved to. 202 with the job; poll its
    ``status_url``. 400: a model the server will not load or the gallery uses already;
    409: a job is running."""
    job = jobs.start(body)
    response.headers["Location"] = f"/v1/reembed/{job.id}"
    return job.as_dict()


@router.get("/reembed")
def reembed_jobs(jobs: Jobs):
    """The reembed jobs of this server process, oldest first."""
    return {"jobs": [j.as_dict() for j in jobs.jobs.values()]}


@router.get("/reembed/{job_id}")
def reembed_status(jobs: Jobs, job_id: int = PathParam(description="a job's id (POST /v1/reembed)")):
    """One job: ``state`` running, done (``report``: as ``facesearch reembed --json``) or
    failed (``error``: code and message); ``embedded`` of ``photos`` so far."""
    return jobs.get(job_id).as_dict()
