"""The Plotly Dash dashboard: reads the floor through ``floor`` query functions and never writes.

The app itself is tracked in its own issue; this package is where it lives.
"""
