"""The version of anyarray_nn (one home; the package and the command line read it here)."""

__version__ = "0.1.0"
