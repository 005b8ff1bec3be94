"""The policy skill: questions answered from the documents, HR escalations and the FAQs they become."""
