"""`clinic-budget serve`: the real server on a free port, driven over HTTP like a browser would."""

from __future__ import annotations

import html
import json
import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.intake.blank import write_example
from generator.run.manifest import stored_records
from generator.run.outputs import OutputLock
from generator.serve.files import document_path, sanitise_name
from tests.builders import clinic_rows, clinic_workbook
from tests.helpers import run_cli
from tests.serve_helpers import Server, raw_request, status_of

pytestmark = pytest.mark.slow
FORMATS = "md,html,xlsx,json"  # PDF is measured in bench/bench_serve.py and looked at in the browser test


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    folder = tmp_path_factory.mktemp("serve")
    server = Server(folder, "--out", "out", "--formats", FORMATS, "--workers", "2")
    try:
        yield server, folder
    finally:
        assert server.stop() == 0, server.err


def example_bytes(tmp: Path, name: str = "family-practice") -> bytes:
    path = tmp / f"{name}.xlsx"
    write_example(path, name)
    return path.read_bytes()


def bad_workbook(path: Path) -> Path:
    # Clinic!B2 is not a clinic type, Clinic!B3 not a number
    return clinic_workbook(path, clinic_rows(clinic_type="Dentistry <script>alert(1)</script>", physicians="three"))


def validate_lines(path: Path) -> list[str]:
    done = run_cli("validate", path.name, cwd=path.parent)
    assert done.returncode == 2
    return [line.removeprefix("error: ") for line in done.stderr.splitlines() if line.startswith("error: ")]


