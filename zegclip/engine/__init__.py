"""Training and evaluation: the recipe, the settings of Table 2, checkpoints and results."""
