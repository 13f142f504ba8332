"""What both sides of the trust boundary run: the typed messages, the socket wire and the CUDA hand-over.

Shared rather than inside grader/jail/: the judge imports it too, and it is the contract between them, not
code of either side. The jail mounts it (read-only), so nothing here may import the judge.
"""
