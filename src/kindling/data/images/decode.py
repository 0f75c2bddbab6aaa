"""Decode once: image files -> one uint8 N,C,H,W tensor, cached on disk.

The cache key is the files' absolute paths, sizes and modification times plus the asked channels and
size, so an edited, added or removed file decodes again and anything else loads in a fraction of the
time. The cache is an uncompressed .npz written atomically and read with `allow_pickle=False`.
Images are converted exactly as `kindling.data.images.load.load_image` converts them at prediction time (the
same function), so a model sees the same pixels in training and in serving.

A data set larger than data.memory_budget_mb is not decoded up front: `LazyImages` decodes each batch
when it is sliced (threads, no cache), the slower fallback for data that does not fit.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from kindling.data.images.common import Listing, warn
from kindling.data.images.load import load_image
from kindling.errors import UserError
from kindling.util.fileio import atomic_write_bytes

CACHE_VERSION = 1
GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


# `photos`, the side a few photos are resized to when kindling also chooses the model, is an argument the
# run passes down (`data.build(cfg, photos=kindling.config.defaults.photo_side(cfg))`): a CNN from scratch
# learns more from a few thousand photos at 80 px than at 224, in a fraction of the time; transfer
# learning (--pretrained) keeps the photos' own size
PHOTO_MAX = 5000  # more photos than this feed a larger model: their own size is kept


def photo_side(n_images: int, cfg, photos: int | None) -> int | None:
    """The side `n_images` photos are resized to (`photos`, the run's choice) when data.image_size is not
    given and there are at most PHOTO_MAX of them, or None (every size as it is)."""
    return photos if photos and cfg.image_size is None and n_images <= PHOTO_MAX else None


class BadImage(Exception):
    """One file that cannot be used; the message names the file (and line) and why."""


def _workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def _one_line(exc: BaseException) -> str:
    """The cause in one line, without the path PIL quotes again (the message names the file already)."""
    text = re.sub(r" ?'(?:/|[A-Za-z]:\\)[^']*'", "", " ".join(str(exc).split()))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def decode_one(path: Path, shape: list[int], origin: str) -> np.ndarray:
    """One file -> uint8 C,H,W, converted and resized as prediction does; BadImage on any failure."""

    try:
        return load_image(str(path), shape, origin)
    except UserError as exc:
        cause = exc.__cause__ or exc
        raise BadImage(f"{origin}: not a readable image ({_one_line(cause)})") from exc
    except Exception as exc:  # PIL raises many types for damaged files (struct.error, IndexError, ...)
        raise BadImage(f"{origin}: not a readable image ({_one_line(exc)})") from exc


def _header(path: Path) -> tuple[tuple[int, int], str]:
    from PIL import Image  # lazy: PIL

    with Image.open(path) as img:
        return img.size, img.mode


def resolve_shape(
    listing: Listing, channels: int | None, size: int | None, photos: int | None = None
) -> tuple[list[int], dict[int, str]]:
    """(C, H, W) to decode to, and {index: reason} for files whose header cannot be read.

    Defaults: 1 channel when every image is grey, else 3; the images' own size when they all share one,
    else 224 (or the median side, when the images are smaller than that); with `photos`, at most that.
    """
    bad: dict[int, str] = {}
    sizes, modes = [], set()
    with ThreadPoolExecutor(_workers()) as pool:
        heads = list(pool.map(_safe_header, listing.paths))
    for i, head in enumerate(heads):
        if isinstance(head, str):
            bad[i] = f"{listing.origins[i]}: not a readable image ({head})"
        else:
            sizes.append(head[0])
            modes.add(head[1])
    if channels is None:
        channels = 1 if modes and modes <= GREY_MODES else 3
    if size is not None:
        return [channels, size, size], bad
    distinct = set(sizes)
    if len(distinct) == 1:
        (w, h) = distinct.pop()
        if not photos or max(w, h) <= photos:
            return [channels, h, w], bad
    sides = sorted(min(w, h) for w, h in sizes) or [224]
    side = int(min(photos or 224, sides[len(sides) // 2]))
    return [channels, side, side], bad


def _safe_header(path: Path):
    try:
        return _header(path)
    except Exception as exc:  # reported per file by the caller
        return _one_line(exc)


# ---------------------------------------------------------------------------------------- the cache


def cache_key(listing: Listing, channels: int | None, size: int | str | None, skip_bad: bool) -> str:
    """A hash of what decides the decoded tensor: files (path, size, mtime) and the asked shape."""
    digest = hashlib.sha256()
    digest.update(json.dumps([CACHE_VERSION, channels, size, skip_bad]).encode())
    for path in listing.paths:
        st = path.stat()
        digest.update(f"\n{path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    return digest.hexdigest()[:40]


def _load_cache(path: Path) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            return npz["x"], npz["keep"], json.loads(str(npz["skipped"]))
    except Exception:  # a damaged or foreign cache file is decoded again, never trusted
        return None


def _save_cache(path: Path, x: np.ndarray, keep: np.ndarray, skipped: list[str]) -> None:
    buf = io.BytesIO()
    np.savez(buf, x=x, keep=keep, skipped=np.array(json.dumps(skipped)))
    try:
        atomic_write_bytes(path, buf.getvalue())
    except (OSError, UserError) as exc:  # a read-only cache folder only costs speed
        warn(f"could not write the decode cache {path} ({_one_line(exc)})")


# ---------------------------------------------------------------------------------------- decoding


def decode_listing(
    listing: Listing, cfg, what: str, photos: int | None = None
) -> tuple[torch.Tensor | LazyImages, list[int]]:
    """Decode every file of `listing` (all splits together) -> (images, kept indices into the listing);
    `photos`: the side a few photos are resized to (`photo_side`), None keeping every size.

    A bad file stops with one line naming it, or with data.skip_bad is left out and counted.
    """
    if not len(listing):
        raise UserError(f"{what}: no image files found")
    cache_dir = Path(cfg.data_dir).expanduser() / "decoded"
    photos = photo_side(len(listing), cfg, photos)
    key = cache_key(listing, cfg.channels, cfg.image_size or (photos and f"photos {photos}"), cfg.skip_bad)
    cached = _load_cache(cache_dir / f"{key}.npz")
    if cached is not None:
        x, keep, skipped = cached
        _report_skipped(skipped, what)
        return torch.from_numpy(x), keep.tolist()
    shape, bad = resolve_shape(listing, cfg.channels, cfg.image_size, photos)
    _check_bad(bad, cfg.skip_bad)
    budget = int(cfg.memory_budget_mb) * 2**20
    n_bytes = len(listing) * int(np.prod(shape))
    if n_bytes > budget:
        warn(
            f"{what}: {n_bytes / 2**20:,.0f} MB of decoded images exceed data.memory_budget_mb={cfg.memory_budget_mb}; "
            "streaming from the files instead (slower; raise the budget or lower --image-size)"
        )
        keep = [i for i in range(len(listing)) if i not in bad]
        return LazyImages([listing.paths[i] for i in keep], [listing.origins[i] for i in keep], shape), keep
    x = np.zeros((len(listing), *shape), dtype=np.uint8)
    todo = [i for i in range(len(listing)) if i not in bad]

    def work(i: int) -> str | None:
        try:
            x[i] = decode_one(listing.paths[i], shape, listing.origins[i])
        except BadImage as exc:
            return str(exc)
        return None

    with ThreadPoolExecutor(_workers()) as pool:
        for i, reason in zip(todo, pool.map(work, todo)):
            if reason is not None:
                bad[i] = reason
    _check_bad(bad, cfg.skip_bad)
    keep = np.array([i for i in range(len(listing)) if i not in bad], dtype=np.int64)
    skipped = [bad[i] for i in sorted(bad)]
    x = x[keep] if len(keep) < len(listing) else x
    _save_cache(cache_dir / f"{key}.npz", x, keep, skipped)
    _report_skipped(skipped, what)
    return torch.from_numpy(x), keep.tolist()


def _check_bad(bad: dict[int, str], skip_bad: bool) -> None:
    if bad and not skip_bad:
        first = bad[min(bad)]
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise UserError(f"{first}{more}; fix or remove it, or pass --skip-bad to leave bad files out")


def _report_skipped(skipped: list[str], what: str) -> None:
    if skipped:
        warn(f"{what}: skipped {len(skipped)} bad file(s) (--skip-bad); first: {skipped[0]}")


class LazyImages:
    """Images decoded when sliced: the streaming fallback for data over the memory budget.

    Slicing returns a uint8 tensor (decoded with a thread pool); `select` returns a smaller LazyImages.
    """

    def __init__(self, paths: list[Path], origins: list[str], shape: list[int]):
        self.paths, self.origins, self.sample_shape = list(paths), list(origins), list(shape)

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def shape(self) -> torch.Size:
        return torch.Size([len(self.paths), *self.sample_shape])

    # the parts of the tensor interface that Split and the trainer use: files stay on the CPU
    device = torch.device("cpu")

    def element_size(self) -> int:
        return 1  # uint8 once decoded

    def nelement(self) -> int:
        return int(np.prod(self.shape))

    def to(self, device) -> LazyImages:
        return self  # decoded batches move to the device in preprocessing

    def select(self, index: torch.Tensor) -> LazyImages:
        idx = index.tolist()
        return LazyImages([self.paths[i] for i in idx], [self.origins[i] for i in idx], self.sample_shape)

    def __getitem__(self, index) -> torch.Tensor:
        if isinstance(index, slice):
            idx = list(range(len(self.paths)))[index]
        else:
            idx = torch.as_tensor(index).view(-1).tolist()
        out = np.zeros((len(idx), *self.sample_shape), dtype=np.uint8)

        def work(k: int) -> None:
            try:
                out[k] = decode_one(self.paths[idx[k]], self.sample_shape, self.origins[idx[k]])
            except BadImage as exc:
                raise UserError(
                    f"{exc}; fix or remove it (files are read while training when they exceed the memory budget)"
                ) from exc

        with ThreadPoolExecutor(_workers()) as pool:
            list(pool.map(work, range(len(idx))))
        return torch.from_numpy(out)
