"""What runs inside the jail, next to the solution: the worker, the model runner, its timing loop and the builder.

A sandbox mounts this package, grader/protocol/ and the two leaf modules they import (grader/__init__.py,
grader/errors.py), nothing else of the grader. Nothing here decides a verdict: it only hands data back.
"""
