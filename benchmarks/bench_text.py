"""Text benchmark: kindling's text models against TF-IDF + LinearSVC on SMS spam, and text throughput.

1. SMS Spam Collection (the real one, ../shared/data/sms_spam/; skipped with a note when absent), the
   stratified 25% test split with seed 0 (scikit-learn's `train_test_split(..., stratify=y,
   random_state=0)`, the split on which the issue quotes 0.981 for the SVM). kindling gets the two
   files as explicit splits (data.train / data.test) and carves its val split from the train file;
   the SVM is fitted on the whole train file. Models: recipes/sms-spam.yaml (bow of char 1-4-grams)
   unchanged, then textcnn and textrnn with word tokens.
2. Train samples/s of textrnn and textcnn (the issue's sizes) at batch 128, pad 32, vocab 5,000,
   10 classes: a forward + backward + Adam step, against the hand-written TextRNN of the classic
   THUCNews code (unpacked LSTM, last time step) as the side-by-side reference.
3. Latency of one text through a trained Bundle: encode_texts + forward, median of 50.

    python benchmarks/bench_text.py            # full
    python benchmarks/bench_text.py --quick    # fewer epochs and steps, to check that it runs
"""

from __future__ import annotations

import contextlib
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SMS = ROOT.parent / "shared" / "data" / "sms_spam" / "smsspamcollection" / "SMSSpamCollection"
sys.path.insert(0, str(Path(__file__).resolve().parent))


@contextlib.contextmanager
def _quiet():
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def _write_split(tmp: Path) -> tuple[Path, Path, list[str], list[str], list[str], list[str]]:
    from sklearn.model_selection import train_test_split

    lines = [ln for ln in SMS.read_text(encoding="utf-8").split("\n") if ln.strip()]
    labels = [ln.split("\t", 1)[0] for ln in lines]
    tr, te = train_test_split(np.arange(len(lines)), test_size=0.25, stratify=labels, random_state=0)
    train, test = tmp / "sms_train.tsv", tmp / "sms_test.tsv"
    train.write_text("".join(lines[i] + "\n" for i in tr), encoding="utf-8")
    test.write_text("".join(lines[i] + "\n" for i in te), encoding="utf-8")
    text = [ln.split("\t", 1)[1] for ln in lines]
    return (
        train,
        test,
        [text[i] for i in tr],
        [labels[i] for i in tr],
        [text[i] for i in te],
        [labels[i] for i in te],
    )


def _svm(x_train, y_train, x_test, y_test) -> tuple[float, float]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    t0 = time.perf_counter()
    vec = TfidfVectorizer()
    clf = LinearSVC().fit(vec.fit_transform(x_train), y_train)
    acc = float((clf.predict(vec.transform(x_test)) == np.asarray(y_test)).mean())
    return acc, time.perf_counter() - t0


def _kindling(recipe: Path | None, flags: dict, sets: list[str], run_dir: Path) -> tuple[float, float, int]:
    """Train in-process; (test accuracy, seconds, epochs run)."""
    from kindling.config.load import load_config
    from kindling.evaluate.evaluation import evaluate
    from kindling.runner import train

    cfg = load_config(recipe, {"run_dir": str(run_dir), **flags}, sets)
    t0 = time.perf_counter()
    with _quiet():
        train(cfg, overwrite=True)
        seconds = time.perf_counter() - t0
        result = evaluate(run_dir)
    epochs = len((run_dir / "metrics.jsonl").read_text().splitlines())
    return result["accuracy"], seconds, epochs


def _latency(run_dir: Path, repeats: int = 50) -> float:
    """Median ms for one raw text -> probabilities through the Bundle (tokenise, encode, forward)."""
    import torch

    from kindling.bundle.files import load_bundle
    from kindling.data.text import encode_texts

    bundle = load_bundle(run_dir)
    text = "WINNER!! You have been selected to receive a £900 prize reward! Call 09061701461 now."
    times = []
    with torch.no_grad():
        for _ in range(repeats + 5):
            t0 = time.perf_counter()
            ids, lengths = encode_texts(bundle.signature, [text])
            torch.softmax(bundle.model(torch.from_numpy(ids), torch.from_numpy(lengths)), dim=1)
            times.append(time.perf_counter() - t0)
    return statistics.median(times[5:]) * 1000


