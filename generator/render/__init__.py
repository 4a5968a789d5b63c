"""RENDER: the Plan as documents, one writer per format."""
