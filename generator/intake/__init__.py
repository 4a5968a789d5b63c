"""READ: the intake workbook, opened safely and validated into Scenarios."""