def accuracy_section(quick: bool) -> str:
    from common import table

    if not SMS.is_file():
        return f"### SMS spam\n\nSkipped: {SMS} is absent (the benchmark never downloads data).\n"
    rows, latencies = [], []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        train_file, test_file, x_tr, y_tr, x_te, y_te = _write_split(tmp)
        svm_acc, svm_s = _svm(x_tr, y_tr, x_te, y_te)
        rows.append(
            ["TF-IDF (words) + LinearSVC, scikit-learn defaults", f"{svm_acc:.4f}", f"{svm_s:.1f}", "-", "-"]
        )
        data = {"data.name": f"text:{train_file}", "data.test": str(test_file)}
        runs = [
            ("bow: recipes/sms-spam.yaml (char 1-4-grams)", ROOT / "recipes" / "sms-spam.yaml", {}, []),
            (
                "textcnn, word tokens, Adam 1e-3",
                None,
                {
                    "model.name": "textcnn",
                    "train.epochs": 2 if quick else 5,
                    "optim.name": "adam",
                    "train.monitor": "val_acc",
                },
                [],
            ),
            (
                "textrnn, word tokens, Adam 1e-3",
                None,
                {
                    "model.name": "textrnn",
                    "train.epochs": 2 if quick else 5,
                    "optim.name": "adam",
                    "train.monitor": "val_acc",
                },
                [],
            ),
        ]
        for label, recipe, flags, sets in runs:
            if quick and recipe is not None:
                sets = [*sets, "train.epochs=3"]
            run_dir = tmp / label.split(":")[0].split(",")[0]
            acc, seconds, epochs = _kindling(recipe, {**data, **flags}, sets, run_dir)
            ms = _latency(run_dir)
            latencies.append((label.split(":")[0].split(",")[0], ms))
            rows.append([f"kindling {label}", f"{acc:.4f}", f"{seconds:.1f}", str(epochs), f"{ms:.2f}"])
    best = max(float(r[1]) for r in rows[1:])
    verdict = "meets" if best >= 0.985 else "misses"
    return (
        "### SMS spam: accuracy on the stratified 25% test split (seed 0)\n\n"
        f"{len(y_tr)} train / {len(y_te)} test messages. kindling carves 10% of the train file for validation "
        "(best epoch by the monitor: val_loss for the recipe, val_acc for the others) and trains on the rest; the SVM fits the whole train file. Training seconds "
        "include kindling's per-epoch checkpoint and Bundle writes. Latency: one raw text through the "
        "trained Bundle (tokenise + encode + forward), median of 50, CPU.\n\n"
        + table(["model", "test accuracy", "train s", "epochs", "1-text latency ms"], rows)
        + f"\n\nBest kindling model: {best:.4f} ({verdict} the 0.985 goal; the SVM scores {svm_acc:.4f}).\n"
    )


def _step_rate(model, x, y, lengths, steps: int, takes_lengths: bool) -> float:
    """Train samples/s: forward + backward + Adam step at this batch, median over `steps` steps."""
    import torch

    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    times = []
    for i in range(steps + 2):
        t0 = time.perf_counter()
        out = model(x, lengths) if takes_lengths else model(x)
        torch.nn.functional.cross_entropy(out, y).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if i >= 2:  # warm-up steps excluded
            times.append(time.perf_counter() - t0)
    return x.shape[0] / statistics.median(times)


class ReferenceTextRNN:
    """The classic THUCNews TextRNN as written there: unpacked LSTM over the padding, out[:, -1, :]."""

    @staticmethod
    def build(vocab: int, classes: int):
        import torch
        from torch import nn

        class Model(nn.Module):
            def __init__(self):
                super().__init__()
                self.embedding = nn.Embedding(vocab, 300, padding_idx=vocab - 1)
                self.lstm = nn.LSTM(300, 128, 2, bidirectional=True, batch_first=True, dropout=0.5)
                self.fc = nn.Linear(256, classes)

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                out, _ = self.lstm(self.embedding(x))
                return self.fc(out[:, -1, :])

        return Model()


def throughput_section(quick: bool) -> str:
    import torch
    from common import table

    from kindling import models
    from kindling.data.signature import Signature

    vocab, classes, batch, pad = 5000, 10, 128, 32
    sig = Signature(
        "classification",
        "text",
        [pad],
        [str(i) for i in range(classes)],
        extras={
            "vocab": ["<PAD>", "<UNK>"] + [f"t{i}" for i in range(vocab - 2)],
            "tokenizer": "char",
            "pad_size": pad,
        },
    )
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(12, pad + 1, (batch,), generator=g)
    x = torch.randint(2, vocab, (batch, pad), generator=g)
    x[torch.arange(pad).unsqueeze(0) >= lengths.unsqueeze(1)] = 0
    y = torch.randint(0, classes, (batch,), generator=g)
    steps = 5 if quick else 20
    rows = []
    for threads in (1, torch.get_num_threads()) if torch.get_num_threads() > 1 else (1,):
        torch.set_num_threads(threads)
        for name in ("textrnn", "textcnn", "bow"):
            torch.manual_seed(0)
            rate = _step_rate(models.build(name, sig, {}), x, y, lengths, steps, True)
            rows.append([f"kindling {name}", threads, f"{rate:,.0f}"])
        torch.manual_seed(0)
        rate = _step_rate(ReferenceTextRNN.build(vocab, classes), x, y, None, steps, False)
        rows.append(["hand-written TextRNN (no packing, THUCNews code)", threads, f"{rate:,.0f}"])
    return (
        f"### Text training throughput (batch {batch}, pad {pad}, vocab {vocab:,}, {classes} classes)\n\n"
        f"Train samples/s for one forward + backward + Adam step, median of {steps} steps after 2 warm-up "
        "steps; lengths uniform in 12..32. textrnn is the THUCNews configuration (embedding 300, bi-LSTM "
        "128 x 2) over packed sequences; the hand-written reference runs the LSTM over the padding too.\n\n"
        + table(["model", "threads", "train samples/s"], rows)
        + "\n"
    )


def main(quick: bool = False) -> str:
    import torch

    threads = torch.get_num_threads()
    try:
        parts = [accuracy_section(quick), throughput_section(quick)]
    finally:
        torch.set_num_threads(threads)
    section = "## Text (issue 6)\n\n" + "\n".join(parts)
    print(section)
    return section


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
