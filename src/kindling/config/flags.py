"""`kindling train`'s flags as Python keywords, for `kindling.fit(**keywords)` (kindling.api): the flag
names come from the config dataclasses (kindling.config.schema.setting), as the command's parser does."""

from __future__ import annotations


def flag_keys() -> dict[str, str]:
    """`train`'s flags as Python keywords -> their config keys (`batch_size` -> data.batch_size):
    what `kindling.fit(**keywords)` accepts beside the field names."""
    from kindling.config.schema import cli_flags  # lazy: yaml

    return {f.flag[2:].replace("-", "_"): f.key for f in cli_flags()}
