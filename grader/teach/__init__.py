"""Teaching tools: the prompt for a model and the starter template of a solution."""
