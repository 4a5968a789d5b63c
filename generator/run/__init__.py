"""RUN: one workbook to its documents, and the batch, the watcher and their bookkeeping."""
