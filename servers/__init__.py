"""MCP servers (FastMCP). Each tool is a thin adapter over one ``floor`` function, and every server
is bound to one trader when it starts, whatever the transport."""
