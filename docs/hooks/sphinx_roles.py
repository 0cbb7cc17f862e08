"""MkDocs hook: show the Sphinx cross-reference roles of the numpydoc docstrings as code.

The docstrings use Sphinx roles (``:func:`train```, ``:class:`~anyarray_nn.data.BatchIterator```);
mkdocstrings renders them as the role name followed by inline code.  This hook removes the
role name and, as Sphinx does, shortens a ``~``-prefixed target to its last component.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:attr|class|data|exc|func|meth|mod|obj):<code>(~?)([^<]*)</code>")


def _code(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    if tilde:
        target = target.rsplit(".", 1)[-1]
    return f"<code>{target}</code>"


def on_page_content(html: str, **kwargs: Any) -> str:
    """Rewrite ``:role:<code>target</code>`` into ``<code>target</code>``."""
    return _ROLE.sub(_code, html)
