"""Experiments built on training: one run with evaluation, and the essay's table."""

from .paper import PAPER_ACCURACY, PAPER_STEPS, PaperRow, PaperStep, format_paper_table, run_paper
from .runner import DataSplits, ExperimentResult, NetworkSpec, prepare_data, run_experiment

__all__ = [
    "PAPER_ACCURACY",
    "PAPER_STEPS",
    "DataSplits",
    "ExperimentResult",
    "NetworkSpec",
    "PaperRow",
    "PaperStep",
    "format_paper_table",
    "prepare_data",
    "run_experiment",
    "run_paper",
]
