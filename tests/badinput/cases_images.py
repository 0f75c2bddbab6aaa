"""Bad image data: folders without classes or images, one class, corrupt and truncated files, random bytes
named .png, annotation files that point nowhere, and images handed to text or table models."""

from __future__ import annotations

import io
from pathlib import Path

from badinput.harness import Case
from badinput.trainargs import train, write


def png(seed: int = 0, size: int = 12, mode: str = "RGB") -> bytes:
    """A small real PNG."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    shape = (size, size, 3) if mode == "RGB" else (size, size)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8), mode).save(buf, format="PNG")
    return buf.getvalue()


def folder_of(root: Path, classes=("cat", "dog"), n: int = 6, bad: dict | None = None) -> Path:
    """root/<class>/<i>.png, `n` per class; `bad` maps a relative path to the bytes to put there."""
    for c in classes:
        for i in range(n):
            write(root / c / f"{i}.png", png(i + 10 * len(c)))
    for rel, content in (bad or {}).items():
        write(root / rel, content)
    return root


def big_header_png() -> bytes:
    """A PNG whose header claims 100,000 x 100,000 pixels (a decompression bomb)."""
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))


# (name, make(folder) -> data spec, extra args, fragment)
def _folder(**kw):
    return lambda f: f"folder:{folder_of(f / 'imgs', **kw)}"


def _empty(f):
    (f / "imgs").mkdir()
    return f"folder:{f / 'imgs'}"


def _classes_without_images(f):
    for c in ("cat", "dog"):
        (f / "imgs" / c).mkdir(parents=True)
    return f"folder:{f / 'imgs'}"


def _loose_files(f):
    for i in range(4):
        write(f / "imgs" / f"{i}.png", png(i))
    return f"folder:{f / 'imgs'}"


def _annotations(lines: str, images: bool = True):
    def make(f):
        if images:
            for i in range(8):
                write(f / f"{i}.png", png(i))
        write(f / "train.txt", lines)
        return f"annotations:{f / 'train.txt'}"

    return make


GOOD_LINES = "".join(f"{i}.png {i % 2}\n" for i in range(8))

IMAGES = [
    ("empty-folder", _empty, [], "class folder"),
    ("one-class", _folder(classes=("cat",)), [], "at least 2"),
    ("classes-without-images", _classes_without_images, [], "imgs"),
    ("loose-files-no-classes", _loose_files, [], "class folder"),
    ("truncated-png", _folder(bad={"cat/bad.png": png(99)[:40]}), [], "bad.png"),
    ("random-bytes-png", _folder(bad={"dog/noise.png": bytes(range(256)) * 3}), [], "noise.png"),
    ("empty-jpg", _folder(bad={"cat/zero.jpg": b""}), [], "zero.jpg"),
    ("text-named-png", _folder(bad={"cat/note.png": b"just some text, not an image\n"}), [], "note.png"),
    ("bomb-header", _folder(bad={"dog/bomb.png": big_header_png()}), [], "bomb.png"),
    ("text-model", _folder(), ["--model", "textcnn"], "text models need text data"),
    ("channels-config", _folder(), ["--channels", "2"], "data.channels = 2"),
    ("image-size-small", _folder(), ["--image-size", "4"], "data.image_size = 4"),
    ("val-not-a-folder", _folder(), ["--set", "data.val=train.txt"], "data.val"),
    ("class-names-missing", _folder(), ["--set", "data.class_names=names.json"], "names.json"),
    ("annotations-missing-image", _annotations(GOOD_LINES + "gone.png 1\n"), [], "gone.png"),
    ("annotations-bad-line", _annotations(GOOD_LINES + "one-field-only\n"), [], "train.txt"),
    ("annotations-not-utf8", _annotations(GOOD_LINES.encode() + b"\xff\xfe.png 1\n"), [], "not UTF-8"),
    ("annotations-empty", _annotations(""), [], "train.txt"),
    ("annotations-one-class", _annotations("".join(f"{i}.png 0\n" for i in range(8))), [], "at least"),
    ("annotations-no-images", _annotations(GOOD_LINES, images=False), [], ".png"),
]


def _case(name: str, make, extra: list[str], expect: str) -> Case:
    def build(folder):
        return train(folder, "--data", make(folder), "--model", "lenet", *extra)

    return Case(f"image-{name}", build, expect)


CASES = [
    *(_case(*c) for c in IMAGES),
    Case("image-folder-missing", lambda f: train(f, "--data", f"folder:{f / 'none'}"), "does not exist"),
    Case(
        "image-annotations-missing",
        lambda f: train(f, "--data", f"annotations:{f / 'a.txt'}"),
        "does not exist",
    ),
]
