#!/usr/bin/env python3
"""Workspaces of other shapes for scripts/bench/claw.sh, independent of claw_gen.py.

usage: claw_shapes.py notes|logs|transcripts|binaries <dir>

claw_gen.py writes text drawn from a made-up vocabulary. This generator instead cuts its text
from real files that exist wherever python3 does (the standard library's sources, its bundled
language reference, the system's licence texts) and its binaries from real executables, shared
libraries and compiled bytecode, so the mix of redundancy is that of files people keep, not of
a model. Seeded: on the same machine (same Python, same /usr) every run writes the same bytes.

notes        ~25,000 small files, ~190 MiB: markdown with code fences, source files, small
             JSON/YAML configs (lognormal sizes, median ~3 KiB).
logs         ~270 MiB in 12 files: two service logs of 150 and 60 MiB (structured lines with
             request ids, latencies, occasional tracebacks), rotated pieces and an access log.
transcripts  ~250 MiB of JSONL agent transcripts (~160 files): messages, tool calls and results
             as escaped JSON, ~30% of the bytes base64 attachments (random "images" and
             base64 of text documents).
binaries     ~250 MiB of binary files: ELF executables and libraries, .pyc bytecode, SQLite
             databases, float32 sensor arrays, a stored (not deflated) .npz as numpy writes
             it, UTF-16 text, a plain .tar of sources, and already-compressed .gz/.zip/.jpg.
"""
import base64
import gzip
import io
import json
import os
import random
import re
import sqlite3
import struct
import sys
import sysconfig
import tarfile
import zipfile

MiB = 1 << 20
KiB = 1 << 10
STDLIB = sysconfig.get_paths()["stdlib"]


def sources(limit):
    """Paths of standard-library .py files, in a fixed order, up to `limit` bytes."""
    found, total = [], 0
    for top, dirs, files in os.walk(STDLIB):
        dirs.sort()
        if "site-packages" in top:
            continue
        for f in sorted(files):
            if f.endswith(".py"):
                p = os.path.join(top, f)
                found.append(p)
                total += os.path.getsize(p)
                if total >= limit:
                    return found
    return found


class Corpus:
    """Real code and real prose, cut into line-aligned windows."""

    def __init__(self, rng):
        self.rng = rng
        code = []
        for p in sources(48 * MiB):
            with open(p, "rb") as f:
                code.append(f.read())
        self.code = b"\n".join(code).decode("utf-8", "replace")
        # Prose: docstrings from that code, the language reference, the licence texts.
        docs = re.findall(r'"""(.{200,}?)"""', self.code, re.S)
        prose = [re.sub(r"[ \t]+", " ", d) for d in docs]
        with open(os.path.join(STDLIB, "pydoc_data", "topics.py"), encoding="utf-8") as f:
            prose.append(f.read())
        lic = "/usr/share/common-licenses"
        if os.path.isdir(lic):
            for name in sorted(os.listdir(lic)):
                p = os.path.join(lic, name)
                if os.path.isfile(p):
                    with open(p, encoding="utf-8", errors="replace") as f:
                        prose.append(f.read())
        self.prose = "\n\n".join(prose)

    def window(self, text, n):
        """About n characters of `text`, starting and ending at line boundaries."""
        if n >= len(text):
            return text
        start = self.rng.randrange(len(text) - n)
        start = text.find("\n", start) + 1
        end = text.find("\n", start + n)
        return text[start:end if end > 0 else len(text)]

    def code_window(self, n):
        return self.window(self.code, n)

    def prose_window(self, n):
        return self.window(self.prose, n)