def page_text(body: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", body))


def test_good_upload_gives_the_headline_the_recommendation_and_every_document(
        served: tuple[Server, Path], tmp_path: Path) -> None:
    server, folder = served
    data = example_bytes(tmp_path)
    reply = server.upload("Ridgeview Family.xlsx", data)
    assert reply.status == 200, reply.text
    budget = json.loads((folder / "out" / "ridgeview-family" / "budget.json").read_text())
    base = budget["scenarios"][0]
    text = page_text(reply.text)
    assert budget["clinic"]["name"] in text
    assert base["recommendation"]["headline"] in text
    assert f"${base['build']['expected']:,}" in text and f"${base['build']['low']:,}" in text
    made = sorted(os.listdir(folder / "out" / "ridgeview-family"))
    assert made == sorted(f"budget.{f}" for f in FORMATS.split(","))
    links = re.findall(r'href="(/files/ridgeview-family/[^"]+)"', reply.text)
    assert sorted(link.rsplit("/", 1)[1] for link in links) == made
    for link in links:
        doc = server.get(link)
        assert doc.status == 200
        assert doc.body == (folder / "out" / link.removeprefix("/files/")).read_bytes()
        assert "script-src" not in doc.headers["content-security-policy"]  # none allowed: default-src 'none'
        assert "default-src 'none'" in doc.headers["content-security-policy"]
    assert (folder / "out" / "_uploads" / "Ridgeview Family.xlsx").read_bytes() == data
    assert any(r.slug == "ridgeview-family" and r.headline for r in stored_records(folder / "out"))
    home = server.get("/")
    assert home.status == 200 and "Ridgeview Family.xlsx" in home.text
    assert 'href="/files/ridgeview-family/budget.html"' in home.text
    assert 'href="/clinic/ridgeview-family"' in home.text
    assert "default-src 'none'" in home.headers["content-security-policy"]
    assert "<script" not in home.text


def test_bad_upload_lists_every_problem_by_cell_in_validate_words(served: tuple[Server, Path],
                                                                  tmp_path: Path) -> None:
    server, folder = served
    path = bad_workbook(tmp_path / "bad-clinic.xlsx")
    reply = server.upload(path.name, path.read_bytes())
    assert reply.status == 422
    expected = validate_lines(path)
    assert len(expected) == 2
    text = page_text(reply.text)
    for line in expected:
        assert line in text
    assert "<script>alert(1)" not in reply.text and "&lt;script&gt;alert(1)" in reply.text  # escaped
    for cell in ("B2", "B3"):
        assert f'<td class="where">{cell}</td>' in reply.text
    assert not (folder / "out" / "bad-clinic").exists()
    assert (folder / "out" / "_errors" / "bad-clinic.html").is_file()  # as batch leaves it
    assert not (folder / "out" / "_uploads" / "bad-clinic.xlsx").exists()


@pytest.mark.parametrize("content", [b"clinic,physicians\nRidgeview,3\n", b"", b"PK\x03\x04 not really a zip",
                                     bytes(range(256)) * 40])
def test_not_a_workbook_gets_validates_one_line(served: tuple[Server, Path], tmp_path: Path,
                                                content: bytes) -> None:
    server, folder = served
    path = tmp_path / "notes.xlsx"
    path.write_bytes(content)
    reply = server.upload(path.name, content)
    assert reply.status == 422
    [line] = validate_lines(path)
    assert f'<p class="answer">{html.escape(line)}</p>' in reply.text


def test_a_text_file_leaves_nothing_behind(served: tuple[Server, Path], tmp_path: Path) -> None:
    server, folder = served
    reply = server.upload("minutes.txt", b"minutes of the meeting")
    assert reply.status == 422
    [line] = validate_lines(_written(tmp_path / "minutes.txt", b"minutes of the meeting"))
    assert html.escape(line) in reply.text
    assert not (folder / "out" / "_errors" / "minutes.html").exists()
    assert not any(r.slug == "minutes" for r in stored_records(folder / "out"))


def _written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_oversize_is_refused_before_the_body_is_read(served: tuple[Server, Path]) -> None:
    server, _ = served
    # Only the headers are sent: the answer must come without the 60 MB body (a server that waited
    # for it would answer nothing, and raw_request would time out).
    head = (f"POST /upload HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n"
            "Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 60000000\r\n\r\n").encode()
    raw = raw_request(server.host, server.port, head)
    assert status_of(raw) == 413
    assert b"at most 50 MB" in raw


def test_a_chunked_body_over_the_limit_is_cut_off(served: tuple[Server, Path]) -> None:
    import socket

    server, folder = served
    with socket.create_connection((server.host, server.port), timeout=60) as sock:
        sock.sendall((f"POST /upload HTTP/1.1\r\nHost: {server.host}:{server.port}\r\nTransfer-Encoding: chunked\r\n"
                      "Content-Type: multipart/form-data; boundary=x\r\n\r\n").encode())
        start = b'--x\r\nContent-Disposition: form-data; name="workbook"; filename="huge.xlsx"\r\n\r\n'
        chunk = b"0" * (1 << 20)
        sent = 0
        try:
            sock.sendall(b"%x\r\n%s\r\n" % (len(start), start))
            while sent < 80 * (1 << 20):
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading: what is wanted
        answer = sock.recv(65536)
    assert status_of(answer) == 413
    assert sent < 80 * (1 << 20)
    assert not (folder / "out" / "huge").exists()


ESCAPES = ["/files/../../../../etc/passwd", "/files/..%2f..%2f..%2fetc%2fpasswd", "/files/%2e%2e/%2e%2e/etc/passwd",
           "/files/%252e%252e/%252e%252e/etc/passwd", "/files/ridgeview-family/../../secret.txt",
           "/files/ridgeview-family/..%2F..%2Fsecret.txt", "/files/..\\..\\secret.txt", "/files/%2e%2e%5csecret.txt",
           "/files//etc/passwd", "/files/%2Fetc%2Fpasswd", "/files/.clinic-budget-manifest.sqlite",
           "/files/_uploads/Ridgeview%20Family.xlsx", "/files/outside/secret.txt", "/files/ridgeview-family/%00",
           "/files/", "/files/."]


def test_documents_are_served_only_from_the_output_folder(served: tuple[Server, Path], tmp_path: Path) -> None:
    server, folder = served
    (folder / "secret.txt").write_text("not for the web")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not for the web")
    (folder / "out" / "outside").symlink_to(outside)  # a link inside the folder to outside it
    try:
        for path in ESCAPES:
            raw = raw_request(server.host, server.port,
                              f"GET {path} HTTP/1.1\r\nHost: {server.host}\r\nConnection: close\r\n\r\n".encode())
            assert status_of(raw) in (400, 404), (path, raw[:200])
            assert b"not for the web" not in raw and b"root:" not in raw
    finally:
        (folder / "out" / "outside").unlink()


def test_document_path_rules(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "a").mkdir(parents=True)
    (out / "a" / "budget.html").write_text("x")
    real = os.path.realpath(out)
    assert document_path(real, "a/budget.html") == os.path.join(real, "a", "budget.html")
    for bad in ("../out/a/budget.html", "a/../a/budget.html", "a//budget.html", "./a/budget.html", ".hidden",
                "_uploads/x.xlsx", "a\\budget.html", "a", ""):
        assert document_path(real, bad) is None, bad


@pytest.mark.parametrize(("raw", "kept"), [
    ("../../etc/evil.xlsx", "evil.xlsx"), ("..\\..\\evil.xlsx", "evil.xlsx"),
    ("C:\\Users\\pm\\Ridge.xlsx", "Ridge.xlsx"),
    ("..", "workbook.xlsx"), (".hidden.xlsx", "hidden.xlsx"), ("a<script>b.xlsx", "a-script-b.xlsx"),
    ("Ridgeview (2026) & Co.xlsx", "Ridgeview (2026) & Co.xlsx"), ("a;b|c$d`e.xlsx", "a-b-c-d-e.xlsx"),
    ("Clínica Sã.xlsx", "Clínica Sã.xlsx"), ("x" * 400 + ".xlsx", "x" * 115 + ".xlsx"), ("\0\n.xlsx", "workbook.xlsx"),
])
def test_uploaded_names_become_file_names_only(raw: str, kept: str) -> None:
    assert sanitise_name(raw) == kept


def test_an_uploaded_name_never_becomes_a_path(served: tuple[Server, Path], tmp_path: Path) -> None:
    server, folder = served
    reply = server.upload("../../escape<b>.xlsx", example_bytes(tmp_path, "urgent-care"))
    assert reply.status == 200, reply.text
    assert not (folder / "escape-b.xlsx").exists() and not (folder.parent / "escape-b.xlsx").exists()
    assert (folder / "out" / "_uploads" / "escape-b.xlsx").is_file()
    assert "escape<b>" not in reply.text


def test_cross_site_posts_and_foreign_hosts_are_refused(served: tuple[Server, Path], tmp_path: Path) -> None:
    server, _ = served
    data = example_bytes(tmp_path)
    from tests.serve_helpers import multipart

    body, content_type = multipart("x.xlsx", data)
    reply = server.request("POST", "/upload", body, {"Content-Type": content_type, "Origin": "http://evil.example"})
    assert reply.status == 403
    reply = server.request("POST", "/upload", body, {"Content-Type": content_type, "Sec-Fetch-Site": "cross-site"})
    assert reply.status == 403
    assert server.get("/", headers={"Host": "evil.example"}).status == 421  # DNS rebinding


def test_blank_and_example_workbooks_download(served: tuple[Server, Path], tmp_path: Path) -> None:
    server, _ = served
    home = server.get("/").text
    links = re.findall(r'href="(/workbooks/[^"]+\.xlsx)"', home)
    assert "/workbooks/intake.xlsx" in links and "/workbooks/orthopedic.xlsx" in links
    blank = server.get("/workbooks/intake.xlsx")
    assert blank.status == 200 and blank.body.startswith(b"PK")
    (tmp_path / "blank.xlsx").write_bytes(blank.body)
    assert run_cli("new", tmp_path / "new.xlsx").returncode == 0  # what `new` writes, sheet by sheet
    from openpyxl import load_workbook

    assert load_workbook(tmp_path / "blank.xlsx").sheetnames == load_workbook(tmp_path / "new.xlsx").sheetnames
    orthopedic = server.get("/workbooks/orthopedic.xlsx")
    (tmp_path / "orthopedic.xlsx").write_bytes(orthopedic.body)
    assert run_cli("validate", tmp_path / "orthopedic.xlsx").returncode == 0
    assert server.get("/workbooks/..%2f..%2fsecret.xlsx").status == 404


def test_eight_concurrent_uploads_all_get_their_results(served: tuple[Server, Path], tmp_path: Path) -> None:
    server, folder = served
    names = ["family-practice", "orthopedic", "urgent-care"]
    data = {name: example_bytes(tmp_path, name) for name in names}
    replies: dict[int, int] = {}
    pages: list[bool] = []  # for each look at the home page: were uploads still being worked on after it?

    def upload(i: int) -> None:
        replies[i] = server.upload(f"clinic-{i}.xlsx", data[names[i % 3]], timeout=300).status

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        assert server.get("/", timeout=60).status == 200
        pages.append(any(t.is_alive() for t in threads))
        time.sleep(0.3)
    for t in threads:
        t.join()
    assert replies == dict.fromkeys(range(8), 200)
    for i in range(8):
        assert (folder / "out" / f"clinic-{i}" / "budget.json").is_file()
    assert any(pages), pages  # the page answers while the workers work, not only once they are done


def test_the_queue_is_bounded(tmp_path: Path) -> None:
    server = Server(tmp_path, "--out", "out", "--formats", "json", "--workers", "1", "--queue", "1")
    try:
        data = example_bytes(tmp_path)
        statuses: list[int] = []
        threads = [threading.Thread(target=lambda i=i: statuses.append(
            server.upload(f"q{i}.xlsx", data, timeout=120).status)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert 200 in statuses and 503 in statuses and set(statuses) <= {200, 503}, statuses
    finally:
        assert server.stop() == 0


def test_sigterm_stops_cleanly_even_mid_upload(tmp_path: Path) -> None:
    """Stops (exit 0, "stopped", no traceback, the lock let go of, no half upload left) rather than
    being killed after `stop`'s 30 s; how fast it stops is bench/bench_serve.py's `stop` part."""
    server = Server(tmp_path, "--out", "out", "--workers", "1")
    data = example_bytes(tmp_path)
    statuses: list[int] = []
    thread = threading.Thread(target=lambda: statuses.append(server.upload("mid.xlsx", data, timeout=60).status))
    thread.start()
    time.sleep(1.0)  # the upload is being worked on
    code = server.stop(signal.SIGTERM)
    thread.join(10)
    assert code == 0, (code, server.err)
    assert server.out[-1] == "stopped"
    assert statuses in ([200], [503], []), statuses
    assert not any("Traceback" in line for line in server.err), server.err
    lock = OutputLock(tmp_path / "out")
    assert lock.acquire(blocking=False)  # let go of
    lock.release()
    assert not [e for e in os.scandir(tmp_path / "out" / "_uploads") if e.name.startswith(".incoming")]


def test_ctrl_c_stops_too(tmp_path: Path) -> None:
    server = Server(tmp_path, "--out", "out", "--workers", "1")
    assert server.get("/").status == 200
    assert server.stop(signal.SIGINT) == 0
    assert server.out[-1] == "stopped"


def test_another_host_warns_that_there_is_no_login(tmp_path: Path) -> None:
    server = Server(tmp_path, "--out", "out", "--host", "0.0.0.0", "--workers", "1")
    try:
        assert any("no login" in line for line in server.err), server.err
    finally:
        assert server.stop() == 0
    quiet = Server(tmp_path, "--out", "out", "--workers", "1")
    try:
        assert not any("no login" in line for line in quiet.err)
    finally:
        quiet.stop()


def test_a_port_in_use_is_a_usage_error(served: tuple[Server, Path], tmp_path: Path) -> None:
    server, _ = served
    done = run_cli("serve", "--port", server.port, "--out", "out", cwd=tmp_path, timeout=60)
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{server.port}" in done.stderr and "Traceback" not in done.stderr


def test_a_bad_version_keeps_the_earlier_documents_and_links_them(served: tuple[Server, Path],
                                                                  tmp_path: Path) -> None:
    server, folder = served
    assert server.upload("Lakeside.xlsx", example_bytes(tmp_path, "urgent-care")).status == 200
    before = (folder / "out" / "lakeside" / "budget.json").read_bytes()
    reply = server.upload("Lakeside.xlsx", bad_workbook(tmp_path / "Lakeside.xlsx").read_bytes())
    assert reply.status == 422 and 'href="/clinic/lakeside"' in reply.text
    assert (folder / "out" / "lakeside" / "budget.json").read_bytes() == before
    clinic = server.get("/clinic/lakeside")
    assert clinic.status == 200 and "Lakeside Urgent Care" in clinic.text
    assert 'href="/files/lakeside/budget.json"' in clinic.text
    assert server.get("/clinic/no-such-clinic").status == 404
    assert server.get("/clinic/..%2f..%2fetc").status == 404


def test_user_text_is_escaped_on_every_page(served: tuple[Server, Path], tmp_path: Path) -> None:
    from tests.builders import HOSTILE

    server, _ = served
    path = clinic_workbook(tmp_path / "hostile.xlsx", clinic_rows(name=HOSTILE))
    reply = server.upload("hostile<img src=x onerror=alert(1)>.xlsx", path.read_bytes())
    assert reply.status == 200, reply.text
    for page in (reply.text, server.get("/").text, server.get("/clinic/hostile-img-src-x-onerror-alert-1").text):
        assert HOSTILE not in page and "<img src=x" not in page
    assert html.escape(HOSTILE, quote=False) in reply.text


def test_an_upload_waits_for_a_batch_holding_the_output_folder(served: tuple[Server, Path],
                                                               tmp_path: Path) -> None:
    server, folder = served
    lock = OutputLock(folder / "out")
    assert lock.acquire(blocking=False)
    statuses: list[int] = []
    thread = threading.Thread(target=lambda: statuses.append(
        server.upload("waiting.xlsx", example_bytes(tmp_path), timeout=120).status))
    try:
        thread.start()
        time.sleep(3)
        assert statuses == [] and not (folder / "out" / "waiting").exists()  # nothing written meanwhile
    finally:
        lock.release()
    thread.join(120)
    assert statuses == [200]
    assert (folder / "out" / "waiting" / "budget.json").is_file()


def test_a_document_kept_from_an_earlier_run_of_the_workbook_is_marked(served: tuple[Server, Path],
                                                                        tmp_path: Path) -> None:
    """`run` and an upload take the same path: the Word document `run` made from this same
    workbook is kept beside the page's formats, and said to be kept (issue 14, no stale documents)."""
    server, folder = served
    data = example_bytes(tmp_path, "orthopedic")
    (tmp_path / "Kept Clinic.xlsx").write_bytes(data)
    done = run_cli("run", tmp_path / "Kept Clinic.xlsx", "--out", folder / "out", "--formats", "json,docx")
    assert done.returncode == 0, done.stderr
    reply = server.upload("Kept Clinic.xlsx", data)
    assert reply.status == 200, reply.text
    assert page_text(reply.text).count("kept from an earlier run of this workbook") == 1
    assert re.search(r"budget\.docx[^<]*kept from an earlier run of this workbook", reply.text)
    assert "DOCX kept from an earlier run" in page_text(server.get("/").text)
