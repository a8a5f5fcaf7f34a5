"""The traders' minds: prompts, the model each trader runs on, and the offline strategy rules."""

import os

# litellm reads this when it is first imported: without it, it fetches its price map from the internet.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
