"""Naming what is wrong with a failing port: the catalogue of known bugs run as variants of the
reference (variants), localisation of the error pattern (localise) and the diagnoser that
judges each output and the whole run (diagnoser). Data path, step 5."""

from .diagnoser import Diagnoser, make_diagnoser

__all__ = ["Diagnoser", "make_diagnoser"]
