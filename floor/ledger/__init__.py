"""The books: accounts, trades through the ledger, and the risk limits checked with each trade."""
