"""The clinic app (Django): check-ins every session, caseloads and charts, supervisors, admin, API."""
