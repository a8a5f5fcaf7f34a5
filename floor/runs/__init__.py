"""What ran: cycles and turns, the processes that own them, and the activity log."""