def put(root, rel, data):
    path = os.path.join(root, "context", rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    return len(data)


def notes(root, rng, corpus):
    topics = ["research", "meetings", "projects", "journal", "snippets", "infra", "people",
              "reading", "drafts", "ops"]
    total, i = 0, 0
    while total < 190 * MiB:
        size = max(120, min(96 * KiB, int(rng.lognormvariate(8.0, 1.1))))
        folder = "%s/%s" % (rng.choice(topics), "%03d" % rng.randrange(300))
        pick = rng.random()
        if pick < 0.55:
            parts, n = ["# " + corpus.prose_window(40).split("\n")[0][:70]], 0
            while n < size:
                if rng.random() < 0.25:
                    part = "```python\n" + corpus.code_window(rng.randint(200, 1500)) + "\n```"
                elif rng.random() < 0.2:
                    part = "\n".join("- " + line.strip() for line in
                                     corpus.prose_window(rng.randint(150, 600)).split("\n") if line.strip())
                else:
                    part = corpus.prose_window(rng.randint(200, 2500))
                parts.append(part)
                n += len(part)
            rel, data = "%s/note-%05d.md" % (folder, i), "\n\n".join(parts)[:size]
        elif pick < 0.9:
            ext = rng.choice(["py", "py", "rs", "ts", "go"])
            rel, data = "%s/src/mod_%05d.%s" % (folder, i, ext), corpus.code_window(size)
        else:
            conf = {"name": "svc-%d" % i, "replicas": rng.randint(1, 9),
                    "env": {("VAR_%d" % k): rng.choice(["true", "false", str(rng.random())])
                            for k in range(rng.randint(2, 30))},
                    "notes": corpus.prose_window(rng.randint(50, 400))}
            if rng.random() < 0.5:
                rel, data = "%s/conf-%05d.json" % (folder, i), json.dumps(conf, indent=2)
            else:
                lines = ["%s: %s" % (k, json.dumps(v)) for k, v in conf.items()]
                rel, data = "%s/conf-%05d.yaml" % (folder, i), "\n".join(lines) + "\n"
        total += put(root, rel, data)
        i += 1


class LogLines:
    """Structured service log lines: mostly templates, some high-entropy fields."""

    def __init__(self, rng, corpus, service):
        self.rng, self.corpus, self.service = rng, corpus, service
        self.t = 1_764_000_000.0
        self.paths = ["/v1/sessions/%d/messages" % k for k in range(40)] + \
            ["/v1/tools/%s" % w for w in ("bash", "edit", "read", "grep", "web", "fetch")] + \
            ["/healthz", "/metrics", "/v1/auth/refresh"]
        self.agents = ["Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/132.0",
                       "curl/8.5.0", "python-httpx/0.27.2", "krill-agent/0.9 (linux; x86_64)"]

    def stamp(self):
        self.t += self.rng.expovariate(40.0)
        s = int(self.t)
        return "%s.%06dZ" % (
            "2026-11-%02dT%02d:%02d:%02d" % (1 + (s // 86400) % 28, (s // 3600) % 24, (s // 60) % 60, s % 60),
            int((self.t - s) * 1e6))

    def line(self):
        r = self.rng
        x = r.random()
        rid = "%032x" % r.getrandbits(128)
        if x < 0.5:
            return '%s INFO  %s.http request_id=%s method=%s path=%s status=%d duration_ms=%.3f bytes=%d' % (
                self.stamp(), self.service, rid, r.choice(["GET", "GET", "POST", "PUT"]), r.choice(self.paths),
                r.choice([200, 200, 200, 201, 204, 304, 404, 500]), r.lognormvariate(3, 1), r.randint(0, 90000))
        if x < 0.75:
            return '%s DEBUG %s.agent session=%08x turn=%d tokens_in=%d tokens_out=%d model=%s cache_hit=%s' % (
                self.stamp(), self.service, r.getrandbits(32), r.randint(1, 400), r.randint(10, 200000),
                r.randint(1, 8000), r.choice(["opus", "sonnet", "haiku"]), r.choice(["true", "false"]))
        if x < 0.93:
            msg = self.corpus.prose_window(r.randint(30, 160)).replace("\n", " ")[:160]
            return '%s %s %s.%s %s' % (self.stamp(), r.choice(["INFO ", "WARN "]), self.service,
                                       r.choice(["memory", "tools", "scheduler", "gateway"]), msg)
        if x < 0.995:
            return '%s INFO  %s.access %d.%d.%d.%d - - "%s %s HTTP/1.1" %d %d "%s"' % (
                self.stamp(), self.service, 10, r.randrange(256), r.randrange(256), r.randrange(256),
                r.choice(["GET", "POST"]), r.choice(self.paths), r.choice([200, 404]), r.randint(0, 50000),
                r.choice(self.agents))
        tb = "\n".join("    " + ln for ln in self.corpus.code_window(r.randint(200, 900)).split("\n")[:12])
        return '%s ERROR %s.worker unhandled exception request_id=%s\nTraceback (most recent call last):\n%s\nRuntimeError: %s' % (
            self.stamp(), self.service, rid, tb, self.corpus.prose_window(60).split("\n")[0][:100])

    def block(self, n):
        out, size = [], 0
        while size < n:
            ln = self.line()
            out.append(ln)
            size += len(ln) + 1
        return ("\n".join(out) + "\n").encode()


def logs(root, rng, corpus):
    plan = [("services/gateway/gateway.log", "gateway", 150 * MiB),
            ("services/agent/agent.log", "agent", 60 * MiB),
            ("services/access.log", "edge", 30 * MiB)]
    plan += [("services/gateway/gateway.log.%d" % k, "gateway", rng.randint(1, 6) * MiB) for k in range(1, 10)]
    for rel, service, size in plan:
        gen = LogLines(rng, corpus, service)
        path = os.path.join(root, "context", rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            left = size
            while left > 0:
                b = gen.block(min(left, 2 * MiB))[:left]
                f.write(b)
                left -= len(b)


def transcripts(root, rng, corpus):
    total, i = 0, 0
    while total < 250 * MiB:
        size = max(64 * KiB, min(24 * MiB, int(rng.lognormvariate(13.6, 1.2))))
        lines, n, turn = [], 0, 0
        session = "%032x" % rng.getrandbits(128)
        while n < size:
            turn += 1
            base = {"session_id": session, "uuid": "%032x" % rng.getrandbits(128),
                    "timestamp": "2026-11-%02dT%02d:%02d:%02d.%03dZ" % (
                        rng.randint(1, 28), rng.randrange(24), rng.randrange(60), rng.randrange(60), rng.randrange(1000)),
                    "turn": turn}
            x = rng.random()
            if x < 0.3:
                msg = {"role": "user", "content": [{"type": "text", "text": corpus.prose_window(rng.randint(50, 1200))}]}
                if rng.random() < 0.06:
                    # A pasted screenshot: random bytes stand in for an already-compressed image.
                    blob = rng.randbytes(rng.randint(20 * KiB, 400 * KiB))
                    msg["content"].append({"type": "image", "source": {
                        "type": "base64", "media_type": "image/png", "data": base64.b64encode(blob).decode()}})
                elif rng.random() < 0.04:
                    doc = corpus.prose_window(rng.randint(20 * KiB, 200 * KiB)).encode()
                    msg["content"].append({"type": "document", "source": {
                        "type": "base64", "media_type": "text/plain", "data": base64.b64encode(doc).decode()}})
            elif x < 0.65:
                msg = {"role": "assistant", "model": "claude-opus", "content": [
                    {"type": "text", "text": corpus.prose_window(rng.randint(100, 2000))},
                    {"type": "tool_use", "id": "toolu_%024x" % rng.getrandbits(96),
                     "name": rng.choice(["Bash", "Read", "Edit", "Grep"]),
                     "input": {"command": corpus.code_window(rng.randint(20, 200)).split("\n")[0][:160]}}],
                    "usage": {"input_tokens": rng.randint(100, 200000), "output_tokens": rng.randint(1, 4000)}}
            else:
                msg = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_%024x" % rng.getrandbits(96),
                                                    "content": corpus.code_window(rng.randint(100, 6000))}]}
            base["message"] = msg
            ln = json.dumps(base, ensure_ascii=False)
            lines.append(ln)
            n += len(ln) + 1
        data = ("\n".join(lines) + "\n").encode()
        total += put(root, "projects/p%02d/%s.jsonl" % (i % 23, session), data)
        i += 1


def real_files(dirs, pred, limit):
    """Real files under `dirs` that satisfy `pred`, in a fixed order, up to `limit` bytes."""
    out, total = [], 0
    for d in dirs:
        for top, subdirs, files in os.walk(d):
            subdirs.sort()
            for f in sorted(files):
                p = os.path.join(top, f)
                if os.path.islink(p) or not os.path.isfile(p) or not pred(p):
                    continue
                s = os.path.getsize(p)
                if s == 0 or s > 40 * MiB:
                    continue
                out.append(p)
                total += s
                if total >= limit:
                    return out
    return out


def is_elf(p):
    with open(p, "rb") as f:
        return f.read(4) == b"\x7fELF"


def binaries(root, rng, corpus):
    # Real executables and shared libraries (~80 MiB).
    for p in real_files(["/usr/bin", "/usr/lib/x86_64-linux-gnu"], is_elf, 80 * MiB):
        with open(p, "rb") as f:
            put(root, "tools/" + p.strip("/").replace("/", "_"), f.read())
    # Real bytecode (~25 MiB).
    for p in real_files([STDLIB], lambda p: p.endswith(".pyc") and "site-packages" not in p, 25 * MiB):
        with open(p, "rb") as f:
            put(root, "cache/" + os.path.relpath(p, STDLIB), f.read())
    # SQLite databases (~40 MiB): rows of ids, numbers and short texts.
    for k in range(3):
        path = os.path.join(root, "context", "db", "store-%d.sqlite" % k)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        db = sqlite3.connect(path)
        db.execute("create table events (id integer primary key, ts real, kind text, score real, body text)")
        rows, size = [], 0
        while size < 13 * MiB:
            body = corpus.prose_window(rng.randint(20, 300))
            rows.append((rng.uniform(1.7e9, 1.8e9), rng.choice(["note", "tool", "msg", "err"]), rng.random(), body))
            size += len(body) + 40
        db.executemany("insert into events (ts, kind, score, body) values (?, ?, ?, ?)", rows)
        db.commit()
        db.close()
    # float32 sensor arrays (~40 MiB): smooth signals plus noise, packed little-endian.
    for k in range(8):
        n = 5 * MiB // 4
        v, out = 0.0, bytearray()
        step = 1.0 / rng.randint(50, 5000)
        for j in range(0, n, 1024):
            vals = []
            for _ in range(1024):
                v += step
                vals.append(1000.0 * ((v % 1.0) - 0.5) + rng.gauss(0, 0.01))
            out += struct.pack("<1024f", *vals)
        put(root, "data/sensor-%02d.f32" % k, bytes(out))
    # numpy's savez writes a zip that is *stored*, not deflated (~10 MiB of int32 counters).
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_STORED) as z:
        for name in ("counts", "labels", "offsets"):
            vals = [int(rng.expovariate(0.01)) for _ in range(850_000)]
            z.writestr("%s.npy" % name, b"\x93NUMPY\x01\x00v\x00" + struct.pack("<%di" % len(vals), *vals))
    put(root, "data/features.npz", zbuf.getvalue())
    # UTF-16 text (~10 MiB).
    for k in range(5):
        put(root, "exports/report-%d.txt" % k, corpus.prose_window(MiB).encode("utf-16"))
    # A plain tar of sources (~20 MiB).
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for j, p in enumerate(sources(20 * MiB)):
            info = tarfile.TarInfo("src/%05d.py" % j)
            with open(p, "rb") as f:
                data = f.read()
            info.size, info.mtime = len(data), 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    put(root, "archives/sources.tar", buf.getvalue())
    # Already compressed (~35 MiB): gzip and zip of text, random "photos".
    for k in range(12):
        put(root, "archives/notes-%02d.txt.gz" % k, gzip.compress(corpus.prose_window(MiB).encode(), 6, mtime=0))
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_DEFLATED) as z:
        for j in range(40):
            z.writestr(zipfile.ZipInfo("doc-%02d.txt" % j, (2026, 1, 1, 0, 0, 0)), corpus.code_window(200 * KiB),
                       compress_type=zipfile.ZIP_DEFLATED)
    put(root, "archives/docs.zip", zbuf.getvalue())
    for k in range(150):
        put(root, "photos/IMG_%04d.jpg" % k, b"\xff\xd8\xff\xe0" + rng.randbytes(rng.randint(50 * KiB, 400 * KiB)))


SHAPES = {"notes": notes, "logs": logs, "transcripts": transcripts, "binaries": binaries}

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in SHAPES:
        sys.exit(__doc__)
    rng = random.Random("claw-shapes/" + sys.argv[1])
    SHAPES[sys.argv[1]](sys.argv[2], rng, Corpus(rng))
