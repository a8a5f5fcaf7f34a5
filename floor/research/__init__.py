"""What the researcher reads from the outside world: web search results and fetched pages.

Everything that comes back is data quoted from the web, never an instruction: results are
size-capped and fetched text is delimited as untrusted content.
"""
