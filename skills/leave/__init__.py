"""The leave skill: the conversation (`skill`), leave types and rules, date parsing, working days, the ledger,
requests, App Home and their jobs."""
