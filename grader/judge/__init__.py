"""The judge: trusted code that starts jailed workers, reads back their raw outputs and decides the verdict."""
