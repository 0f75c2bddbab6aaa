"""Bad text data: files that cannot train a text classifier (empty, one class, broken lines, undecodable,
wrong columns or keys), THUCNews folders with parts missing, and text handed to other models."""

from __future__ import annotations

import json

from badinput.harness import Case
from badinput.trainargs import train, write

TSV = "".join(
    f"{'pos' if i % 2 else 'neg'}\t{'good great' if i % 2 else 'bad awful'} film {i}\n" for i in range(40)
)
ONE_CLASS = "".join(f"pos\tgood film number {i}\n" for i in range(40))
CSV = "text,label\n" + "".join(f"{'good' if i % 2 else 'bad'} film {i},{i % 2}\n" for i in range(40))
JSONL = "".join(json.dumps({"text": f"film {i}", "label": i % 2}) + "\n" for i in range(40))
THUC = "".join(f"title number {i}\t{i % 2}\n" for i in range(40))

# (name, {file: content}, spec (relative to the folder), extra args, fragment)
TEXTS = [
    ("empty-file", {"t.txt": ""}, "t.txt", [], "t.txt"),
    ("blank-lines", {"t.txt": "\n\n   \n"}, "t.txt", [], "t.txt"),
    ("one-class-tsv", {"t.txt": ONE_CLASS}, "t.txt", [], "single class ('pos')"),
    (
        "one-class-csv",
        {"t.csv": "text,label\n" + "".join(f"film {i},1\n" for i in range(40))},
        "t.csv",
        [],
        "single class",
    ),
    (
        "one-class-jsonl",
        {"t.jsonl": "".join(json.dumps({"text": f"f {i}", "label": "a"}) + "\n" for i in range(40))},
        "t.jsonl",
        [],
        "single class",
    ),
    ("no-tab", {"t.txt": TSV + "a line without any tab\n"}, "t.txt", [], "no tab"),
    ("not-utf8", {"t.txt": TSV.encode() + b"pos\t\xff\xfe bad bytes\n"}, "t.txt", [], "invalid utf-8"),
    ("random-bytes", {"t.txt": bytes(range(256)) * 4}, "t.txt", [], "t.txt"),
    ("unknown-encoding", {"t.txt": TSV}, "t.txt", ["--encoding", "klingon"], "klingon"),
    ("csv-no-text-column", {"t.csv": CSV}, "t.csv", ["--text-col", "body"], "body"),
    ("csv-short-row", {"t.csv": CSV + "only-one-field\n"}, "t.csv", [], "t.csv"),
    ("csv-bad-quoting", {"t.csv": CSV + '"unclosed, 1\n' + "x" * 10}, "t.csv", [], "t.csv"),
    ("jsonl-invalid", {"t.jsonl": JSONL + "{not json}\n"}, "t.jsonl", [], "invalid JSON"),
    ("jsonl-a-list", {"t.jsonl": JSONL + "[1, 2]\n"}, "t.jsonl", [], "expected a JSON object"),
    (
        "jsonl-missing-key",
        {"t.jsonl": JSONL + json.dumps({"body": "x", "label": 1}) + "\n"},
        "t.jsonl",
        [],
        "no key 'text'",
    ),
    ("thucnews-no-train", {"d/dev.txt": THUC, "d/test.txt": THUC}, "d", [], "train.txt"),
    (
        "thucnews-empty-class-file",
        {"d/train.txt": THUC, "d/dev.txt": THUC, "d/test.txt": THUC, "d/class.txt": ""},
        "d",
        [],
        "names no classes",
    ),
    (
        "thucnews-one-class-file",
        {
            "d/train.txt": THUC.replace("\t1\n", "\t0\n"),
            "d/dev.txt": THUC.replace("\t1\n", "\t0\n"),
            "d/test.txt": THUC.replace("\t1\n", "\t0\n"),
            "d/class.txt": "sports\n",
        },
        "d",
        [],
        "single class",
    ),
    (
        "thucnews-label-out-of-range",
        {"d/train.txt": THUC + "x\t7\n", "d/dev.txt": THUC, "d/test.txt": THUC, "d/class.txt": "a\nb\n"},
        "d",
        [],
        "'7'",
    ),
    (
        "thucnews-duplicate-class",
        {"d/train.txt": THUC, "d/dev.txt": THUC, "d/test.txt": THUC, "d/class.txt": "a\na\n"},
        "d",
        [],
        "appears twice",
    ),
    ("image-model", {"t.txt": TSV}, "t.txt", ["--model", "lenet"], "needs images"),
    ("table-model", {"t.txt": TSV}, "t.txt", ["--model", "mlp"], "use a text model"),
    ("linear-model", {"t.txt": TSV}, "t.txt", ["--model", "linear"], "use a text model"),
    (
        "all-in-test",
        {"t.txt": TSV},
        "t.txt",
        ["--set", "data.test_fraction=0.99", "--set", "data.val_fraction=0.99"],
        "no training rows",
    ),
]


def _case(name: str, files: dict, spec: str, extra: list[str], expect: str) -> Case:
    def build(folder):
        for file, content in files.items():
            write(folder / file, content)
        return train(folder, "--data", f"text:{folder / spec}", "--model", "textcnn", *extra)

    return Case(f"text-{name}", build, expect)


CASES = [
    *(_case(*c) for c in TEXTS),
    Case(
        "text-missing-file",
        lambda f: train(f, "--data", f"text:{f / 'none.txt'}", "--model", "textcnn"),
        "none.txt",
    ),
    Case("text-no-path", lambda f: train(f, "--data", "text:", "--model", "textcnn"), "text:"),
]
