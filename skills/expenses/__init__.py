"""The expense skill: the conversation (`skill`), claims from text and receipts, the policy audit, approvals and
export."""
