"""The traders' minds: prompts, the model each trader runs on, and the offline strategy rules."""
