"""Text that is safe to store and to print: see :mod:`storage.text`, where it lives so that
``digest`` (which never imports ``crawler``) cleans what it renders too."""

from __future__ import annotations

from storage.text import clean_optional, clean_text, escape_controls

__all__ = ["clean_optional", "clean_text", "escape_controls"]
