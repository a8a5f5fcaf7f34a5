"""The Plotly Dash dashboard: reads the floor through ``floor`` query functions and never writes.

``app`` builds and serves it, ``layout`` is the page, ``callbacks`` refresh the portfolio panels
and poll the logs, ``panels`` draws tables and charts, ``log_feed`` tracks which lines were shown.
"""
