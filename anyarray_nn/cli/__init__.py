"""The ``anyarray-nn`` command line: one ``main``, one error policy, one file per command."""

from .main import main

__all__ = ["main"]
