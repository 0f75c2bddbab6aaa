"""Why the text default trails its SVM on two corpora: the loss, not the training (issue 26).

The text default is a softmax (cross-entropy) linear model over n-grams. On the same four corpora, split
and features as bench_text_defaults' baseline (kindling's text source, split_seed 0; TF-IDF 1-2-grams over
the run's own tokens, sublinear term frequencies, fitted on train), this fits both convex models to
convergence with scikit-learn at each regularisation strength C, and scores each on the validation and
test splits:

- the baseline's own model, LinearSVC (one-vs-rest squared hinge);
- multinomial logistic regression (the softmax loss the network trains), lbfgs to convergence.

If no C lets logistic regression reach the SVM on a corpus, then no schedule, epoch count or weight decay
of a softmax model will: the gap is the loss. No seeds: both solvers are deterministic here.

    python benchmarks/bench_text_losses.py
"""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

SVM_C = (0.1, 0.3, 1.0, 3.0)
LOGISTIC_C = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)


def _features(path: Path):
    """(train, val, test) TF-IDF matrices and labels: the baseline's own features for this corpus."""
    from kindling import data as data_mod
    from kindling.config.schema import DataConfig
    from kindling.evaluate.baseline import _text_features

    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        data = data_mod.build(DataConfig(name=f"text:{path}"))
    parts = [data.train, data.val, data.test]
    return _text_features(parts, data.signature, 2_000_000), [p.y.numpy() for p in parts]


def _scores(make, cs, xs, ys) -> list[tuple[float, float, float]]:
    """(C, val accuracy, test accuracy) for each C."""
    out = []
    for c in cs:
        model = make(c).fit(xs[0], ys[0])
        out.append((c, *(float((model.predict(xs[i]) == ys[i]).mean()) for i in (1, 2))))
    return out


def main(quick: bool = False) -> str:
    from bench_text_defaults import corpora
    from common import table
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    losses = {
        "squared hinge (LinearSVC, the baseline)": (lambda c: LinearSVC(C=c, random_state=0), SVM_C),
        "softmax (logistic regression)": (lambda c: LogisticRegression(C=c, max_iter=5000), LOGISTIC_C),
    }
    rows, notes, reach = [], [], {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        every = corpora(tmp)
        for corpus, path in every[2:3] if quick else every:
            if path is None:
                notes.append(f"{corpus}: skipped, the data is absent (the benchmark never downloads data).")
                continue
            xs, ys = _features(path)
            best = {}
            for loss, (make, cs) in losses.items():
                scores = _scores(make, cs, xs, ys)
                chosen = max(scores, key=lambda s: s[1])  # the first C of a tie on val
                oracle = max(te for _, _, te in scores)
                rows.append(
                    [
                        corpus,
                        loss,
                        ", ".join(f"{c:g}: {te:.4f} ({va:.4f})" for c, va, te in scores),
                        f"{chosen[2]:.4f} (C={chosen[0]:g})",
                        f"{oracle:.4f}",
                    ]
                )
                best[loss] = (chosen[2], oracle)
            svm, softmax = best.values()
            reach[corpus] = softmax[1] >= svm[0]  # at its best C, even one chosen on test
    section = (
        "## Text: the loss behind the default's gap to its SVM (issue 26)\n\n"
        "Both convex models fitted to convergence by scikit-learn on the baseline's own features and split "
        "(`benchmarks/bench_text_losses.py`: TF-IDF 1-2-grams of kindling's tokens, sublinear tf; split_seed 0). "
        "Test accuracy at each C, validation accuracy in parentheses; then the test accuracy at the C "
        "chosen on validation, and the best test accuracy over all C (an oracle, for scale).\n\n"
        + table(["corpus", "loss", "test (val) at each C", "C chosen on val", "best C on test"], rows)
        + "\n\nSoftmax at its best C (chosen on test, so an upper bound) reaches the SVM chosen on val on: "
        + (", ".join(c for c, ok in reach.items() if ok) or "none")
        + ". On "
        + (", ".join(c for c, ok in reach.items() if not ok) or "none")
        + " no C lets it, so no training schedule of a softmax model would either."
        + ("\n\n" + "\n".join(notes) if notes else "")
        + "\n"
    )
    print(section)
    return section


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
