"""Leave: configuration of leave types, date parsing, working days, the ledger, requests and their jobs."""
