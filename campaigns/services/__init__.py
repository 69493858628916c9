"""Services own every side effect: database writes, ITNIO calls, enqueueing tasks."""
