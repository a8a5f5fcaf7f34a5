"""Run one MCP server on stdio: ``python -m servers accounts|market --trader NAME``."""

from servers.launch import main

main()
