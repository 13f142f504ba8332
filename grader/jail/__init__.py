"""What runs inside the jail, next to the solution: the worker, the model runner, its timing loop and the builder.

A sandbox mounts MOUNTED and nothing else of the grader: this package, grader/protocol/ (the contract both
sides run) and the two leaf modules they import. Nothing here decides a verdict: it only hands data back.
Nothing here imports the judge (tests/test_architecture.py checks), so what the jail can read is all it runs.
"""

# Dotted names as sandbox.WorkerSpec.packages takes them; a package's parents' __init__.py come along.
MOUNTED = ["grader.jail", "grader.protocol", "grader.errors", "grader.models"]
