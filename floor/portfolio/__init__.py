"""What the books are worth: the one read model, valuations, value history, metrics and reports."""
