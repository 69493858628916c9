"""Where an uploaded list waits between the import preview and its confirmation
(django-import-export's IMPORT_EXPORT_TMP_STORAGE_CLASS): written chunk by chunk in linear time,
named by a random token (the only name the confirm form may send back), and refused when too
large to be read back into memory."""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.utils.translation import gettext
from import_export.tmp_storages import BaseStorage

from campaigns.services.tabular_guards import ImportFileError, check_in_memory

#: Names this storage gives (hex tokens); anything else sent back by a form is not ours.
_NAME = re.compile(r"[A-Za-z0-9_]{6,64}")


def upload_dir() -> Path:
    path = Path(tempfile.gettempdir()) / "itnio-portal-imports"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


class UploadTempStorage(BaseStorage):
    """A file per upload in the system's temporary folder (a folder of its own, mode 700)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self.name is not None and not _NAME.fullmatch(str(self.name)):
            raise ImportFileError(
                gettext("This preview is not one the import page stored: upload the file again.")
            )

    def _path(self) -> Path:
        if not self.name:
            self.name = secrets.token_hex(16)
        return upload_dir() / os.path.basename(self.name)

    def save_chunks(self, chunks: Iterable[bytes]) -> None:
        """Write the upload as it arrives: one write per chunk, never the whole file at once
        (django-import-export joins the chunks with `data += chunk`, quadratic in the size)."""
        with open(self._path(), "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)

    def save(self, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode(self.encoding or "utf-8")
        self.save_chunks([data])

    def read(self) -> bytes | str:
        path = self._path()
        check_in_memory(path.stat().st_size)
        if "b" in self.read_mode:
            return path.read_bytes()
        return path.read_text(encoding=self.encoding or "utf-8")

    def remove(self) -> None:
        self._path().unlink(missing_ok=True)
