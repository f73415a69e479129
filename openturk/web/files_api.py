"""``GET /files/{file_key}``: the bytes of an uploaded file, for the holder of a GetFileUploadURL.

The route is public at the boundary: the URL's Signature (HMAC over key and Expires) is the
credential, checked here in constant time; a bad or expired one is refused with 403. The bytes are
served as an attachment of a type no browser runs in this origin.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from openturk.clock import Clock
from openturk.domain import uploads
from openturk.requester.files import url_secret
from openturk.settings import Settings
from openturk.store.database import Database
from openturk.store.files import FileRepository


class FilesAPI:
    def __init__(self, db: Database, clock: Clock, settings: Settings) -> None:
        self.db, self.clock, self.settings = db, clock, settings

    def routes(self) -> list[Route]:
        return [Route("/files/{file_key}", self.download, methods=["GET"])]

    def _content(self, file_key: str) -> bytes | None:
        with self.db.read() as conn:
            return FileRepository(conn).content(file_key)

    async def download(self, request: Request) -> Response:
        file_key = request.path_params["file_key"]
        query = request.query_params
        now_s = self.clock.now_ms() / 1000
        if not uploads.signature_valid(
            url_secret(self.settings), file_key, query.get("Expires"), query.get("Signature"), now_s
        ):
            refusal = {"Error": "Forbidden", "Message": "The URL's signature is not valid or has expired."}
            return JSONResponse(refusal, 403)
        content = await run_in_threadpool(self._content, file_key)
        if content is None:
            return JSONResponse({"Error": "NotFound", "Message": "The file no longer exists."}, 404)
        headers = {
            "Content-Disposition": f'attachment; filename="{file_key}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        }
        return Response(content, media_type="application/octet-stream", headers=headers)
