"""Thin CLI wrappers: argument parsing and logging around the package's functions."""
