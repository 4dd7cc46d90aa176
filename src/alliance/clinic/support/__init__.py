"""The clinical support tool: repair suggestions and a follow-up questionnaire for clients who need attention."""
