"""The command line's signing options: key files, or the ``TASKGEN_SIGNING_*`` environment.

The runtime is imported inside ``signing_options``, so ``taskgen --help`` stays instant.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from taskgen.runtime.signing import Signing

SigningKeyFile = Annotated[
    str | None,
    typer.Option(
        help="A file holding the signing key: check every task's signature before decoding it, "
        "sign outcomes (default: the TASKGEN_SIGNING_KEY environment variable, if set).",
    ),
]
OldSigningKeyFiles = Annotated[
    list[str] | None,
    typer.Option(
        "--old-signing-key-file",
        help="A file holding an older key still accepted (rotation); repeat for more.",
    ),
]
AllowUnsigned = Annotated[
    bool,
    typer.Option(
        "--allow-unsigned",
        help="Also accept unsigned tasks (signed ones are still checked): for the rollout only.",
    ),
]


def signing_options(
    key_file: str | None, old_key_files: list[str] | None, allow_unsigned: bool
) -> Signing | None:
    """The signing the options (or, without ``key_file``, the environment) ask for; None if
    neither names a key. ``ValueError`` with a one-line reason if they cannot be used."""
    from taskgen.runtime.signing import KEY_VAR, Signing

    if key_file is not None:
        return Signing.from_files(key_file, old_key_files or (), allow_unsigned=allow_unsigned)
    if os.environ.get(KEY_VAR, "").strip():
        signing = Signing.from_env()
        signing.allow_unsigned = signing.allow_unsigned or allow_unsigned
        if old_key_files:
            raise ValueError(
                "--old-signing-key-file needs --signing-key-file (the key in "
                f"{KEY_VAR} takes its old keys from TASKGEN_SIGNING_OLD_KEYS)"
            )
        return signing
    if old_key_files or allow_unsigned:
        raise ValueError(
            "--old-signing-key-file and --allow-unsigned need a signing key: give "
            f"--signing-key-file or set {KEY_VAR}"
        )
    return None
