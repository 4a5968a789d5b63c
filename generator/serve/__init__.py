"""`clinic-budget serve`: a local web page to upload an intake workbook and get its documents.

Starlette (the ASGI toolkit) served by uvicorn: small, typed, maintained, and with no template
engine or ORM of its own, so the pages are the project's Jinja templates (`templates/serve/`,
autoescaped, strict) and the work is the project's own one-workbook path.

An upload goes the way `batch` and `watch` send a workbook: `batch.process_workbook` in a worker
process (the bounded reader in its child, the documents written atomically), its outcome applied
to the manifest and the error reports by a `batch.Ledger`, all under the output folder's lock.

* The body is capped (`max_upload`): a larger Content-Length gets 413 before a byte of the body
  is read, and a body that runs past the cap while streaming (chunked, or lying) gets 413 there.
* The workbook is saved under a sanitised name in a staging folder of its own
  (`<out>/_uploads/.incoming-<random>/`); its name is only ever a file name, never a path. Once
  its documents are made it moves to `<out>/_uploads/`, replacing the earlier upload of the same
  clinic (same slug); a failed upload is deleted and the earlier documents stay.
* Generation runs in `workers` processes. At most `queue` uploads are accepted at a time (being
  generated or waiting for a worker); one more gets 503 with Retry-After. The event loop only
  waits, so the page answers while the workers work.
* The output lock is taken when the first upload starts and released when the last one ends, as
  the watcher holds it for a round: a batch on the same folder waits for the uploads, and an
  upload waits (up to LOCK_WAIT seconds, then 503) for a batch.
* Documents are served from the output folder only: a path with an empty, `.` or `..` segment
  (after percent-decoding), a hidden name, or `_uploads` is refused, and what the path resolves
  to (symbolic links followed) must lie inside the folder.
* Every response forbids scripts (Content-Security-Policy), frames and MIME sniffing; a POST from
  another site (Origin or Sec-Fetch-Site) is refused, and on a loopback address only a loopback
  Host header is answered (a web page elsewhere cannot use the browser to reach this one).

Modules: `files` (uploaded names, the documents' paths and types, what a result page shows),
`service` (the workers, the queue, the lock and the manifest), `web` (the Starlette application,
its guard, and `serve`, which the CLI calls).
"""
