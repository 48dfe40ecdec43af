#!/usr/bin/env python3
"""Generates benchmark workspaces for scripts/bench/claw.sh (deterministic, seeded).

usage: claw_gen.py small|large <dir>

small: ~1k small files (~6 MiB), mostly text.
large: ~20k files, ~1 GiB: ~715 MiB text (markdown notes, JSONL transcripts, logs, code; two
       large files of 100+ MiB) and ~320 MiB incompressible data (random .bin, .png/.gz-named
       blobs, one 200 MiB blob that must be streamed, not held in memory).
"""
import os
import random
import sys

MiB = 1 << 20


def vocabulary(rng):
    letters = "etaoinshrdlcumwfgypbvkjxqz"
    weights = [12, 9, 8, 7.5, 7, 6.7, 6.3, 6, 5.9, 4.2, 4, 2.8, 2.7, 2.4, 2.3, 2.2, 2, 2, 1.9, 1.5, 1, .8, .2, .2, .1, .07]
    words = set()
    while len(words) < 6000:
        n = max(1, int(rng.lognormvariate(1.6, 0.45)))
        words.add("".join(rng.choices(letters, weights, k=n)))
    words = sorted(words)
    rng.shuffle(words)
    zipf = [1.0 / (i + 1) ** 1.05 for i in range(len(words))]
    return words, zipf


class Text:
    """Lines are built from a pool of pre-generated sentences: far faster than drawing every
    word, and a 30 MB pool never repeats within deflate's 32 KiB window."""

    def __init__(self, rng):
        self.rng = rng
        self.words, self.weights = vocabulary(rng)
        self.pool = {}
        for n in range(2, 61):
            self.pool[n] = [self._make(n) for _ in range(max(200, 24000 // n))]

    def _make(self, n):
        w = self.rng.choices(self.words, self.weights, k=n)
        return " ".join(w).capitalize() + self.rng.choice([".", ".", ".", "?", "!", ":"])

    def sentence(self, n):
        return self.rng.choice(self.pool[n])

    def body(self, size, kind):
        rng = self.rng
        out, total = [], 0
        i = 0
        while total < size:
            i += 1
            if kind == "md":
                line = ("## " + self.sentence(rng.randint(2, 6))) if i % 12 == 1 else self.sentence(rng.randint(6, 30))
            elif kind == "jsonl":
                line = '{"ts":"2026-11-%02dT%02d:%02d:%02d.%03dZ","role":"%s","turn":%d,"text":"%s"}' % (
                    rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59), rng.randint(0, 999),
                    rng.choice(["user", "assistant", "tool"]), i, self.sentence(rng.randint(5, 60)))
            elif kind == "log":
                line = "2026-11-%02d %02d:%02d:%02d.%06d %s [%s] %s id=%08x" % (
                    rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59), rng.randint(0, 999999),
                    rng.choice(["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"]),
                    rng.choice(["gateway", "agent", "tools", "memory", "session"]), self.sentence(rng.randint(4, 16)),
                    rng.getrandbits(32))
            else:  # code-ish
                ind = "    " * rng.randint(0, 3)
                line = ind + "let %s = %s(%s, %d); // %s" % (
                    rng.choice(self.words[:300]), rng.choice(self.words[:300]), rng.choice(self.words[:300]),
                    rng.randint(0, 9999), self.sentence(rng.randint(2, 8)))
            out.append(line)
            total += len(line) + 1
        data = ("\n".join(out) + "\n").encode()
        return data[:size]


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def random_bytes(rng, n, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        left = n
        while left:
            k = min(left, 4 * MiB)
            f.write(rng.randbytes(k))
            left -= k


def generate(kind, root):
    rng = random.Random(20261124)
    text = Text(rng)
    kinds = ["md", "jsonl", "log", "code"]
    exts = {"md": "md", "jsonl": "jsonl", "log": "log", "code": "rs"}
    ctx = os.path.join(root, "context")
    if kind == "small":
        for i in range(1000):
            k = kinds[i % 4]
            size = int(min(64 << 10, rng.lognormvariate(8.3, 0.9)))
            write(os.path.join(ctx, "notes", "d%02d" % (i % 37), "f%04d.%s" % (i, exts[k])), text.body(size, k))
        for i in range(24):
            random_bytes(rng, rng.randint(1 << 10, 32 << 10), os.path.join(ctx, "blobs", "b%02d.bin" % i))
        return
    # large: text
    target_text = 715 * MiB
    big = [("transcripts/main-session.jsonl", "jsonl", 120 * MiB), ("logs/gateway.log", "log", 100 * MiB)]
    for rel, k, size in big:
        path = os.path.join(ctx, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            left = size
            while left:
                piece = text.body(min(left, 4 * MiB), k)
                f.write(piece)
                left -= len(piece)
    written = sum(s for _, _, s in big)
    i = 0
    while written < target_text:
        k = kinds[i % 4]
        size = int(min(2 * MiB, rng.lognormvariate(9.6, 1.1)))
        size = min(size, target_text - written)
        write(os.path.join(ctx, "work", "p%03d" % (i % 400), "f%05d.%s" % (i, exts[k])), text.body(size, k))
        written += size
        i += 1
    # binary: one streamed giant, mid-size blobs, small compressed-looking files
    random_bytes(rng, 200 * MiB, os.path.join(ctx, "blobs", "model-cache.bin"))
    left = 120 * MiB
    j = 0
    while left > 0:
        size = min(left, int(rng.lognormvariate(11.5, 1.3)))
        ext = ["bin", "png", "gz", "dat", ""][j % 5]
        name = "blob%04d%s" % (j, "." + ext if ext else "")
        random_bytes(rng, size, os.path.join(ctx, "blobs", "b%02d" % (j % 50), name))
        left -= size
        j += 1


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("small", "large"):
        sys.exit(__doc__)
    generate(sys.argv[1], sys.argv[2])
