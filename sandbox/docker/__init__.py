"""The Docker provider: each worker in a throwaway container (grader --sandbox docker)."""

from .backend import DockerSandbox

__all__ = ["DockerSandbox"]
