"""Practice analytics in the clinic: the data-contract tables, the research export, the analytics page and its PDF."""
