"""Small labelled text files in real on-disk layouts, written by the tests themselves (never downloaded)."""

from __future__ import annotations

import json
import random
from pathlib import Path

CLASSES_ZH = ["体育", "财经", "科技"]
_TOPIC_ZH = ["比赛球队冠军进球联赛教练球员", "股票市场银行基金投资经济利率", "手机电脑芯片网络软件数据智能"]
_COMMON_ZH = "的了在是和有新年月日中国"
_TOPIC_EN = {
    "ham": "see you later home dinner tonight love call mum ok",
    "spam": "free win prize cash claim now txt urgent",
}


def zh_title(label: int, rng: random.Random) -> str:
    n = rng.randint(6, 18)
    return "".join(
        rng.choice(_TOPIC_ZH[label]) if rng.random() < 0.6 else rng.choice(_COMMON_ZH) for _ in range(n)
    )


def en_text(label: str, rng: random.Random) -> str:
    words = _TOPIC_EN[label].split() + "the a to and you i is it".split()
    return " ".join(rng.choice(words) for _ in range(rng.randint(3, 12))).capitalize() + rng.choice(
        [".", "!", "?"]
    )


def write_thucnews(root: Path, sizes: tuple[int, int, int] = (150, 30, 30), seed: int = 0) -> Path:
    """THUCNews layout: train.txt dev.txt test.txt (`title<TAB>label_id`) and class.txt (one name a line)."""
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    for name, n in zip(("train", "dev", "test"), sizes):
        lines = []
        for i in range(n):
            label = i % len(CLASSES_ZH)
            lines.append(f"{zh_title(label, rng)}\t{label}\n")
        (root / f"{name}.txt").write_text("".join(lines), encoding="utf-8")
    (root / "class.txt").write_text("\n".join(CLASSES_ZH) + "\n", encoding="utf-8")
    return root


def en_rows(n: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [(en_text(label, rng), label) for label in (["ham", "spam"] * n)[:n]]


def write_sms_tsv(path: Path, n: int = 120, seed: int = 0) -> Path:
    """Headerless `label<TAB>text`, as in the SMS Spam Collection."""
    path.write_text("".join(f"{label}\t{text}\n" for text, label in en_rows(n, seed)), encoding="utf-8")
    return path


def write_csv(path: Path, n: int = 120, seed: int = 0) -> Path:
    """A CSV with a header `label,message`; texts are quoted (they hold commas)."""
    lines = ["label,message"] + [
        f'{label},"{text.replace(".", ", ok.")}"' for text, label in en_rows(n, seed)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_jsonl(path: Path, n: int = 120, seed: int = 0) -> Path:
    rows = [{"text": text, "label": label} for text, label in en_rows(n, seed)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_seed_vocab_and_vectors(
    train_file: Path, folder: Path, dim: int = 8, leave_out: str = "", extra: str = "", seed: int = 0
) -> tuple[Path, Path]:
    """The seed TextRNN lesson's pair, in its exact formats: `vocab.pkl` (pkl.dump of a dict token -> id,
    tokens by falling frequency, then `<UNK>` and `<PAD>`) and `embedding_<name>.npz`
    (np.savez_compressed(f, embeddings=...), one row per id). Characters in `leave_out` are not in the
    vocabulary (they read as <UNK>); `extra` adds characters the data never uses."""
    import pickle
    from collections import Counter

    import numpy as np

    counts = Counter(
        ch for line in train_file.read_text(encoding="utf-8").splitlines() for ch in line.split("\t")[0]
    )
    tokens = [t for t, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if t not in leave_out]
    vocab_dic = {tok: idx for idx, tok in enumerate(tokens + list(extra))}
    vocab_dic.update({"<UNK>": len(vocab_dic), "<PAD>": len(vocab_dic) + 1})
    folder.mkdir(parents=True, exist_ok=True)
    vocab = folder / "vocab.pkl"
    with open(vocab, "wb") as f:
        pickle.dump(vocab_dic, f)
    embeddings = np.random.default_rng(seed).random((len(vocab_dic), dim))
    vectors = folder / "embedding_Test.npz"
    np.savez_compressed(vectors, embeddings=embeddings)
    return vocab, vectors
