"""Exchange formats: CSV with row-level errors, FHIR R4B."""
