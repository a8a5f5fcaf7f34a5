"""Run one MCP server on stdio: ``python -m servers accounts|market|push|memory|research --trader NAME``."""

from servers.launch import main

main()
