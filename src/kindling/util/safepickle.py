"""Read a pickle that holds plain data only (dict, list, tuple, str, int, float, bool, None).

Why this exists: users hand over pickles written by other code, e.g. the `vocab.pkl` of the seed's
TextRNN lesson (`pkl.dump(vocab_dic, f)`, a dict token -> id). The standard loader runs whatever a
pickle names (`__reduce__` -> `os.system(...)`), so nothing a user hands over is ever given to it.
Here a pickle is first read opcode by opcode without being run (`pickletools.genops`); any opcode
outside the plain-data set (GLOBAL, STACK_GLOBAL, REDUCE, BUILD, INST, OBJ, NEWOBJ, persistent ids,
sets, bytes ...) refuses the file before anything is built. Only then is it loaded, by an unpickler whose
`find_class` and `persistent_load` refuse everything as a second wall.
"""

from __future__ import annotations

import io
import pickle
import pickletools
from pathlib import Path
from typing import Any, BinaryIO

from kindling.errors import UserError

# opcodes that build plain data (and the stack/memo/framing machinery around them); nothing else runs
PLAIN_OPCODES = frozenset(
    """PROTO FRAME STOP MARK POP POP_MARK DUP
    NONE NEWTRUE NEWFALSE INT BININT BININT1 BININT2 LONG LONG1 LONG4 FLOAT BINFLOAT
    STRING BINSTRING SHORT_BINSTRING UNICODE BINUNICODE SHORT_BINUNICODE BINUNICODE8
    EMPTY_LIST APPEND APPENDS LIST EMPTY_TUPLE TUPLE TUPLE1 TUPLE2 TUPLE3
    EMPTY_DICT DICT SETITEM SETITEMS
    PUT BINPUT LONG_BINPUT GET BINGET LONG_BINGET MEMOIZE""".split()
)
PLAIN = "a plain dict/list/tuple of str, int, float, bool and None"


class _RefusingUnpickler(pickle.Unpickler):
    """Refuses every class or function lookup and every persistent id (the second wall)."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"it names the Python object {module}.{name}")

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("it holds a persistent id")


def _refusal(op: pickletools.OpcodeInfo, arg: Any, last: list[str]) -> str:
    if op.name in ("GLOBAL", "INST"):
        return f"it names the Python object {str(arg).replace(' ', '.')}"
    if op.name == "STACK_GLOBAL" and len(last) == 2:  # module and name were the two strings just pushed
        return f"it names the Python object {last[0]}.{last[1]}"
    if op.name in ("STACK_GLOBAL", "REDUCE", "BUILD", "OBJ", "NEWOBJ", "NEWOBJ_EX", "EXT1", "EXT2", "EXT4"):
        return f"it builds a Python object ({op.name})"
    if op.name in ("PERSID", "BINPERSID"):
        return "it holds a persistent id"
    return f"it holds something other than plain data ({op.name})"


def loads(data: bytes, where: str) -> Any:
    """The plain data in `data`; UserError (one line naming `where`) for anything else, before it is built."""
    return _read(io.BytesIO(data), where)


def _read(stream: BinaryIO, where: str) -> Any:
    """`loads` on a seekable stream, read as it goes: a damaged file costs the bytes up to the damage."""
    last: list[str] = []  # the strings pushed last, for naming what a STACK_GLOBAL would look up
    try:
        for op, arg, _pos in pickletools.genops(stream):
            if op.name not in PLAIN_OPCODES:
                why = _refusal(op, arg, last)
                raise UserError(f"{where}: refused to unpickle: {why}; only {PLAIN} is read")
            if isinstance(arg, str) and "UNICODE" in op.name:
                last = [*last[-1:], arg]
            elif op.name not in ("MEMOIZE", "FRAME", "PUT", "BINPUT", "LONG_BINPUT"):
                last = []
    except UserError:
        raise
    except Exception as exc:  # pickletools raises ValueError and friends on a damaged stream
        raise UserError(f"{where} is not a readable pickle ({exc}); give {PLAIN}") from exc
    stream.seek(0)
    try:
        return _RefusingUnpickler(stream).load()
    except Exception as exc:
        raise UserError(f"{where}: refused to unpickle: {exc}; only {PLAIN} is read") from exc


def load(path: str | Path) -> Any:
    """The plain data in the pickle file `path` (see `loads`)."""
    path = Path(path).expanduser()
    try:
        with open(path, "rb") as f:
            return _read(f, str(path))
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from exc
