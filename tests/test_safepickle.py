"""The plain-data unpickler: plain data in every protocol is read; anything that would build an object
(and so could run code) is refused, in one line, before it is built."""

from __future__ import annotations

import pickle

import pytest

from kindling.errors import UserError
from kindling.util import safepickle

PLAIN = {"体": 0, "a": 1, "<UNK>": 2, "<PAD>": 3, "nested": [1, 2.5, (True, None, "x"), {"k": -(2**70)}]}


class _RunsCode:
    """Loading this with the standard unpickler would call os.system and write the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return (os.system, (f"echo ran > {self.marker}",))


class _Custom:
    def __init__(self):
        self.vocab = {"a": 0}


class _Persistent(pickle.Pickler):
    def persistent_id(self, obj):
        return "ext" if obj == "outside" else None


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_plain_data_is_read_in_every_protocol(protocol):
    assert safepickle.loads(pickle.dumps(PLAIN, protocol=protocol), "p") == PLAIN


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(protocol, tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "vocab.pkl"
    path.write_bytes(pickle.dumps({"a": _RunsCode(marker)}, protocol=protocol))
    with pytest.raises(UserError) as info:
        safepickle.load(path)
    message = str(info.value)
    assert "\n" not in message and "refused to unpickle" in message and str(path) in message
    assert not marker.exists()


@pytest.mark.parametrize(
    "obj, said",
    [
        ({"a", "b"}, ""),  # protocol 4+: EMPTY_SET; older protocols name the set type
        (frozenset({1}), ""),
        (b"bytes", ""),
        (_Custom(), "object"),
        (range(3), "object"),
    ],
)
def test_anything_but_plain_data_is_refused(obj, said):
    for protocol in (2, pickle.DEFAULT_PROTOCOL, pickle.HIGHEST_PROTOCOL):
        with pytest.raises(UserError, match="refused to unpickle") as info:
            safepickle.loads(pickle.dumps(obj, protocol=protocol), "x.pkl")
        assert said in str(info.value)


def test_a_set_in_protocol_2_is_refused_at_its_name():
    with pytest.raises(UserError, match=r"names the Python object (__builtin__|builtins)\.set"):
        safepickle.loads(pickle.dumps({"a"}, protocol=2), "x.pkl")
    with pytest.raises(UserError, match=r"plain data \(EMPTY_SET\)"):
        safepickle.loads(pickle.dumps({"a"}, protocol=4), "x.pkl")


def test_persistent_ids_are_refused():
    import io

    buf = io.BytesIO()
    _Persistent(buf, protocol=2).dump(["outside"])
    with pytest.raises(UserError, match="persistent id"):
        safepickle.loads(buf.getvalue(), "x.pkl")


def test_the_refusing_unpickler_is_a_second_wall():
    """Even handed a stream directly, its find_class names the object and builds nothing."""
    import io

    with pytest.raises(pickle.UnpicklingError, match="os.system|posix.system|nt.system"):
        safepickle._RefusingUnpickler(io.BytesIO(pickle.dumps(_RunsCode("/nonexistent/m")))).load()


@pytest.mark.parametrize("data", [b"", b"not a pickle at all", pickle.dumps(PLAIN)[:-5]])
def test_damaged_or_empty_files_are_refused_in_one_line(data, tmp_path):
    path = tmp_path / "v.pkl"
    path.write_bytes(data)
    with pytest.raises(UserError) as info:
        safepickle.load(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_an_unreadable_path_is_one_line(tmp_path):
    with pytest.raises(UserError, match="cannot read"):
        safepickle.load(tmp_path / "absent.pkl")
