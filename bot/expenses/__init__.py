"""Expenses: claims from text and receipts, the policy audit, approvals and export."""
