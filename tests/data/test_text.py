"""Text sources: THUCNews folders, TSV / CSV / JSONL files, tokenisers, vocabulary, padding, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import text_files

from kindling import data as data_mod
from kindling.config.schema import DataConfig
from kindling.data.text import encode_texts
from kindling.data.text.tokenize import auto_pad_size, build_vocab, char_tokens, choose_tokenizer, word_tokens
from kindling.errors import UserError


def build(name: str, **kw):
    return data_mod.build(DataConfig(name=name, **kw))


# ---------------------------------------------------------------- sources


def test_thucnews_folder(tmp_path):
    root = text_files.write_thucnews(tmp_path / "thuc")
    dm = build(f"text:{root}", pad_size=12)
    sig = dm.signature
    assert sig.input_kind == "text" and sig.input_shape == [12]
    assert sig.class_names == text_files.CLASSES_ZH
    assert sig.extras["tokenizer"] == "char"
    assert sig.extras["vocab"][:2] == ["<PAD>", "<UNK>"]
    assert (len(dm.train), len(dm.val), len(dm.test)) == (150, 30, 30)
    assert dm.train.x.dtype.is_floating_point is False and dm.train.x.shape == (150, 12)
    first = (root / "train.txt").read_text(encoding="utf-8").split("\n")[0].split("\t")[0]
    assert int(dm.train.lengths[0]) == min(len(first), 12)
    assert dm.train.names[0].endswith("train.txt:1")
    json.dumps(sig.to_dict())  # the whole signature is JSON: it goes into the Bundle


def test_padding_and_cutting_on_the_right(tmp_path):
    root = text_files.write_thucnews(tmp_path / "thuc")
    dm = build(f"text:{root}", pad_size=10)
    x, lengths = dm.train.x, dm.train.lengths
    for row, n in zip(x.tolist(), lengths.tolist()):
        assert 1 <= n <= 10
        assert all(t != 0 for t in row[:n]) and all(t == 0 for t in row[n:])
    assert int(lengths.max()) == 10  # titles are 6..18 characters: some are cut


def test_vocabulary_comes_from_train_only(tmp_path):
    root = text_files.write_thucnews(tmp_path / "thuc")
    with open(root / "test.txt", "a", encoding="utf-8") as f:
        f.write("鑫鑫鑫\t0\n")  # a character that is nowhere in train
    dm = build(f"text:{root}")
    assert "鑫" not in dm.signature.extras["vocab"]
    assert dm.test.x[-1, :3].tolist() == [1, 1, 1]  # <UNK>


def test_headerless_sms_layout_is_detected(tmp_path, capsys):
    path = text_files.write_sms_tsv(tmp_path / "sms.tsv", 100)
    dm = build(f"text:{path}")
    assert dm.signature.class_names == ["ham", "spam"]
    assert dm.signature.extras["tokenizer"] == "word"
    out = capsys.readouterr().err  # notes go to stderr: stdout stays clean for --json
    assert "label<TAB>text" in out and "tokenizer word" in out
    total = len(dm.train) + len(dm.val) + len(dm.test)
    assert total == 100 and len(dm.test) == 24  # the default 25% test split: round(0.25 * 50) of each class


def test_csv_with_header_and_named_columns(tmp_path):
    path = text_files.write_csv(tmp_path / "sms.csv", 60)
    dm = build(f"text:{path}", text_col="message", label_col="label")
    assert dm.signature.class_names == ["ham", "spam"]
    assert len(dm.train) + len(dm.val) + len(dm.test) == 60
    with pytest.raises(UserError, match="data.text_col"):
        build(f"text:{path}", text_col="body", label_col="label")


def test_jsonl(tmp_path):
    path = text_files.write_jsonl(tmp_path / "sms.jsonl", 60)
    dm = build(f"text:{path}", tokenizer="char")
    assert dm.signature.extras["tokenizer"] == "char"
    assert dm.signature.class_names == ["ham", "spam"]


def test_explicit_split_files_and_class_names_file(tmp_path):
    rows = text_files.en_rows(40)
    names = ["ham", "spam"]
    for part, chunk in (("train", rows[:30]), ("val", rows[30:35]), ("test", rows[35:])):
        lines = [f"{text}\t{names.index(label)}" for text, label in chunk]
        (tmp_path / f"{part}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "classes.json").write_text(json.dumps(names), encoding="utf-8")
    dm = build(
        f"text:{tmp_path / 'train.tsv'}",
        val=str(tmp_path / "val.tsv"),
        test=str(tmp_path / "test.tsv"),
        class_names=str(tmp_path / "classes.json"),
    )
    assert (len(dm.train), len(dm.val), len(dm.test)) == (30, 5, 5)
    assert dm.signature.class_names == names


# ---------------------------------------------------------------- tokenisers, vocabulary, encoding


def test_tokenizers():
    assert word_tokens("Free entry!! Call 0800-123 NOW") == [
        "free",
        "entry",
        "!",
        "!",
        "call",
        "0800",
        "-",
        "123",
        "now",
    ]
    assert char_tokens("  体育 新闻\t\tok ") == ["体", "育", " ", "新", "闻", " ", "o", "k"]
    assert choose_tokenizer("auto", ["今天的体育新闻", "股票市场"])[0] == "char"
    assert choose_tokenizer("auto", ["hello there", "free prize"])[0] == "word"
    with pytest.raises(UserError, match="data.tokenizer"):
        choose_tokenizer("bpe", ["x"])


def test_vocab_min_freq_max_size_and_order():
    tokens = [["b", "a", "a"], ["c", "a", "b"], ["d"]]
    assert build_vocab(tokens, 1, 100) == ["<PAD>", "<UNK>", "a", "b", "c", "d"]
    assert build_vocab(tokens, 2, 100) == ["<PAD>", "<UNK>", "a", "b"]
    assert build_vocab(tokens, 1, 1) == ["<PAD>", "<UNK>", "a"]


def test_auto_pad_size_is_the_95th_percentile_capped():
    assert auto_pad_size([["x"] * n for n in range(1, 101)]) == 96
    assert auto_pad_size([["x"] * 1000] * 3) == 256


def test_encode_texts_for_prediction(tmp_path):
    path = text_files.write_sms_tsv(tmp_path / "sms.tsv", 60)
    sig = build(f"text:{path}", pad_size=8).signature
    ids, lengths = encode_texts(sig, ["Free cash NOW!", "", "zzzz qqqq " * 10])
    assert ids.dtype == np.int64 and ids.shape == (3, 8) and lengths.dtype == np.int64
    vocab = sig.extras["vocab"]
    assert [vocab[i] for i in ids[0, : lengths[0]]] == ["free", "cash", "now", "!"]
    assert lengths[1] == 1 and ids[1, 0] == 1  # an empty text is one <UNK>, not a crash
    assert lengths[2] == 8 and set(ids[2].tolist()) == {1}  # cut to pad_size, all unknown


# ---------------------------------------------------------------- bad input: one clear line


def test_line_without_a_tab(tmp_path):
    root = text_files.write_thucnews(tmp_path / "thuc")
    with open(root / "train.txt", "a", encoding="utf-8") as f:
        f.write("这一行没有标签\n")
    with pytest.raises(UserError, match=r"train.txt:151: no tab"):
        build(f"text:{root}")
    dm = build(f"text:{root}", skip_bad=True)
    assert len(dm.train) == 150


def test_label_id_outside_class_txt(tmp_path):
    root = text_files.write_thucnews(tmp_path / "thuc")
    with open(root / "dev.txt", "a", encoding="utf-8") as f:
        f.write("体育新闻\t7\n")
    with pytest.raises(
        UserError, match=r"dev.txt:31: label '7' is not a class in .*class.txt \(3 classes, ids 0..2\)"
    ):
        build(f"text:{root}")


def test_empty_text(tmp_path):
    root = text_files.write_thucnews(tmp_path / "thuc")
    with open(root / "train.txt", "a", encoding="utf-8") as f:
        f.write("  \t1\n")
    with pytest.raises(UserError, match=r"train.txt:151: the text is empty"):
        build(f"text:{root}")
    assert len(build(f"text:{root}", skip_bad=True).train) == 150


def test_invalid_utf8_names_file_line_and_byte_offset(tmp_path):
    path = tmp_path / "bad.tsv"
    good = b"ham\thello there\n"
    path.write_bytes(good * 3 + b"spam\tfree \xff prize\n")
    offset = len(good) * 3 + len(b"spam\tfree ")
    with pytest.raises(UserError, match=rf"bad.tsv: line 4, byte offset {offset}: invalid utf-8"):
        build(f"text:{path}")


def test_gbk_file_is_recognised(tmp_path):
    root = text_files.write_thucnews(tmp_path / "thuc")
    for name in ("train.txt", "dev.txt", "test.txt", "class.txt"):
        path = root / name
        path.write_bytes(path.read_text(encoding="utf-8").encode("gbk"))
    with pytest.raises(UserError, match="looks GBK-encoded.*data.encoding=gbk"):
        build(f"text:{root}")
    assert build(f"text:{root}", encoding="gbk").signature.class_names == text_files.CLASSES_ZH


def test_missing_source_and_bad_options(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        build(f"text:{tmp_path / 'nope.tsv'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no train.txt"):
        build(f"text:{tmp_path / 'empty'}")
    path = text_files.write_sms_tsv(tmp_path / "sms.tsv", 40)
    with pytest.raises(UserError, match="min_freq"):
        build(f"text:{path}", min_freq=0)
    with pytest.raises(UserError, match="not a known text encoding"):
        build(f"text:{path}", encoding="klingon")


def test_unnamed_header_of_a_two_column_file_is_skipped(tmp_path):
    path = text_files.write_csv(tmp_path / "sms.csv", 60)  # header `label,message`, default column names
    dm = build(f"text:{path}")
    assert dm.signature.class_names == ["ham", "spam"]
    assert len(dm.train) + len(dm.val) + len(dm.test) == 60


def test_fitted_signature_is_reused_for_other_data(tmp_path):
    """Evaluating a model on other files must encode with the model's vocabulary, not a new one."""
    from kindling.data.text import text_source

    trained = build(f"text:{text_files.write_sms_tsv(tmp_path / 'a.tsv', 80, seed=0)}", pad_size=9)
    other = text_files.write_sms_tsv(tmp_path / "b.tsv", 40, seed=1)
    dm = text_source(DataConfig(name=f"text:{other}"), fitted=trained.signature)
    assert dm.signature.extras["vocab"] is trained.signature.extras["vocab"]
    assert dm.train.x.shape[1] == 9 and dm.signature.class_names == trained.signature.class_names
